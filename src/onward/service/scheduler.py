"""
The scheduler loop: heartbeats, crash detection, approval deadlines, lost dispatches.

Several servers may share one database. Each beats and kills its own attempts
of force-cancelled runs, but the duties that concern every run (interrupting
the attempts of dead workers, timers and follow-ups, approval deadlines and,
when steps run on workers, re-sending queued attempts) are done only by the
server holding the ``scheduler`` lease. The holder renews it at each health
check; when it dies, its lease expires after ``lease_ttl`` and the next server
to check takes the duties over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

import structlog

from onward import errors
from onward.domain import events
from onward.domain.effects import DispatchAttempt
from onward.domain.runs import Attempt, AttemptStatus, CancelMode
from onward.service.engine import Engine
from onward.service.ports import Executor, Store

_log = structlog.get_logger("onward.scheduler")

#: the lease of the scheduler duties shared by every server of a database
LEASE: Final = "scheduler"


class Scheduler:
    """Keeps runs moving when no event would: crashes, deadlines, lost work.

    Args:
        engine: the engine whose store and clock the loop uses.
        executor: where queued attempts are handed (the sweep).
        worker_id: this process's id in heartbeats and as lease owner.
        name: this process's name in heartbeats.
        heartbeat_interval: time between health checks.
        heartbeat_timeout: silence after which a worker is taken for dead.
        poll_interval: time between sweeps of queued attempts.
        periodic: more work of the lease holder at each health check.
        lease_ttl: how long the lease outlives its last renewal (never less
            than three heartbeat intervals).
        redispatch_after: None when each server runs steps itself: every
            server then hands all queued attempts to its executor at each
            sweep. A duration when the executor sends attempts to shared
            workers as they are queued: then only the lease holder sweeps, and
            hands over attempts queued (or due) at least that long ago, whose
            message must have been lost (the reconciler).
    """

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
        lease_ttl: timedelta = timedelta(seconds=15),
        redispatch_after: timedelta | None = None,
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
        self._ttl = max(lease_ttl, 3 * heartbeat_interval)
        self._redispatch_after = redispatch_after
        #: when the lease this process holds expires (None: not held)
        self._lease_until: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Beat once, then run the loop in the background."""
        await self.tick()
        self._task = asyncio.create_task(self._loop(), name="onward-scheduler")

    async def stop(self) -> None:
        """Stop the loop and give the lease up, so another server takes over now."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._lease_until is not None:
            self._lease_until = None
            try:
                await self._store.release_lease(name=LEASE, owner=self._worker_id)
            except errors.StorageError as exc:
                _log.warning("scheduler.lease_not_released", error=str(exc))

    def leads(self) -> bool:
        """Tell whether this process holds the scheduler lease now."""
        return (
            self._lease_until is not None
            and self._engine.clock.now() < self._lease_until
        )

    async def tick(self) -> None:
        """Do one round of health checks and one sweep of queued attempts."""
        await self.check_health()
        await self.sweep_queued()

    async def check_health(self) -> None:
        """Beat; as lease holder, interrupt dead workers' attempts, expire approvals."""
        now = self._engine.clock.now()
        await self._store.beat(worker_id=self._worker_id, name=self._name, now=now)
        await self._kill_force_cancelled()
        if await self._renew_lease(now):
            await self._lead(now)

    async def _renew_lease(self, now: datetime) -> bool:
        """Take or renew the scheduler lease; tell whether this process holds it."""
        held = await self._store.acquire_lease(
            name=LEASE, owner=self._worker_id, now=now, ttl=self._ttl
        )
        if held != (self._lease_until is not None):
            _log.info(
                "scheduler.lease_taken" if held else "scheduler.lease_lost",
                worker_id=self._worker_id,
            )
        self._lease_until = now + self._ttl if held else None
        return held

    async def _lead(self, now: datetime) -> None:
        """Do the duties of the lease holder."""
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
        if self._redispatch_after is None:
            queued = await self._store.queued_attempts()
        elif self.leads():
            cutoff = self._engine.clock.now() - self._redispatch_after
            queued = [
                attempt
                for attempt in await self._store.queued_attempts()
                if max(attempt.queued_at, attempt.not_before or attempt.queued_at)
                <= cutoff
            ]
        else:
            return
        if queued:
            await self._executor.dispatch([_dispatch_of(a) for a in queued])

    async def _kill_force_cancelled(self) -> None:
        """Kill local attempts of runs force-cancelled by another process."""
        doomed = await force_cancelled(self._store, self._executor.running())
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


async def force_cancelled(store: Store, running: Mapping[str, str]) -> list[str]:
    """Return the attempts, among ``running`` (attempt id -> run id), to kill now.

    Another process may have force-cancelled their runs: the attempts it
    could not kill itself are killed by the process running them.
    """
    doomed: list[str] = []
    for run_id in set(running.values()):
        run = await store.get_run(run_id)
        if run.cancel_mode is CancelMode.FORCE:
            doomed.extend(a for a, r in running.items() if r == run_id)
    return doomed


def _dispatch_of(attempt: Attempt) -> DispatchAttempt:
    return DispatchAttempt(
        attempt_id=attempt.attempt_id,
        run_id=attempt.run_id,
        queue=attempt.queue,
        not_before=attempt.not_before,
    )
