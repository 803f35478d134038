"""
The scheduler loop: heartbeats, crash detection, approval deadlines, lost dispatches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from onward import errors
from onward.domain import events
from onward.domain.effects import DispatchAttempt
from onward.domain.runs import Attempt, AttemptStatus, CancelMode
from onward.service.engine import Engine
from onward.service.ports import Executor

_log = structlog.get_logger("onward.scheduler")


class Scheduler:
    """Keeps runs moving when no event would: crashes, deadlines, lost work."""

    def __init__(
        self,
        *,
        engine: Engine,
        executor: Executor,
        worker_id: str,
        name: str,
        heartbeat_interval: timedelta = timedelta(seconds=2),
        heartbeat_timeout: timedelta = timedelta(seconds=15),
        poll_interval: timedelta = timedelta(milliseconds=500),
        periodic: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._engine = engine
        #: more work done with each health check (firing due timers)
        self._periodic = periodic
        self._store = engine.store
        self._executor = executor
        self._worker_id = worker_id
        self._name = name
        self._interval = heartbeat_interval
        self._timeout = heartbeat_timeout
        self._poll = poll_interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Beat once, then run the loop in the background."""
        await self.tick()
        self._task = asyncio.create_task(self._loop(), name="onward-scheduler")

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def tick(self) -> None:
        """Do one round of health checks and one sweep of queued attempts."""
        await self.check_health()
        await self.sweep_queued()

    async def check_health(self) -> None:
        """Beat, interrupt the attempts of dead workers, expire approvals."""
        now = self._engine.clock.now()
        await self._store.beat(worker_id=self._worker_id, name=self._name, now=now)
        for attempt in await self._store.stale_attempts(
            heartbeat_before=now - self._timeout
        ):
            _log.warning(
                "attempt.interrupted",
                run_id=attempt.run_id,
                attempt_id=attempt.attempt_id,
                worker_id=attempt.worker_id,
            )
            await self._finish(
                attempt.run_id,
                events.AttemptFinished(
                    attempt_id=attempt.attempt_id,
                    status=AttemptStatus.INTERRUPTED,
                    error=f"worker {attempt.worker_id} stopped heartbeating",
                ),
            )
        await self._kill_force_cancelled()
        if self._periodic is not None:
            await self._periodic()
        for attempt in await self._store.expired_approvals(now=now):
            await self._finish(
                attempt.run_id,
                events.AttemptFinished(
                    attempt_id=attempt.attempt_id,
                    status=AttemptStatus.TIMED_OUT,
                    error="no one approved or rejected the step in time",
                    retryable=False,
                ),
            )

    async def sweep_queued(self) -> None:
        """Hand queued attempts to the executor (queued elsewhere, or lost)."""
        await self._executor.dispatch(
            [_dispatch_of(attempt) for attempt in await self._store.queued_attempts()]
        )

    async def _kill_force_cancelled(self) -> None:
        """Kill local attempts of runs force-cancelled by another process."""
        running = self._executor.running()
        doomed: list[str] = []
        for run_id in set(running.values()):
            run = await self._store.get_run(run_id)
            if run.cancel_mode is CancelMode.FORCE:
                doomed.extend(a for a, r in running.items() if r == run_id)
        if doomed:
            await self._executor.kill(doomed)

    async def _finish(self, run_id: str, event: events.AttemptFinished) -> None:
        try:
            await self._engine.apply(run_id, event)
        except errors.InvalidTransitionError:
            _log.info(
                "attempt.already_finished", run_id=run_id, attempt_id=event.attempt_id
            )

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time() + self._interval.total_seconds()
        while True:
            await asyncio.sleep(self._poll.total_seconds())
            try:
                await self.sweep_queued()
                if loop.time() >= next_beat:
                    next_beat = loop.time() + self._interval.total_seconds()
                    await self.check_health()
            except errors.OnwardError as exc:
                _log.error("scheduler.tick_failed", error=str(exc))


def _dispatch_of(attempt: Attempt) -> DispatchAttempt:
    return DispatchAttempt(
        attempt_id=attempt.attempt_id,
        run_id=attempt.run_id,
        queue=attempt.queue,
        not_before=attempt.not_before,
    )
