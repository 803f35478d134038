"""
Running one try of a step: timeout, cancellation, escaped exceptions -> ActionResult.

An exception escaping an action becomes a failed result ``TypeName: message``.
It is retryable unless its type says the step itself is wrong (TypeError,
ValueError, LookupError, a template error...) or the exception carries a
boolean ``retryable`` attribute saying otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import structlog

from onward.actions.base import Action, ActionContext, ActionResult
from onward.actions.templating import TemplateRenderError

logger = structlog.get_logger(__name__)

# Exceptions that say the step itself is wrong (bad input, a bug, a missing
# module): trying again would fail the same way.
_PERMANENT_ERRORS: Final = (
    TemplateRenderError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    NotImplementedError,
    ImportError,
    SyntaxError,
)


def _format_duration(duration: timedelta) -> str:
    """Return ``duration`` as ``5s``, ``1.5s``, ``90s``, ``2m``, ``1h30m``."""
    seconds = duration.total_seconds()
    if seconds < timedelta(minutes=1).total_seconds() or seconds % 60:
        return f"{seconds:g}s"
    hours, minutes = divmod(int(seconds) // 60, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")


def template_failure(exc: TemplateRenderError) -> ActionResult:
    """Return the failed result of a step whose inputs could not be rendered."""
    return ActionResult.failed(exc.message, retryable=False)


def _failure_of(exc: Exception) -> ActionResult:
    """Return the failed result of an exception that escaped an action."""
    text = str(exc)
    error = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    retryable = getattr(exc, "retryable", None)
    if not isinstance(retryable, bool):
        retryable = not isinstance(exc, _PERMANENT_ERRORS)
    return ActionResult.failed(error, retryable=retryable)


def _result_of(task: asyncio.Task[ActionResult], kind: str) -> ActionResult:
    """Return what a finished action task produced, as an ActionResult."""
    if task.cancelled():
        return ActionResult(
            ok=False, error="the action cancelled itself", cancelled=True
        )
    try:
        result = task.result()
    # The one place in Onward that catches everything: whatever an action
    # raises is a step failure to record, never a crash of the worker. (BLE001
    # stays quiet because the traceback is logged.)
    except Exception as exc:
        logger.warning("step.raised", exc_info=exc)
        return _failure_of(exc)
    if not isinstance(result, ActionResult):
        error = (
            f"the {kind!r} action returned {type(result).__name__}, not an ActionResult"
        )
        return ActionResult.failed(error, retryable=False)
    return result


async def _stop(task: asyncio.Task[ActionResult]) -> None:
    """Cancel the action and wait until it has cleaned up."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled() and task.exception() is not None:
        logger.warning("step.cleanup_failed", exc_info=task.exception())


async def _race(
    task: asyncio.Task[ActionResult],
    *,
    kind: str,
    limit: timedelta | None,
    cancel: asyncio.Event,
) -> ActionResult:
    """Wait for the action, the cancel event or the limit, whichever comes first."""
    cancelled = asyncio.create_task(cancel.wait())
    seconds = None if limit is None else max(limit.total_seconds(), 0.0)
    try:
        await asyncio.wait(
            [task, cancelled], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    except asyncio.CancelledError:
        await _stop(task)
        raise
    finally:
        cancelled.cancel()
    if task.done():
        return _result_of(task, kind)
    await _stop(task)
    if cancel.is_set():
        return ActionResult(
            ok=False, error="cancelled", cancelled=True, retryable=False
        )
    error = f"timed out after {_format_duration(limit or timedelta(0))}"
    return ActionResult(ok=False, error=error, timed_out=True)


async def run_action(
    action: Action,
    inputs: Mapping[str, Any],
    ctx: ActionContext,
    *,
    # the engine's contract: a step's timeout is data, raced here with ``cancel``
    timeout: timedelta | None,  # noqa: ASYNC109
    cancel: asyncio.Event,
) -> ActionResult:
    """
    Run one try of a step and return its outcome, whatever happens.

    Setting ``cancel`` or reaching ``timeout`` cancels the action's task and
    waits for its cleanup; cancelling the caller does too, then propagates.
    Log lines meanwhile carry ``run_id``, ``attempt_id``, ``step``, ``target``.

    Args:
        action: the action to run.
        inputs: the step's inputs, templates already rendered.
        ctx: the try's identity and log sink.
        timeout: how long the try may take; None for no limit.
        cancel: set by the engine to stop the try (force cancel).

    Returns:
        The action's result, or a failed result with ``timed_out`` or
        ``cancelled`` set.
    """
    with structlog.contextvars.bound_contextvars(
        run_id=ctx.run_id,
        attempt_id=ctx.attempt_id,
        step=ctx.step_name,
        target=ctx.target_name,
    ):
        logger.info("step.started", action=action.kind, attempt=ctx.attempt_number)
        task = asyncio.create_task(
            action.run(inputs, ctx), name=f"onward-attempt-{ctx.attempt_id}"
        )
        result = await _race(task, kind=action.kind, limit=timeout, cancel=cancel)
        logger.info(
            "step.finished",
            ok=result.ok,
            error=result.error,
            timed_out=result.timed_out,
            cancelled=result.cancelled,
        )
        return result
