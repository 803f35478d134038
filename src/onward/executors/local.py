"""
LocalExecutor: runs attempts as asyncio tasks inside the server process.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import timedelta

import structlog

from onward.actions.catalog import ActionCatalog
from onward.clock import Clock
from onward.domain.effects import DispatchAttempt
from onward.service.work import Work, WorkService
from onward.worker.attempts import AttemptRunner
from onward.worker.retries import BACKOFF, Backoff

_log = structlog.get_logger("onward.executor")


class LocalExecutor:
    """Runs attempts in this process, at most ``concurrency`` at a time."""

    def __init__(
        self,
        *,
        work: WorkService,
        catalog: ActionCatalog,
        clock: Clock,
        worker_id: str,
        concurrency: int = 16,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self._clock = clock
        self.worker_id = worker_id
        self._slots = Slots(concurrency)
        #: attempts whose claim rides on the transaction that queues them
        self._reserved: set[str] = set()
        #: attempts killed before they started here
        self._killed: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._runner = AttemptRunner(
            work=work, catalog=catalog, clock=clock, backoff=backoff
        )
        self._closing = False

    async def dispatch(self, attempts: Sequence[DispatchAttempt]) -> None:
        """Schedule each attempt to run when it is due (once per attempt)."""
        if self._closing:
            return
        for attempt in attempts:
            if attempt.attempt_id in self._tasks:
                continue
            if attempt.attempt_id in self._reserved:
                self._reserved.discard(attempt.attempt_id)
                runner = self._run_claimed(attempt)
            else:
                runner = self._run(attempt)
            task = asyncio.create_task(runner, name=attempt.attempt_id)
            self._tasks[attempt.attempt_id] = task
            task.add_done_callback(functools.partial(self._done, attempt.attempt_id))

    async def kill(self, attempt_ids: Sequence[str]) -> None:
        """Stop running attempts now; they report themselves cancelled."""
        for attempt_id in self._runner.kill(attempt_ids):
            if attempt_id in self._tasks:
                # not started yet: it reports itself cancelled instead of running
                self._killed.add(attempt_id)

    def reserve(self, attempt: DispatchAttempt) -> str | None:
        """Hold a slot for an attempt to run here at once; return this worker's id."""
        if self._closing or not self._slots.try_take():
            return None
        self._reserved.add(attempt.attempt_id)
        return self.worker_id

    def release(self, attempt_ids: Sequence[str]) -> None:
        """Give back slots held for attempts whose claim was not saved."""
        for attempt_id in attempt_ids:
            if attempt_id in self._reserved:
                self._reserved.discard(attempt_id)
                self._slots.give()

    def running(self) -> Mapping[str, str]:
        """Return the attempts running here, as attempt id -> run id."""
        return self._runner.running()

    def busy(self) -> bool:
        """Tell whether any attempt is scheduled or running here."""
        return bool(self._tasks)

    async def drain(self) -> None:
        """Wait until no attempt is scheduled or running here."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        await self._runner.flush()

    async def close(self, *, grace: timedelta = timedelta(seconds=10)) -> None:
        """Stop: drop attempts not started, give running ones ``grace`` to finish.

        Attempts still running after the grace period are stopped and reported
        interrupted, so their runs go on per each step's ``on_interrupt``. A
        report the database refuses then is given up: the attempt's heartbeat
        stops, and the next server interrupts it.
        """
        self._closing = True
        self._runner.stop("the server stopped during the step")
        running_here = self._runner.running()
        for attempt_id, task in list(self._tasks.items()):
            if attempt_id not in running_here:
                task.cancel()
        running = [self._tasks[a] for a in running_here if a in self._tasks]
        if running:
            await asyncio.wait(running, timeout=grace.total_seconds())
        await self.kill(list(self._runner.running()))
        self._runner.abandon()
        await self.drain()
        await self._runner.close()

    def _done(self, attempt_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(attempt_id, None)
        self._killed.discard(attempt_id)
        if not task.cancelled() and task.exception() is not None:
            _log.error(
                "attempt.executor_failed",
                attempt_id=attempt_id,
                error=repr(task.exception()),
            )

    async def _run(self, dispatched: DispatchAttempt) -> None:
        if dispatched.not_before is not None:
            delay = (dispatched.not_before - self._clock.now()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
        await self._slots.take()
        slot = Slot(self._slots)
        try:
            if self._closing:
                return
            work = await self._runner.claim(
                run_id=dispatched.run_id,
                attempt_id=dispatched.attempt_id,
                worker_id=self.worker_id,
            )
            if work is not None:
                await self._carry_out(dispatched, work, slot)
        finally:
            slot.give()

    async def _run_claimed(self, dispatched: DispatchAttempt) -> None:
        """Run an attempt claimed for this worker when it was queued."""
        slot = Slot(self._slots)
        try:
            work = await self._runner.describe(
                run_id=dispatched.run_id, attempt_id=dispatched.attempt_id
            )
            if work is not None:
                await self._carry_out(dispatched, work, slot)
        finally:
            slot.give()

    async def _carry_out(
        self, dispatched: DispatchAttempt, work: Work, slot: Slot
    ) -> None:
        # the slot is free once the action is over: the decision on its report
        # may then claim the next attempt in the same transaction
        await self._runner.carry_out(
            work, killed=dispatched.attempt_id in self._killed, ended=slot.give
        )


class Slot:
    """One slot taken from Slots, given back once, however often it is given."""

    def __init__(self, slots: Slots) -> None:
        self._slots: Slots | None = slots

    def give(self) -> None:
        """Give the slot back, unless it was given already."""
        if self._slots is not None:
            slots, self._slots = self._slots, None
            slots.give()


class Slots:
    """A counting semaphore that can also be taken without waiting."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        """Take a slot if one is free now; tell whether it was taken."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting (first come, first served) until one is free."""
        if self.try_take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as we were cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """Return a slot, handing it to the longest waiter if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
