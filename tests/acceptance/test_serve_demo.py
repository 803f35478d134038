"""
The demo tour, end to end: `onward serve --demo` as a real process, driven by the CLI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from processes import free_port

#: bounds of every wait, in seconds
STARTUP_TIMEOUT = 30
HALT_TIMEOUT = 60
RUN_TIMEOUT = 120
STOP_TIMEOUT = 30


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Return an environment with fast heartbeats and sweeps, and no stray settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_HEARTBEAT_INTERVAL="0.2",
        ONWARD_POLL_INTERVAL="0.2",
        TMPDIR=str(tmp_path),
    )
    return env


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'onward.db'}"


class Server:
    """A running `onward serve --demo` process and where its output goes."""

    def __init__(self, process: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.process = process
        self.out = out
        self.err = err

    def output(self) -> str:
        """Return what the server printed so far, stdout then stderr."""
        return self.out.read_text() + self.err.read_text()


@pytest.fixture
def server(tmp_path: Path, env: dict[str, str], db_url: str) -> Iterator[Server]:
    """Start `onward serve --demo` on a free port; kill it if a test leaves it up."""
    port = free_port()
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    command = [sys.executable, "-m", "onward", "--db", db_url, "serve", "--demo"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=stdout, stderr=stderr, env=env
        )
    server = Server(process, out, err)
    try:
        wait_until_healthy(server, f"http://127.0.0.1:{port}/healthz")
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def wait_until_healthy(server: Server, url: str) -> None:
    """Poll the health endpoint until it answers ok (bounded)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited early:\n{server.output()}")
        try:
            if httpx.get(url, timeout=1).json() == {"status": "ok"}:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not become healthy:\n{server.output()}")


def onward(
    env: dict[str, str], db_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI against the database and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "onward", "--db", db_url, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def run_json(env: dict[str, str], db_url: str, run_id: str) -> dict[str, Any]:
    """Return `run show --json` of a run."""
    shown = onward(env, db_url, "run", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def wait_for_status(
    env: dict[str, str], db_url: str, run_id: str, status: str
) -> dict[str, Any]:
    """Poll the run until it has ``status`` (bounded) and return it."""
    deadline = time.monotonic() + HALT_TIMEOUT
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = run_json(env, db_url, run_id)
        if data["status"] == status:
            return data
        time.sleep(0.5)
    pytest.fail(f"run {run_id} did not become {status}: {data.get('status')}")


@pytest.mark.slow
def test_the_demo_halts_is_retried_to_success_and_the_server_stops_cleanly(
    server: Server, env: dict[str, str], db_url: str
) -> None:
    """The demo halts on db2, retry-step --wait makes it succeed, SIGTERM exits 0."""
    match = re.search(r"run continue (run_\w+) --option retry-step", server.output())
    assert match is not None, server.output()
    run_id = match.group(1)

    halted = wait_for_status(env, db_url, run_id, "halted")
    went_on = onward(
        env, db_url, "run", "continue", run_id, "--option", "retry-step", "--wait"
    )
    finished = run_json(env, db_url, run_id)
    server.process.send_signal(signal.SIGTERM)
    exit_code = server.process.wait(timeout=STOP_TIMEOUT)

    assert [(h["target"], h["step"]) for h in halted["halts"]] == [
        ("db2", "check replication")
    ]
    assert went_on.returncode == 0, went_on.stdout + went_on.stderr
    assert finished["status"] == "succeeded"
    assert finished["warnings"] == 1
    assert exit_code == 0, server.output()
    assert "Traceback" not in server.output()
