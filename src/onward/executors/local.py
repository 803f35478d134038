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

from onward import errors
from onward.actions.base import ActionContext, ActionResult
from onward.actions.catalog import ActionCatalog
from onward.actions.templating import TemplateRenderError, render_inputs
from onward.clock import Clock
from onward.domain.effects import DispatchAttempt
from onward.domain.runs import AttemptStatus
from onward.executors.logbuffer import LogBuffer
from onward.service.work import Report, Work, WorkService
from onward.worker.runner import run_action, template_failure

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
    ) -> None:
        self._work = work
        self._catalog = catalog
        self._clock = clock
        self.worker_id = worker_id
        self._slots = Slots(concurrency)
        #: attempts whose claim rides on the transaction that queues them
        self._reserved: set[str] = set()
        #: attempts killed before they started here
        self._killed: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancels: dict[str, asyncio.Event] = {}
        self._running: dict[str, str] = {}
        self._logs = LogBuffer(work, clock)
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
        for attempt_id in attempt_ids:
            cancel = self._cancels.get(attempt_id)
            if cancel is not None:
                cancel.set()
            elif attempt_id in self._tasks:
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
        return dict(self._running)

    def busy(self) -> bool:
        """Tell whether any attempt is scheduled or running here."""
        return bool(self._tasks)

    async def drain(self) -> None:
        """Wait until no attempt is scheduled or running here."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        await self._logs.flush()

    async def close(self, *, grace: timedelta = timedelta(seconds=10)) -> None:
        """Stop: drop attempts not started, give running ones ``grace`` to finish.

        Attempts still running after the grace period are stopped and reported
        interrupted, so their runs go on per each step's ``on_interrupt``.
        """
        self._closing = True
        for attempt_id, task in list(self._tasks.items()):
            if attempt_id not in self._running:
                task.cancel()
        running = [self._tasks[a] for a in self._running if a in self._tasks]
        if running:
            await asyncio.wait(running, timeout=grace.total_seconds())
        await self.kill(list(self._running))
        await self.drain()
        await self._logs.close()

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
        try:
            if self._closing:
                return
            work = await self._work.claim(
                run_id=dispatched.run_id,
                attempt_id=dispatched.attempt_id,
                worker_id=self.worker_id,
            )
            if work is not None:
                await self._carry_out(dispatched, work)
        finally:
            self._slots.give()

    async def _run_claimed(self, dispatched: DispatchAttempt) -> None:
        """Run an attempt claimed for this worker when it was queued."""
        try:
            work = await self._work.describe(
                run_id=dispatched.run_id, attempt_id=dispatched.attempt_id
            )
            if work is not None:
                await self._carry_out(dispatched, work)
        finally:
            self._slots.give()

    async def _carry_out(self, dispatched: DispatchAttempt, work: Work) -> None:
        if dispatched.attempt_id in self._killed:
            report = Report(
                status=AttemptStatus.CANCELLED, error="killed before it started"
            )
        else:
            self._running[dispatched.attempt_id] = dispatched.run_id
            try:
                report = await self._execute(work)
            finally:
                self._running.pop(dispatched.attempt_id, None)
        if self._closing and report.status is AttemptStatus.CANCELLED:
            report = Report(
                status=AttemptStatus.INTERRUPTED,
                error="the server stopped during the step",
            )
        await self._work.finish(
            run_id=dispatched.run_id, attempt_id=dispatched.attempt_id, report=report
        )

    async def _execute(self, work: Work) -> Report:
        attempt = work.attempt
        cancel = self._cancels[attempt.attempt_id] = asyncio.Event()
        try:
            result = await self._result(work, cancel)
        finally:
            self._cancels.pop(attempt.attempt_id, None)
            await self._logs.flush_attempt(attempt.attempt_id)
        return _report(result)

    async def _result(self, work: Work, cancel: asyncio.Event) -> ActionResult:
        try:
            inputs = render_inputs(work.inputs, work.context)
            action = self._catalog.get(work.step.action)
        except TemplateRenderError as exc:
            return template_failure(exc)
        except errors.ActionNotFoundError as exc:
            return ActionResult(ok=False, error=exc.message, retryable=False)
        attempt = work.attempt
        ctx = ActionContext(
            run_id=attempt.run_id,
            attempt_id=attempt.attempt_id,
            step_name=work.step.name,
            target_name=work.target.name,
            attempt_number=attempt.number,
            log=self._logs.sink(attempt.run_id, attempt.attempt_id),
        )
        return await run_action(
            action, inputs, ctx, timeout=work.step.timeout, cancel=cancel
        )


def _report(result: ActionResult) -> Report:
    if result.ok:
        status = AttemptStatus.SUCCEEDED
    elif result.timed_out:
        status = AttemptStatus.TIMED_OUT
    elif result.cancelled:
        status = AttemptStatus.CANCELLED
    else:
        status = AttemptStatus.FAILED
    return Report(
        status=status,
        error=result.error,
        output=result.output,
        retryable=result.retryable,
    )


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
