"""
`onward serve` with `https_listeners`: Enterprise Manager clients on HTTPS, own port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from processes import free_port, self_signed

ADMIN = "admin"
PASSWORD = "correct horse battery"  # noqa: S105 - a test account
NS = "{http://www.veeam.com/ent/v1.0}"
START_TIMEOUT = 30.0


def server_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Return the server's environment: a fresh database, an admin, ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_ADMIN_USERNAME=ADMIN,
        ONWARD_ADMIN_PASSWORD=PASSWORD,
        ONWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'onward.db'}",
        ONWARD_SHUTDOWN_GRACE="2",
        TMPDIR=str(tmp_path),
    )
    env.update({f"ONWARD_{name.upper()}": value for name, value in settings.items()})
    return env


def listener_env(
    tmp_path: Path, em_port: int, certificate: tuple[Path, Path]
) -> dict[str, str]:
    """Return the environment of a server with the vendor listener on ``em_port``."""
    cert, key = certificate
    listener = {"port": em_port, "certfile": str(cert), "keyfile": str(key)}
    return server_env(tmp_path, https_listeners=json.dumps([listener]))


def spawn(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start `onward serve ARGS`, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "onward", "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )


def wait_healthy(
    process: subprocess.Popen[str], url: str, verify: ssl.SSLContext | bool
) -> None:
    """Poll ``url``/healthz until it answers; fail if the server exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"the server exited {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{url}/healthz", verify=verify).is_success:
                return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM the server; return its exit status and output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return process.returncode, output


def stop_when_exited(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a server that is expected to exit by itself; kill it if it does not."""
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=30)
        pytest.fail(f"the server did not exit:\n{output}")
    return process.returncode, output


def em_logon(base: str, trusted: ssl.SSLContext) -> httpx.Response:
    """Log on to Enterprise Manager at ``base`` with the admin's Basic credentials."""
    return httpx.post(
        f"{base}/api/sessionMngr/?v=latest", auth=(ADMIN, PASSWORD), verify=trusted
    )


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """Return a self-signed certificate and key for localhost."""
    return self_signed(tmp_path, name="em")


@pytest.fixture
def em_server(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    """Yield a plain-HTTP server with the vendor listener on HTTPS, and both ports."""
    port, em_port = free_port(), free_port()
    env = listener_env(tmp_path, em_port, certificate)
    process = spawn(tmp_path, env, "--port", str(port))
    try:
        wait_healthy(process, f"http://127.0.0.1:{port}", verify=True)
        yield process, port, em_port
    finally:
        stop(process)


def test_enterprise_manager_clients_log_on_over_https_on_the_vendor_port(
    em_server: tuple[subprocess.Popen[str], int, int], certificate: tuple[Path, Path]
) -> None:
    """The vendor port speaks TLS; the session works there and its links name it."""
    process, port, em_port = em_server
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    base = f"https://localhost:{em_port}"

    logon = em_logon(base, trusted)
    jobs = httpx.get(
        f"{base}/api/jobs?format=Entity",
        headers={"X-RestSvcSessionId": logon.headers["x-restsvcsessionid"]},
        verify=trusted,
    )
    main = httpx.get(f"http://127.0.0.1:{port}/api/")
    status, output = stop(process)

    assert logon.status_code == 201
    assert logon.headers["location"].startswith(f"{base}/api/logonSessions/")
    assert "Secure" in logon.headers["set-cookie"]
    session = ET.fromstring(logon.content)  # noqa: S314 - our own answer
    assert session.attrib["Href"] == logon.headers["location"]
    assert jobs.status_code == 200
    assert ET.fromstring(jobs.content).tag == f"{NS}Jobs"  # noqa: S314
    assert main.status_code == 200
    assert f'Href="http://127.0.0.1:{port}/api/sessionMngr/' in main.text
    assert status == 0, output
    assert f"https://127.0.0.1:{em_port}" in output
    assert "Traceback" not in output


def test_the_vendor_port_refuses_plain_http(
    em_server: tuple[subprocess.Popen[str], int, int],
) -> None:
    """A plain-HTTP client on the vendor port gets no answer from the API."""
    _, _, em_port = em_server

    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{em_port}/api/", timeout=10)


def test_the_listener_takes_the_servers_certificate_when_it_has_none_of_its_own(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    """With only --certfile/--keyfile, the main and the vendor port are both HTTPS."""
    cert, key = certificate
    port, em_port = free_port(), free_port()
    env = server_env(tmp_path, https_listeners=json.dumps([{"port": em_port}]))
    process = spawn(
        tmp_path,
        env,
        "--port",
        str(port),
        "--certfile",
        str(cert),
        "--keyfile",
        str(key),
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        wait_healthy(process, f"https://localhost:{port}", verify=trusted)
        logon = em_logon(f"https://localhost:{em_port}", trusted)
    finally:
        status, output = stop(process)

    assert logon.status_code == 201
    assert status == 0, output


def test_a_vendor_port_without_a_certificate_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    """Enterprise Manager clients speak HTTPS only: no certificate, no server."""
    env = server_env(tmp_path, https_listeners=json.dumps([{"port": free_port()}]))

    result = subprocess.run(
        [sys.executable, "-m", "onward", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "invalid configuration" in result.stderr
    assert "https_listeners[0]: a listener serves HTTPS only" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_taken_vendor_port_stops_the_server_before_it_starts(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    """The vendor port is bound first: taken, nothing starts, and it says why."""
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        em_port = taken.getsockname()[1]
        env = listener_env(tmp_path, em_port, certificate)
        process = spawn(tmp_path, env, "--port", str(port))
        status, output = stop_when_exited(process)

    assert status == 1
    assert "address already in use" in output.lower()
    assert "the server could not start" in output
    assert "Application startup complete" not in output
    assert "Traceback" not in output


def test_an_unreadable_certificate_is_a_clear_error(tmp_path: Path) -> None:
    """A certificate file that is not PEM stops the server with a one-line reason."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    env = listener_env(tmp_path, free_port(), (cert, key))

    process = spawn(tmp_path, env, "--port", str(free_port()))
    status, output = stop_when_exited(process)

    assert status == 1
    assert "cannot serve HTTPS on" in output
    assert "Traceback" not in output
