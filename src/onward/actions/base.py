"""
The Action port and the records it speaks: ActionContext in, ActionResult out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from onward.errors import Problem

#: ``log(stream, line)``: stream is ``stdout``, ``stderr`` or ``info``
LogSink = Callable[[str, str], None]


def _ignore_heartbeat() -> None:
    """Do nothing: the default heartbeat of a context nobody watches."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionResult:
    """
    What one try of a step produced.

    Exactly one of the outcomes holds: ``ok``; or a failure, which may also be
    ``timed_out`` or ``cancelled``.
    """

    #: whether the step did what it was asked
    ok: bool
    #: JSON-serialisable; later steps' templates see it as
    #: ``steps["<step name>"].output``
    output: Mapping[str, Any] = field(default_factory=dict)
    #: a clear human message when not ok
    error: str | None = None
    #: False when automatic retries are pointless (bad input, template error)
    retryable: bool = True
    #: the try was stopped because it ran out of time
    timed_out: bool = False
    #: the try was stopped because someone cancelled it
    cancelled: bool = False

    @classmethod
    def succeeded(cls, output: Mapping[str, Any] | None = None) -> ActionResult:
        """Return a successful result carrying ``output``."""
        return cls(ok=True, output=dict(output or {}))

    @classmethod
    def failed(
        cls,
        error: str,
        *,
        retryable: bool = True,
        output: Mapping[str, Any] | None = None,
    ) -> ActionResult:
        """Return a failed result with its message and retryability."""
        return cls(
            ok=False, error=error, retryable=retryable, output=dict(output or {})
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionContext:
    """Who is running and where its output goes, for one try of one step."""

    run_id: str
    attempt_id: str
    step_name: str
    target_name: str
    #: 1 for the first try of the step on this target
    attempt_number: int
    #: called for each output line, streamed to the run log
    log: LogSink
    #: an optional progress signal: tells the engine the attempt is still alive
    heartbeat: Callable[[], None] = _ignore_heartbeat


@runtime_checkable
class Action(Protocol):
    """
    A kind of step: checks its inputs, then runs them.

    Actions are stateless and shared by every run; one instance may run many
    tries at once. Cancellation and timeouts are done by cancelling the task
    running :meth:`run`: an action must then clean up whatever it started and
    let :class:`asyncio.CancelledError` propagate.
    """

    #: the name plans use in ``action:``
    kind: ClassVar[str]

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """
        Check a step's ``with`` mapping at plan validation.

        Templates are not rendered yet: a string containing ``{{`` is accepted
        wherever a value is expected.

        Args:
            inputs: the step's ``with`` mapping, as written in the plan.

        Returns:
            Every problem found, each with a path relative to ``with``
            (``"headers.Authorization"``); empty when the inputs are valid.
        """
        ...

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """
        Carry out one try of the step.

        Args:
            inputs: the step's ``with`` mapping, templates rendered.
            ctx: the try's identity, log sink and heartbeat.

        Returns:
            The outcome. Expected failures are results, not exceptions.
        """
        ...
