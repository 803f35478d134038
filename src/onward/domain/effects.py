"""
Outputs of the state machine: what must happen once a decision is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from onward.domain.runs import Attempt, Lane, LaneKey, Run, RunStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchAttempt:
    """Hand a queued attempt to an executor."""

    attempt_id: str
    run_id: str
    queue: str | None
    not_before: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KillAttempt:
    """Stop a running attempt now (force cancel)."""

    attempt_id: str
    run_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEnded:
    """The run reached a resting state (finished or halted)."""

    run_id: str
    status: RunStatus


Effect = DispatchAttempt | KillAttempt | RunEnded


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The outcome of one event: changed records and effects, nothing applied yet."""

    run: Run
    #: lanes created or changed
    lanes: dict[LaneKey, Lane] = field(default_factory=dict)
    #: attempts created or changed (finished ones included, as history)
    attempts: dict[str, Attempt] = field(default_factory=dict)
    effects: tuple[Effect, ...] = ()
