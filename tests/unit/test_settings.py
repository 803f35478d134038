"""Settings: the rules that tie settings together, refused naming the setting.

And the further HTTPS listeners ``onward serve`` makes of them, and the bounds of
the request body limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from fastapi import FastAPI

from onward.cli import listeners
from onward.config import HttpsListener, Settings


def settings(**given: Any) -> Settings:
    """Return settings from ``given`` alone (no environment, no file)."""
    return Settings(**given)


def test_a_listener_takes_its_own_certificate_first() -> None:
    """A listener's certfile/keyfile win over the server's certfile/keyfile."""
    found = settings(
        certfile="main.pem",
        keyfile="main.key",
        https_listeners=[{"port": 9398, "certfile": "em.pem", "keyfile": "em.key"}],
    )

    assert found.listener_tls(found.https_listeners[0]) == ("em.pem", "em.key")


def test_a_listener_falls_back_on_the_servers_certificate() -> None:
    """Without a certificate of its own, a listener uses the server's."""
    found = settings(
        certfile="main.pem", keyfile="main.key", https_listeners=[{"port": 9398}]
    )

    assert found.listener_tls(found.https_listeners[0]) == ("main.pem", "main.key")


def test_listeners_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ONWARD_HTTPS_LISTENERS holds a JSON list of listeners."""
    listeners = [
        {"port": 9398, "certfile": "em.pem", "keyfile": "em.key"},
        {"port": 9443, "host": "10.0.0.1", "certfile": "b.pem", "keyfile": "b.key"},
    ]
    monkeypatch.setenv("ONWARD_HTTPS_LISTENERS", json.dumps(listeners))

    found = Settings()

    assert found.https_listeners == [HttpsListener(**item) for item in listeners]


def test_listeners_come_from_the_config_file_as_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ONWARD_CONFIG_FILE names a TOML file with [[https_listeners]] tables."""
    config = tmp_path / "onward.toml"
    config.write_text(
        'certfile = "main.pem"\nkeyfile = "main.key"\n\n'
        "[[https_listeners]]\nport = 9398\n\n"
        '[[https_listeners]]\nport = 9443\nhost = "10.0.0.1"\n'
    )
    monkeypatch.setenv("ONWARD_CONFIG_FILE", str(config))

    found = Settings()

    assert found.https_listeners == [
        HttpsListener(port=9398),
        HttpsListener(port=9443, host="10.0.0.1"),
    ]


@pytest.mark.parametrize(
    ("given", "named"),
    [
        pytest.param(
            {"https_listeners": [{"port": 9398}]},
            "https_listeners[0]: a listener serves HTTPS only",
            id="no-certificate",
        ),
        pytest.param(
            {"https_listeners": [{"port": 9398, "certfile": "em.pem"}]},
            "needs both certfile and keyfile",
            id="half-a-pair",
        ),
        pytest.param(
            {
                "https_listeners": [{"port": 8400}],
                "certfile": "c.pem",
                "keyfile": "k.pem",
            },
            "https_listeners[0]: port 8400 on 127.0.0.1 is taken already",
            id="the-servers-port",
        ),
        pytest.param(
            {
                "https_listeners": [{"port": 9398}, {"port": 9398}],
                "certfile": "c.pem",
                "keyfile": "k.pem",
            },
            "https_listeners[1]: port 9398 on 127.0.0.1 is taken already",
            id="twice-the-same-port",
        ),
        pytest.param({"https_listeners": [{"port": 0}]}, "port", id="port-zero"),
        pytest.param({"https_listeners": [{"port": 70000}]}, "port", id="port-too-big"),
        pytest.param({"https_listeners": [{}]}, "port", id="no-port"),
        pytest.param(
            {"https_listeners": [{"port": 9398, "tls": True}]}, "tls", id="unknown-key"
        ),
    ],
)
def test_an_impossible_listener_is_refused_naming_the_setting(
    given: dict[str, Any], named: str
) -> None:
    """Each impossible combination is a validation error that names the setting."""
    with pytest.raises(pydantic.ValidationError) as raised:
        settings(**given)

    assert "https_listeners" in str(raised.value)
    assert named in str(raised.value)


def test_a_listener_may_share_the_port_on_another_address() -> None:
    """The same port number on another address is no conflict."""
    found = settings(
        certfile="c.pem",
        keyfile="k.pem",
        https_listeners=[{"port": 8400, "host": "10.0.0.1"}],
    )

    assert found.https_listeners[0].port == 8400


def test_serve_configures_each_listener_in_order_over_the_same_app() -> None:
    """One HTTPS server a listener, on its address, with its certificate."""
    app = FastAPI()
    found = settings(
        host="0.0.0.0",  # noqa: S104 - the address is only compared
        certfile="main.pem",
        keyfile="main.key",
        https_listeners=[
            {"port": 9398, "certfile": "em.pem", "keyfile": "em.key"},
            {"port": 9443, "host": "10.0.0.1"},
        ],
    )

    configs = listeners.configured(app, found, timeout_graceful_shutdown=3)

    assert [
        (c.app, c.host, c.port, c.ssl_certfile, c.ssl_keyfile, c.lifespan)
        for c in configs
    ] == [
        (app, "0.0.0.0", 9398, "em.pem", "em.key", "off"),  # noqa: S104
        (app, "10.0.0.1", 9443, "main.pem", "main.key", "off"),
    ]
    assert {c.timeout_graceful_shutdown for c in configs} == {3}


def test_the_request_body_limit_is_16_mib_by_default() -> None:
    """Without a setting, request bodies may be up to 16 MiB."""
    assert settings().max_request_body == 16 * 1024 * 1024


def test_the_request_body_limit_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ONWARD_MAX_REQUEST_BODY sets the limit, in bytes."""
    monkeypatch.setenv("ONWARD_MAX_REQUEST_BODY", "1048576")

    assert Settings().max_request_body == 1048576


def test_the_request_body_limit_may_be_as_low_as_1024_bytes() -> None:
    """1,024 bytes is the smallest limit."""
    assert settings(max_request_body=1024).max_request_body == 1024


@pytest.mark.parametrize("limit", [1023, 0, -1, "lots"])
def test_a_smaller_or_odd_request_body_limit_is_refused_naming_the_setting(
    limit: object,
) -> None:
    """A limit below 1,024 bytes, or not a number, is refused."""
    with pytest.raises(pydantic.ValidationError) as raised:
        settings(max_request_body=limit)

    assert "max_request_body" in str(raised.value)
