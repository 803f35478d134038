"""
AttemptRunner: carries out claimed attempts (render, run the action, report the end).

Both executors run attempts through it: the local executor inside the server,
and ``onward worker`` processes fed by Celery. What differs between them is
only how an attempt reaches the runner (and is claimed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final

import structlog

from onward import errors
from onward.actions.base import ActionContext, ActionResult
from onward.actions.catalog import ActionCatalog
from onward.actions.templating import TemplateRenderError, render_inputs
from onward.clock import Clock
from onward.domain.runs import AttemptStatus
from onward.service.work import Report, Work, WorkService
from onward.worker.logbuffer import LogBuffer
from onward.worker.runner import run_action, template_failure

_log = structlog.get_logger("onward.attempts")

#: first wait before reporting an attempt's end again after a database error
_FIRST_RETRY: Final = timedelta(milliseconds=200)
#: longest wait between two tries of a report
_LAST_RETRY: Final = timedelta(seconds=5)


class AttemptRunner:
    """Runs claimed attempts with the step runner and records how each ended.

    A report that fails (the database is down or restarting, or the run kept
    changing under the engine) is tried again on the run's stored state,
    waiting longer each time, until it is recorded or the runner is
    abandoned: the step has run, and the database must learn how it ended.
    """

    def __init__(
        self, *, work: WorkService, catalog: ActionCatalog, clock: Clock
    ) -> None:
        self._work = work
        self._catalog = catalog
        self._logs = LogBuffer(work, clock)
        self._running: dict[str, str] = {}
        self._cancels: dict[str, asyncio.Event] = {}
        #: why running attempts are killed from now on (None: not stopping)
        self._stop_reason: str | None = None
        self._abandoned = asyncio.Event()

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
        """Give up reports the database keeps refusing (the process ends now)."""
        self._abandoned.set()

    async def carry_out(self, work: Work, *, killed: bool = False) -> None:
        """Run a claimed attempt (unless ``killed`` before it started) and report it."""
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
        if self._stop_reason is not None and report.status is AttemptStatus.CANCELLED:
            report = Report(status=AttemptStatus.INTERRUPTED, error=self._stop_reason)
        await self._report(work, report)

    async def flush(self) -> None:
        """Write every buffered log line now."""
        await self._logs.flush()

    async def close(self) -> None:
        """Stop the periodic log flush and write what is left."""
        await self._logs.close()

    async def _report(self, work: Work, report: Report) -> None:
        attempt = work.attempt
        delay = _FIRST_RETRY
        while True:
            try:
                await self._work.finish(
                    run_id=attempt.run_id, attempt_id=attempt.attempt_id, report=report
                )
            except errors.NotFoundError:
                _log.warning("attempt.report_dropped", attempt_id=attempt.attempt_id)
                return
            except errors.OnwardError as exc:
                # decided again on the run's stored state, not on a cached one
                # that other processes may have moved on
                self._work.engine.forget(attempt.run_id)
                if self._abandoned.is_set():
                    _log.error(
                        "attempt.report_lost",
                        run_id=attempt.run_id,
                        attempt_id=attempt.attempt_id,
                        error=str(exc),
                    )
                    return
                _log.warning(
                    "attempt.report_retried",
                    run_id=attempt.run_id,
                    attempt_id=attempt.attempt_id,
                    error=str(exc),
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._abandoned.wait(), delay.total_seconds()
                    )
                delay = min(delay * 2, _LAST_RETRY)
            else:
                return

    async def _execute(self, work: Work) -> Report:
        attempt = work.attempt
        cancel = self._cancels[attempt.attempt_id] = asyncio.Event()
        try:
            result = await self._result(work, cancel)
        finally:
            self._cancels.pop(attempt.attempt_id, None)
            await self._logs.flush_attempt(attempt.attempt_id)
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
    """Return the report of an action's result."""
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
