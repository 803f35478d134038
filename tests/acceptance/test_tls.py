"""
HTTPS: `onward serve --certfile --keyfile` with a self-signed certificate.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from onward.client import OnwardClient
from processes import free_port, self_signed

ADMIN = "admin"
PASSWORD = "correct horse battery"  # noqa: S105 - a test account


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Return the environment of the server and the CLI."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_ADMIN_USERNAME=ADMIN,
        ONWARD_ADMIN_PASSWORD=PASSWORD,
        ONWARD_CONFIG_DIR=str(tmp_path / "config"),
        ONWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'onward.db'}",
        TMPDIR=str(tmp_path),
    )
    return env


@pytest.fixture
def https(tmp_path: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """Yield the URL of an HTTPS `onward serve` and its certificate."""
    cert, key = self_signed(tmp_path)
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "onward",
                "serve",
                "--port",
                str(port),
                "--certfile",
                str(cert),
                "--keyfile",
                str(key),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(
                    f"{url}/healthz", verify=ssl.create_default_context(cafile=cert)
                ).is_success:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield url, cert
    finally:
        process.terminate()
        process.wait(timeout=30)


def cli(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `onward ARGS` against the server (no database)."""
    client_env = {k: v for k, v in env.items() if k != "ONWARD_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "onward", *args],
        env=client_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_logs_in_over_https_with_the_ca_certificate(
    https: tuple[str, Path], env: dict[str, str]
) -> None:
    """login --ca-cert trusts the self-signed server; run list then works."""
    url, cert = https
    untrusted = cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin=PASSWORD,
    )
    login = cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        "--ca-cert",
        str(cert),
        stdin=PASSWORD,
    )
    listed = cli(env, "run", "list")

    assert untrusted.returncode == 5
    assert login.returncode == 0, login.stderr
    assert listed.returncode == 0, listed.stderr


def test_the_client_talks_https_with_verify(https: tuple[str, Path]) -> None:
    """The Python client signs in over HTTPS trusting the certificate's file."""
    url, cert = https

    async def me() -> str:
        async with OnwardClient(url, verify=str(cert)) as client:
            await client.login(ADMIN, PASSWORD)
            return (await client.me()).username

    assert asyncio.run(me()) == ADMIN
