"""The worker's asyncio side: compare-and-set claims, hand-back on shutdown, kills."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from onward.actions.catalog import ActionCatalog
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.runs import Attempt, AttemptStatus, RunStatus
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore
from onward.worker.worker import Worker

NOOP_PLAN = (
    "name: quick\ngroups: [{name: g, targets: [t], steps: [{name: s, action: noop}]}]\n"
)
ECHO_PLAN = (
    "name: echo\ngroups: [{name: g, targets: [t], steps: "
    "[{name: s, action: shell, with: {command: 'echo hello'}}]}]\n"
)
SLOW_PLAN = (
    "name: slow\ngroups: [{name: g, targets: [t], steps: "
    "[{name: s, action: sleep, with: {seconds: 3600}}]}]\n"
)


@dataclass
class Setup:
    """A runtime that queues attempts (and sends none) and a worker on its engine."""

    runtime: Runtime
    worker: Worker

    async def queued(self, plan: str, name: str) -> Attempt:
        """Apply a plan, start a run of it and return its queued attempt."""
        await self.runtime.commands.apply_plan(plan)
        run = await self.runtime.commands.start_run(name)
        (attempt,) = await self.runtime.store.list_attempts(run.run_id)
        return attempt

    async def attempts(self, run_id: str) -> list[Attempt]:
        """Return the run's attempts."""
        return await self.runtime.store.list_attempts(run_id)

    async def until_running(self) -> None:
        """Yield to the loop until the worker runs an attempt (bounded)."""
        for _ in range(1000):
            if self.worker.running():
                return
            await asyncio.sleep(0)
        pytest.fail("the worker never ran the attempt")


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    """Yield a runtime on a memory store and a started worker on its engine."""
    runtime = Runtime.open(
        Settings(), executes=False, store=MemoryStore(), clock=FrozenClock()
    )
    worker = Worker(
        engine=runtime.engine,
        catalog=ActionCatalog(),
        worker_id="wrk_test",
        name="test",
    )
    await worker.start()
    yield Setup(runtime=runtime, worker=worker)
    await worker.close()
    await runtime.close()


async def test_a_second_message_for_a_finished_attempt_does_nothing(
    setup: Setup,
) -> None:
    """The duplicate's claim finds the attempt no longer queued: one execution."""
    attempt = await setup.queued(NOOP_PLAN, "quick")

    first = await setup.worker.handle(attempt.run_id, attempt.attempt_id)
    with capture_logs() as logs:
        second = await setup.worker.handle(attempt.run_id, attempt.attempt_id)

    attempts = await setup.attempts(attempt.run_id)
    assert (first, second) == (True, True)
    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED]
    assert [entry["event"] for entry in logs] == ["attempt.not_claimed"]


async def test_a_steps_log_is_stored_before_its_end_is_reported(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever sees the attempt end can read what it printed: the log goes first."""
    attempt = await setup.queued(ECHO_PLAN, "echo")
    store = setup.runtime.store
    writes: list[str] = []
    append_logs, commit_run = store.append_logs, store.commit_run

    async def logged(entries: Any) -> None:
        writes.append("log")
        await append_logs(entries)

    async def committed(commit: Any) -> None:
        ended = any(a.finished_at is not None for a in commit.attempts.values())
        writes.append("end" if ended else "commit")
        await commit_run(commit)

    monkeypatch.setattr(store, "append_logs", logged)
    monkeypatch.setattr(store, "commit_run", committed)

    handled = await setup.worker.handle(attempt.run_id, attempt.attempt_id)

    (ended,) = await setup.attempts(attempt.run_id)
    assert handled is True
    assert ended.status is AttemptStatus.SUCCEEDED
    assert "log" in writes
    assert writes.index("log") < writes.index("end")


async def test_a_message_for_an_attempt_running_here_does_nothing(
    setup: Setup,
) -> None:
    """A duplicate delivered while the attempt runs here is dropped at once."""
    attempt = await setup.queued(SLOW_PLAN, "slow")
    running = asyncio.create_task(
        setup.worker.handle(attempt.run_id, attempt.attempt_id)
    )
    await setup.until_running()

    with capture_logs() as logs:
        duplicate = await setup.worker.handle(attempt.run_id, attempt.attempt_id)
    setup.worker.hand_back()
    await running

    assert duplicate is True
    assert [entry["event"] for entry in logs] == ["attempt.duplicate_message"]


async def test_a_shutdown_hands_running_attempts_back_as_interrupted(
    setup: Setup,
) -> None:
    """After the grace, a running attempt is reported interrupted; the run halts."""
    attempt = await setup.queued(SLOW_PLAN, "slow")
    running = asyncio.create_task(
        setup.worker.handle(attempt.run_id, attempt.attempt_id)
    )
    await setup.until_running()

    await setup.worker.shut_down(timedelta(0))

    (after,) = await setup.attempts(attempt.run_id)
    run = await setup.runtime.store.get_run(attempt.run_id)
    assert await running is True
    assert after.status is AttemptStatus.INTERRUPTED
    assert after.error == "the worker stopped during the step"
    assert run.status is RunStatus.HALTED


async def test_a_stopping_worker_hands_new_messages_back(setup: Setup) -> None:
    """Once stopping, a message is refused and its attempt stays queued."""
    attempt = await setup.queued(NOOP_PLAN, "quick")
    setup.worker.stop_taking()

    taken = await setup.worker.handle(attempt.run_id, attempt.attempt_id)

    (after,) = await setup.attempts(attempt.run_id)
    assert taken is False
    assert after.status is AttemptStatus.QUEUED


async def test_a_heartbeat_kills_attempts_of_force_cancelled_runs(
    setup: Setup,
) -> None:
    """A run force-cancelled elsewhere: the worker's next beat kills its attempt."""
    attempt = await setup.queued(SLOW_PLAN, "slow")
    running = asyncio.create_task(
        setup.worker.handle(attempt.run_id, attempt.attempt_id)
    )
    await setup.until_running()
    await setup.runtime.commands.cancel_run(attempt.run_id, force=True)

    await setup.worker.beat()
    await running

    (after,) = await setup.attempts(attempt.run_id)
    run = await setup.runtime.store.get_run(attempt.run_id)
    assert after.status is AttemptStatus.CANCELLED
    assert run.status is RunStatus.CANCELLED
