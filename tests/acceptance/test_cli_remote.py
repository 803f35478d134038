"""
The CLI over the API: a real `onward serve`, `onward login`, plans and runs over HTTP.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ADMIN = "admin"
PASSWORD = "correct horse battery"  # noqa: S105 - a test account
START_TIMEOUT = 30.0
HALTING_PLAN = """\
name: halting
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: greet, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != b"}}
"""


def free_port() -> int:
    """Return a TCP port nobody listens on (for now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(tmp_path: Path) -> dict[str, str]:
    """Return an environment with an admin to create and a private config dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_HEARTBEAT_INTERVAL="0.2",
        ONWARD_POLL_INTERVAL="0.2",
        ONWARD_ADMIN_USERNAME=ADMIN,
        ONWARD_ADMIN_PASSWORD=PASSWORD,
        ONWARD_CONFIG_DIR=str(tmp_path / "config"),
        ONWARD_DATABASE_URL=f"sqlite:///{tmp_path / 'onward.db'}",
        TMPDIR=str(tmp_path),
    )
    return env


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, **tls: str) -> None:
    """Poll /healthz until the server answers; fail if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz", verify=tls.get("verify", True)).is_success:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the server did not start")


def start_server(
    tmp_path: Path, env: dict[str, str], *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start `onward serve` on a free port; stop it afterwards."""
    port = free_port()
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "onward", "serve", "--port", str(port), *extra],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process, port
    finally:
        process.terminate()
        process.wait(timeout=30)


def cli(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `onward ARGS` (no --db: the CLI goes through the server)."""
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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Return the environment of the server and the CLI."""
    return server_env(tmp_path)


@pytest.fixture
def url(tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """Yield the URL of a running `onward serve`."""
    for process, port in start_server(tmp_path, env):
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(process, base)
        yield base


def test_login_saves_a_private_token_and_commands_go_over_the_api(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """Login writes a 0600 file; plan apply and run start --wait use the API."""
    plan_file = tmp_path / "halting.yaml"
    plan_file.write_text(HALTING_PLAN)
    login = cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    saved = tmp_path / "config" / "credentials.json"
    applied = cli(env, "plan", "apply", "-f", str(plan_file))
    started = cli(env, "run", "start", "halting", "--wait")
    run_id = started.stdout.split()[2].rstrip(":")
    went_on = cli(env, "run", "continue", run_id, "--option", "proceed-step", "--wait")
    listed = cli(env, "run", "list")
    logout = cli(env, "logout")
    after = cli(env, "run", "list")

    assert login.returncode == 0, login.stderr
    assert applied.stdout.strip() == "halting version 1 applied"
    assert started.returncode == 10, started.stdout + started.stderr
    assert went_on.returncode == 0, went_on.stdout + went_on.stderr
    assert run_id in listed.stdout
    assert logout.returncode == 0
    assert not saved.exists()
    assert after.returncode == 2
    assert "onward login" in after.stderr


def test_the_credentials_file_is_private(
    url: str, env: dict[str, str], tmp_path: Path
) -> None:
    """The saved credentials are mode 0600 in a 0700 directory."""
    cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin=PASSWORD,
    )
    saved = tmp_path / "config" / "credentials.json"

    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    assert '"token": "onw_' in saved.read_text()


def test_exit_codes_over_the_api(url: str, env: dict[str, str], tmp_path: Path) -> None:
    """Not found exits 3 and an impossible command (conflict) exits 4."""
    plan_file = tmp_path / "halting.yaml"
    plan_file.write_text(HALTING_PLAN.replace("!= b", "!= z"))
    cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin=PASSWORD,
    )
    cli(env, "plan", "apply", "-f", str(plan_file))
    started = cli(env, "run", "start", "halting", "--wait")
    run_id = started.stdout.split()[2].rstrip(":")
    missing = cli(env, "run", "show", "run_missing")
    conflict = cli(env, "run", "continue", run_id, "--option", "retry-step")
    wrong = cli(
        env,
        "login",
        "--url",
        url,
        "--username",
        ADMIN,
        "--password-stdin",
        stdin="wrong password",
    )

    assert started.returncode == 0, started.stdout + started.stderr
    assert missing.returncode == 3, missing.stderr
    assert conflict.returncode == 4, conflict.stderr
    assert wrong.returncode == 1
