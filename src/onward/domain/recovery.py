"""
Recovery state of replica and storage plans, and which procedures each state allows.

A plan's recovery state follows from its recovery runs: the latest failover,
undo or failback run (and whether a protect run is under way) tells where the
plan is; nothing else is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from onward import errors
from onward.domain.plans import RECOVERY_PROCEDURES
from onward.domain.runs import RunStatus


class RecoveryState(StrEnum):
    """Where a replica or storage plan is in its failover life."""

    READY = "ready"
    IN_FAILOVER = "in_failover"
    FAILOVER_HALTED = "failover_halted"
    FAILOVER_INCOMPLETE = "failover_incomplete"
    FAILED_OVER = "failed_over"
    PROTECTING = "protecting"
    UNDOING_FAILOVER = "undoing_failover"
    UNDO_HALTED = "undo_halted"
    UNDO_INCOMPLETE = "undo_incomplete"
    FAILING_BACK = "failing_back"
    FAILBACK_HALTED = "failback_halted"
    FAILBACK_INCOMPLETE = "failback_incomplete"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryRun:
    """What the recovery state needs of a run: its procedure and status."""

    procedure: str
    status: RunStatus


_ACTIVE: Final = frozenset(
    {RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING, RunStatus.CANCELLING}
)

#: state of a plan by (procedure of its latest run that moves it, that run's status)
_BY_OUTCOME: Final[dict[str, dict[str, RecoveryState]]] = {
    "failover": {
        "active": RecoveryState.IN_FAILOVER,
        RunStatus.HALTED: RecoveryState.FAILOVER_HALTED,
        RunStatus.SUCCEEDED: RecoveryState.FAILED_OVER,
        "ended": RecoveryState.FAILOVER_INCOMPLETE,
    },
    "undo_failover": {
        "active": RecoveryState.UNDOING_FAILOVER,
        RunStatus.HALTED: RecoveryState.UNDO_HALTED,
        RunStatus.SUCCEEDED: RecoveryState.READY,
        "ended": RecoveryState.UNDO_INCOMPLETE,
    },
    "failback": {
        "active": RecoveryState.FAILING_BACK,
        RunStatus.HALTED: RecoveryState.FAILBACK_HALTED,
        RunStatus.SUCCEEDED: RecoveryState.READY,
        "ended": RecoveryState.FAILBACK_INCOMPLETE,
    },
}

S = RecoveryState
#: the procedures each state allows to start (``run`` is not a recovery procedure)
ALLOWED_PROCEDURES: Final[dict[RecoveryState, frozenset[str]]] = {
    S.READY: frozenset({"failover"}),
    S.FAILED_OVER: frozenset({"failback", "undo_failover", "protect"}),
    S.FAILOVER_HALTED: frozenset({"undo_failover"}),
    S.FAILOVER_INCOMPLETE: frozenset({"undo_failover"}),
    S.UNDO_HALTED: frozenset(),
    S.UNDO_INCOMPLETE: frozenset({"undo_failover"}),
    S.FAILBACK_HALTED: frozenset(),
    S.FAILBACK_INCOMPLETE: frozenset({"failback"}),
    S.IN_FAILOVER: frozenset(),
    S.PROTECTING: frozenset(),
    S.UNDOING_FAILOVER: frozenset(),
    S.FAILING_BACK: frozenset(),
}


def recovery_state(runs_newest_first: Iterable[RecoveryRun]) -> RecoveryState:
    """Return a plan's recovery state from its recovery runs, newest first."""
    for run in runs_newest_first:
        if run.procedure == "protect":
            if run.status in _ACTIVE:
                return RecoveryState.PROTECTING
            continue
        outcomes = _BY_OUTCOME.get(run.procedure)
        if outcomes is None:
            continue
        if run.status in _ACTIVE:
            return outcomes["active"]
        return outcomes.get(run.status, outcomes["ended"])
    return RecoveryState.READY


def check_procedure(state: RecoveryState, procedure: str, *, plan: str) -> None:
    """Refuse a recovery procedure the plan's state does not allow.

    Raises:
        InvalidTransitionError: naming the state and what it allows.
    """
    if procedure not in RECOVERY_PROCEDURES or procedure in ALLOWED_PROCEDURES[state]:
        return
    allowed = ", ".join(sorted(ALLOWED_PROCEDURES[state])) or "nothing until it rests"
    raise errors.InvalidTransitionError(
        subject=f"plan {plan}",
        state=state.value,
        command=f"start {procedure}",
        reason=f"a plan that is {state.value} allows: {allowed}",
    )
