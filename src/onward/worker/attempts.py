"""
AttemptRunner: carries out claimed attempts (render, run the action, report the end).

Both executors run attempts through it: the local executor inside the server,
and ``onward worker`` processes fed by Celery. What differs between them is
only how an attempt reaches the runner (and is claimed).

Whatever the action produced is made storable on the way in (log lines by the
log buffer, the output and the error by :func:`report_of`), so that every
store records the same thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import structlog

from onward import errors
from onward.actions.base import ActionContext, ActionResult
from onward.actions.catalog import ActionCatalog
from onward.actions.templating import TemplateRenderError, render_inputs
from onward.clock import Clock
from onward.domain.runs import AttemptStatus
from onward.service.work import Report, Work, WorkService
from onward.text import storable_text
from onward.worker.logbuffer import LogBuffer
from onward.worker.retries import BACKOFF, Backoff
from onward.worker.runner import run_action, template_failure
from onward.worker.storable import storable_output

_log = structlog.get_logger("onward.attempts")
_T = TypeVar("_T")


class AttemptRunner:
    """Runs claimed attempts with the step runner and records how each ended.

    A report the database refuses for what it holds (a StorageRefusedError)
    is recorded at once without the step's output, with an error saying why
    (:func:`unstorable`), so that the run goes on or halts per the step. A
    report that fails otherwise (the database is down or restarting, or the
    run kept changing under the engine) is tried again on the run's stored
    state, waiting longer each time, until it is recorded or the runner is
    abandoned: the step has run, and the database must learn how it ended.
    Log lines never hold the report up (see
    :class:`~onward.worker.logbuffer.LogBuffer`).
    """

    def __init__(
        self,
        *,
        work: WorkService,
        catalog: ActionCatalog,
        clock: Clock,
        backoff: Backoff = BACKOFF,
    ) -> None:
        self._work = work
        self._catalog = catalog
        self._backoff = backoff
        self._abandoned = asyncio.Event()
        self._logs = LogBuffer(work, clock, backoff=backoff, abandoned=self._abandoned)
        self._running: dict[str, str] = {}
        self._cancels: dict[str, asyncio.Event] = {}
        #: why running attempts are killed from now on (None: not stopping)
        self._stop_reason: str | None = None

    def running(self) -> Mapping[str, str]:
        """Return the attempts running now, as attempt id -> run id."""
        return dict(self._running)

    def kill(self, attempt_ids: Sequence[str]) -> list[str]:
        """Stop running attempts now; return the ids that were not running here."""
        missing: list[str] = []
        for attempt_id in attempt_ids:
            cancel = self._cancels.get(attempt_id)
            if cancel is None:
                missing.append(attempt_id)
            else:
                cancel.set()
        return missing

    def stop(self, reason: str) -> None:
        """Report attempts killed from now on ``interrupted`` (the process stops)."""
        self._stop_reason = reason

    def abandon(self) -> None:
        """Give up reports the database does not take (the process ends now)."""
        self._abandoned.set()

    async def claim(
        self, *, run_id: str, attempt_id: str, worker_id: str
    ) -> Work | None:
        """Claim an attempt by compare-and-set, trying again while the database is away.

        Returns:
            The attempt's work; None when it is no longer to be run, or the
            runner stops before the database answers.
        """
        troubled = False

        async def once() -> Work | None:
            nonlocal troubled
            try:
                work = await self._work.claim(
                    run_id=run_id, attempt_id=attempt_id, worker_id=worker_id
                )
            except errors.StorageError:
                troubled = True
                raise
            if work is None and troubled:
                # a claim that failed may have been saved all the same
                work = await self._claimed_by(worker_id, run_id, attempt_id)
            return work

        return await self._while_away(once, "attempt.claim_retried", attempt_id)

    async def describe(self, *, run_id: str, attempt_id: str) -> Work | None:
        """Return the work of an attempt claimed already, trying again while away."""
        return await self._while_away(
            lambda: self._work.describe(run_id=run_id, attempt_id=attempt_id),
            "attempt.describe_retried",
            attempt_id,
        )

    async def carry_out(
        self,
        work: Work,
        *,
        killed: bool = False,
        ended: Callable[[], None] | None = None,
    ) -> None:
        """Run a claimed attempt (unless ``killed`` before it started) and report it.

        ``ended`` is called once the action is over, before the report: a
        caller that limits how many actions run at once may start the next.
        """
        attempt = work.attempt
        if killed:
            report = Report(
                status=AttemptStatus.CANCELLED, error="killed before it started"
            )
        else:
            self._running[attempt.attempt_id] = attempt.run_id
            try:
                report = await self._execute(work)
            finally:
                self._running.pop(attempt.attempt_id, None)
        if ended is not None:
            ended()
        if not killed:
            # the log before the end, when the database takes it at once
            await self._logs.flush_attempt(attempt.attempt_id)
        if self._stop_reason is not None and report.status is AttemptStatus.CANCELLED:
            report = Report(status=AttemptStatus.INTERRUPTED, error=self._stop_reason)
        await self._report(work, report)
        await self._logs.settle_attempt(attempt.attempt_id)

    async def flush(self) -> None:
        """Write every buffered log line now."""
        await self._logs.flush()

    async def close(self) -> None:
        """Stop the periodic log flush and write what is left."""
        await self._logs.close()

    async def _report(self, work: Work, report: Report) -> None:
        attempt = work.attempt
        failures = 0
        while True:
            error = await self._finish(work, report)
            if isinstance(error, errors.StorageRefusedError):
                error = await self._record_plain(work, report, error)
            if error is None:
                return
            if self._abandoned.is_set():
                _log.error(
                    "attempt.report_lost",
                    run_id=attempt.run_id,
                    attempt_id=attempt.attempt_id,
                    error=str(error),
                )
                return
            failures += 1
            _log.warning(
                "attempt.report_retried",
                run_id=attempt.run_id,
                attempt_id=attempt.attempt_id,
                error=str(error),
            )
            await self._backoff.pause(failures, self._abandoned)

    async def _record_plain(
        self, work: Work, report: Report, refusal: errors.StorageRefusedError
    ) -> errors.OnwardError | None:
        """Record the end of an attempt whose report is refused, without its output.

        Returns:
            What stopped that too, if anything did (the report is then tried
            again as it is).
        """
        error = await self._finish(work, unstorable(report, refusal))
        if error is None:
            attempt = work.attempt
            _log.error(
                "attempt.result_unstorable",
                run_id=attempt.run_id,
                attempt_id=attempt.attempt_id,
                status=report.status.value,
                error=str(refusal),
            )
        return error

    async def _finish(self, work: Work, report: Report) -> errors.OnwardError | None:
        """Try to record an attempt's end once; return what stopped it, if anything."""
        attempt = work.attempt
        try:
            await self._work.finish(
                run_id=attempt.run_id, attempt_id=attempt.attempt_id, report=report
            )
        except errors.NotFoundError:
            _log.warning("attempt.report_dropped", attempt_id=attempt.attempt_id)
        except errors.OnwardError as exc:
            # decided again on the run's stored state, not on a cached one
            # that other processes may have moved on
            self._work.engine.forget(attempt.run_id)
            return exc
        return None

    async def _while_away(
        self, call: Callable[[], Awaitable[_T]], event: str, attempt_id: str
    ) -> _T | None:
        """Return what ``call`` returns, calling again while the database is away.

        None once the runner stops (a worker or server going down).
        """
        failures = 0
        while True:
            try:
                return await call()
            except errors.StorageError as exc:
                if self._stop_reason is not None:
                    return None
                failures += 1
                _log.warning(event, attempt_id=attempt_id, error=str(exc))
                await self._backoff.pause(failures, self._abandoned)

    async def _claimed_by(
        self, worker_id: str, run_id: str, attempt_id: str
    ) -> Work | None:
        attempt = await self._work.engine.store.get_attempt(attempt_id)
        if attempt.status is AttemptStatus.RUNNING and attempt.worker_id == worker_id:
            return await self._work.describe(run_id=run_id, attempt_id=attempt_id)
        return None

    async def _execute(self, work: Work) -> Report:
        attempt = work.attempt
        cancel = self._cancels[attempt.attempt_id] = asyncio.Event()
        try:
            result = await self._result(work, cancel)
        finally:
            self._cancels.pop(attempt.attempt_id, None)
        return report_of(result)

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


def report_of(result: ActionResult) -> Report:
    """Return the report of an action's result, its output and error storable."""
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
        error=None if result.error is None else storable_text(result.error),
        output=storable_output(result.output),
        retryable=result.retryable,
    )


def unstorable(report: Report, error: Exception) -> Report:
    """Return the report of an attempt whose end the database would not record.

    It keeps the end (a success becomes a failure) and replaces the output and
    the error with why the result could not be stored. It is not retryable
    when the step succeeded: running it again would do it twice.
    """
    succeeded = report.status is AttemptStatus.SUCCEEDED
    ended = report.status.value.replace("_", " ")
    reason = str(error) or type(error).__name__
    return Report(
        status=AttemptStatus.FAILED if succeeded else report.status,
        error=storable_text(
            f"the attempt ended {ended}, but its result could not be stored: {reason}"
        ),
        retryable=report.retryable and not succeeded,
    )
