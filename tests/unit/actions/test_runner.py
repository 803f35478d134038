"""
Tests of the runner: timeouts, cancellation and escaped exceptions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import pytest
import structlog
from structlog.testing import capture_logs

from onward.actions import ActionContext, ActionResult, TemplateRenderError
from onward.errors import Problem
from onward.worker.runner import run_action, template_failure

SHORT = timedelta(seconds=2)
TINY = timedelta(milliseconds=200)


class _Blocking:
    """Waits until released; records that it started, was cancelled and cleaned up."""

    kind: ClassVar[str] = "blocking"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False
        self.cleaned_up = False
        self.context: dict[str, Any] = {}

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        return []

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        self.context = structlog.contextvars.get_contextvars()
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            await asyncio.sleep(0)  # cleanup may await
            self.cleaned_up = True
        return ActionResult.succeeded({"released": True})


class _Raising:
    """Raises the exception it was given."""

    kind: ClassVar[str] = "raising"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        return []

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        raise self.exc


class _Sloppy:
    """Returns something that is not an ActionResult."""

    kind: ClassVar[str] = "sloppy"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        return []

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        return {"ok": True}  # type: ignore[return-value]


class _RetryableError(Exception):
    """An error that says itself whether retrying helps."""

    retryable = False


async def test_the_actions_result_is_returned_as_it_is(ctx: ActionContext) -> None:
    """An action finishing in time gives its own result."""
    action = _Blocking()
    action.release.set()

    result = await run_action(action, {}, ctx, timeout=SHORT, cancel=asyncio.Event())

    assert result == ActionResult(ok=True, output={"released": True})


async def test_a_timeout_cancels_the_action_and_waits_for_its_cleanup(
    ctx: ActionContext,
) -> None:
    """Past its timeout the action is cancelled, cleaned up, and reported timed out."""
    action = _Blocking()

    result = await run_action(action, {}, ctx, timeout=TINY, cancel=asyncio.Event())

    assert result == ActionResult(
        ok=False, error="timed out after 0.2s", timed_out=True, retryable=True
    )
    assert action.cancelled
    assert action.cleaned_up


async def test_no_timeout_means_no_limit(ctx: ActionContext) -> None:
    """Without a timeout the runner waits for the action to finish."""
    action = _Blocking()
    running = asyncio.create_task(
        run_action(action, {}, ctx, timeout=None, cancel=asyncio.Event())
    )
    await action.started.wait()

    action.release.set()

    assert (await running).ok


async def test_setting_cancel_stops_the_action(ctx: ActionContext) -> None:
    """The cancel event cancels the action and waits for its cleanup."""
    action = _Blocking()
    cancel = asyncio.Event()
    running = asyncio.create_task(
        run_action(action, {}, ctx, timeout=SHORT, cancel=cancel)
    )
    await action.started.wait()

    cancel.set()
    result = await running

    assert result.cancelled
    assert not result.ok
    assert not result.retryable
    assert action.cleaned_up


async def test_cancelling_the_runner_cancels_the_action_and_propagates(
    ctx: ActionContext,
) -> None:
    """When the runner's own task is cancelled, the action is cleaned up first."""
    action = _Blocking()
    running = asyncio.create_task(
        run_action(action, {}, ctx, timeout=SHORT, cancel=asyncio.Event())
    )
    await action.started.wait()

    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    assert action.cancelled
    assert action.cleaned_up


@pytest.mark.parametrize(
    ("exc", "error", "retryable"),
    [
        pytest.param(
            RuntimeError("disk on fire"),
            "RuntimeError: disk on fire",
            True,
            id="runtime",
        ),
        pytest.param(
            ConnectionResetError(), "ConnectionResetError", True, id="no-message"
        ),
        pytest.param(ValueError("bad port"), "ValueError: bad port", False, id="value"),
        pytest.param(TypeError("no"), "TypeError: no", False, id="type"),
        pytest.param(KeyError("ip"), "KeyError: 'ip'", False, id="lookup"),
        pytest.param(
            TemplateRenderError(path="with.url", reason="boom"),
            "TemplateRenderError: Cannot render with.url: boom",
            False,
            id="template",
        ),
        pytest.param(
            _RetryableError("said so"),
            "_RetryableError: said so",
            False,
            id="attribute",
        ),
    ],
)
async def test_an_escaped_exception_becomes_a_failed_result(
    ctx: ActionContext, exc: Exception, error: str, retryable: bool
) -> None:
    """An exception is recorded as ``TypeName: message``, retryable by its type."""
    with capture_logs():
        result = await run_action(
            _Raising(exc), {}, ctx, timeout=SHORT, cancel=asyncio.Event()
        )

    assert result == ActionResult(ok=False, error=error, retryable=retryable)


async def test_a_result_of_the_wrong_type_is_a_failure(ctx: ActionContext) -> None:
    """An action returning something else than an ActionResult fails, not retryable."""
    result = await run_action(_Sloppy(), {}, ctx, timeout=SHORT, cancel=asyncio.Event())

    assert result == ActionResult(
        ok=False,
        error="the 'sloppy' action returned dict, not an ActionResult",
        retryable=False,
    )


async def test_the_attempt_is_bound_to_the_logging_context(ctx: ActionContext) -> None:
    """While the action runs, log lines carry the run, attempt, step and target."""
    action = _Blocking()
    action.release.set()

    with capture_logs() as logs:
        await run_action(action, {}, ctx, timeout=SHORT, cancel=asyncio.Event())

    assert action.context == {
        "run_id": "run_1",
        "attempt_id": "att_1",
        "step": "stop replication",
        "target": "db1",
    }
    assert [entry["event"] for entry in logs] == ["step.started", "step.finished"]
    assert structlog.contextvars.get_contextvars() == {}


def test_template_failure_is_a_failure_retrying_cannot_fix() -> None:
    """A template error becomes a non-retryable failure with its clear message."""
    exc = TemplateRenderError(path="with.url", reason="'nothing' is undefined")

    result = template_failure(exc)

    assert result == ActionResult(
        ok=False,
        error="Cannot render with.url: 'nothing' is undefined",
        retryable=False,
    )
