"""Crash safety with real processes: SIGKILL the server mid-step, restart, finish."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from onward.config import Settings
from onward.domain.runs import AttemptStatus, RunStatus
from onward.runtime import Runtime
from onward.storage import open_store
from processes import free_port

pytestmark = pytest.mark.slow

STEPS = 6
FAST_RECOVERY = {
    "ONWARD_HEARTBEAT_INTERVAL": "0.2",
    "ONWARD_HEARTBEAT_TIMEOUT": "1.5",
    "ONWARD_POLL_INTERVAL": "0.1",
    "ONWARD_SHUTDOWN_GRACE": "1",
}


def plan_text(journal: Path, on_interrupt: str) -> str:
    """Return a plan whose steps each append their name to ``journal``, then linger."""
    steps = "\n".join(
        f"      - {{name: s{i}, action: shell, on_interrupt: {on_interrupt}, "
        f"with: {{command: 'echo s{i} >> {journal} && sleep 0.4'}}}}"
        for i in range(STEPS)
    )
    return (
        f"name: crashy\ngroups:\n  - name: g\n    targets: [t1]\n    steps:\n{steps}\n"
    )


class Server:
    """An `onward serve` subprocess on a given database."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server process."""
        env = {**os.environ, **FAST_RECOVERY, "ONWARD_DATABASE_URL": self.url}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "onward", "serve", "--port", str(free_port())],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL the server: no clean-up of any kind."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server gracefully if it runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """Return a (not yet started) server on a fresh SQLite file."""
    server = Server(f"sqlite:///{tmp_path / 'onward.db'}", tmp_path / "server.log")
    yield server
    server.stop()


async def start_run(url: str, text: str) -> str:
    """Apply the plan and start a run of it through the library, on that database."""
    runtime = Runtime.open(Settings(database_url=url), executes=False)
    try:
        await runtime.commands.apply_plan(text)
        return (await runtime.commands.start_run("crashy")).run_id
    finally:
        await runtime.close()


async def continue_run(url: str, run_id: str) -> None:
    """Continue a halted run with retry-step through the library."""
    runtime = Runtime.open(Settings(database_url=url), executes=False)
    try:
        await runtime.commands.continue_run(run_id, "retry-step")
    finally:
        await runtime.close()


def wait_until(predicate: object, what: str, timeout: float = 60) -> None:
    """Poll ``predicate`` until it is true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def run_status(url: str, run_id: str) -> RunStatus:
    """Read the run's status from the database."""

    async def read() -> RunStatus:
        store = open_store(url, migrate=False)
        try:
            return (await store.get_run(run_id)).status
        finally:
            await store.close()

    return asyncio.run(read())


def succeeded_steps(url: str, run_id: str) -> list[int]:
    """Return the step index of every succeeded attempt in the database."""

    async def read() -> list[int]:
        store = open_store(url, migrate=False)
        try:
            attempts = await store.list_attempts(run_id)
        finally:
            await store.close()
        return [a.step for a in attempts if a.status is AttemptStatus.SUCCEEDED]

    return asyncio.run(read())


def journal_lines(journal: Path) -> list[str]:
    """Return the lines the steps appended."""
    return journal.read_text().split() if journal.exists() else []


@pytest.mark.parametrize("on_interrupt", ["retry", "halt"])
def test_a_killed_server_loses_nothing_and_reruns_no_succeeded_step(
    server: Server,
    tmp_path: Path,
    on_interrupt: str,
) -> None:
    """After SIGKILL mid-step and a restart, the run ends; done steps never rerun."""
    journal = tmp_path / "journal.txt"
    run_id = asyncio.run(start_run(server.url, plan_text(journal, on_interrupt)))
    server.start()
    wait_until(lambda: len(journal_lines(journal)) >= 3, "the third step to start")

    server.kill()
    done_before_kill = succeeded_steps(server.url, run_id)
    interrupted = f"s{len(journal_lines(journal)) - 1}"
    server.start()
    if on_interrupt == "halt":
        wait_until(
            lambda: run_status(server.url, run_id) is RunStatus.HALTED, "the halt"
        )
        asyncio.run(continue_run(server.url, run_id))
    wait_until(
        lambda: run_status(server.url, run_id) is RunStatus.SUCCEEDED,
        "the run to succeed",
    )

    lines = Counter(journal_lines(journal))
    assert done_before_kill
    assert sorted(succeeded_steps(server.url, run_id)) == list(range(STEPS))
    assert {f"s{i}" for i in range(STEPS)} == set(lines)
    for step in done_before_kill:
        assert lines[f"s{step}"] == 1
    assert lines[interrupted] == 2
    assert all(count == 1 for name, count in lines.items() if name != interrupted)
