"""
Inputs to the state machine: what happened to a run, or what someone asked of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from onward.domain.runs import AttemptStatus, CancelMode, LaneKey


class ContinueOption(StrEnum):
    """How a halted run goes on (the vendor's six options, in our words)."""

    RETRY_STEP = "retry-step"
    PROCEED_STEP = "proceed-step"
    RETRY_TARGET = "retry-target"
    PROCEED_TARGET = "proceed-target"
    RETRY_GROUP = "retry-group"
    PROCEED_GROUP = "proceed-group"

    @property
    def is_step_option(self) -> bool:
        """Tell whether the option acts on the failed step alone."""
        return self in (ContinueOption.RETRY_STEP, ContinueOption.PROCEED_STEP)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRequested:
    """Start a pending run."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptClaimed:
    """A worker took a queued attempt and is running it."""

    attempt_id: str
    worker_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptFinished:
    """An attempt ended: by its action, a timeout, a cancel or a crash."""

    attempt_id: str
    status: AttemptStatus
    error: str | None = None
    output: Mapping[str, Any] = field(default_factory=dict)
    #: whether trying again may help (False for bad input, template errors)
    retryable: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalDecided:
    """A person approved or rejected a waiting approval step."""

    attempt_id: str
    approved: bool
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ContinueRequested:
    """Go on with a halted run."""

    option: ContinueOption
    #: the halt points to act on as (lane, step); None: all of them
    points: tuple[tuple[LaneKey, int], ...] | None = None
    #: step inputs replacing the plan's for the retried steps (retry-step only)
    input_overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryRequested:
    """Run a failed run again from each failed step."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested:
    """Stop the run."""

    mode: CancelMode = CancelMode.GRACEFUL


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeRequested:
    """Resume a halted run's target at a chosen step of its stage."""

    lane: LaneKey
    step: int


Event = (
    StartRequested
    | AttemptClaimed
    | AttemptFinished
    | ApprovalDecided
    | ContinueRequested
    | RetryRequested
    | CancelRequested
    | ResumeRequested
)
