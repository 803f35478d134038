"""Settings: the rules that tie settings together, refused naming the setting."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from onward.config import Settings


def settings(**given: Any) -> Settings:
    """Return settings from ``given`` alone (no environment, no file)."""
    return Settings(**given)


def test_the_vendor_listener_takes_its_own_certificate_first() -> None:
    """veeam_em_certfile/keyfile win over the server's certfile/keyfile."""
    found = settings(
        certfile="main.pem",
        keyfile="main.key",
        veeam_em_port=9398,
        veeam_em_certfile="em.pem",
        veeam_em_keyfile="em.key",
    )

    assert found.veeam_em_tls == ("em.pem", "em.key")


def test_the_vendor_listener_falls_back_on_the_servers_certificate() -> None:
    """Without a certificate of its own, the listener uses the server's."""
    found = settings(certfile="main.pem", keyfile="main.key", veeam_em_port=9398)

    assert found.veeam_em_tls == ("main.pem", "main.key")


@pytest.mark.parametrize(
    ("given", "named"),
    [
        pytest.param({"veeam_em_port": 9398}, "veeam_em_port", id="no-certificate"),
        pytest.param(
            {"veeam_em_port": 9398, "veeam_em_certfile": "em.pem"},
            "veeam_em_keyfile",
            id="half-a-pair",
        ),
        pytest.param(
            {"veeam_em_port": 8400, "certfile": "c.pem", "keyfile": "k.pem"},
            "veeam_em_port",
            id="the-servers-port",
        ),
        pytest.param({"veeam_em_port": 0}, "veeam_em_port", id="port-zero"),
        pytest.param({"veeam_em_port": 70000}, "veeam_em_port", id="port-too-big"),
    ],
)
def test_an_impossible_vendor_listener_is_refused_naming_the_setting(
    given: dict[str, Any], named: str
) -> None:
    """Each impossible combination is a validation error that names the setting."""
    with pytest.raises(pydantic.ValidationError) as raised:
        settings(**given)

    assert named in str(raised.value)


def test_the_vendor_listener_may_share_the_port_on_another_address() -> None:
    """The same port number on another address is no conflict."""
    found = settings(
        certfile="c.pem",
        keyfile="k.pem",
        veeam_em_port=8400,
        veeam_em_host="10.0.0.1",
    )

    assert found.veeam_em_port == 8400
