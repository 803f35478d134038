"""
Refused plan operations in VAO's words: plan states, operations and properties.

Onward refuses an operation with errors that speak of runs: the newest run's
status, its id, a procedure, a problem path (``params.restore_point``). VAO
clients know plans, the ``stateName`` the dialect shows (``render.plan_state``)
and their request's properties. ``vendor_words`` rewords each refusal from the
data the error carries (the state it names: a run status, a recovery state,
``disabled``) and the plan as it stands; status codes stay (409 for a state
that does not allow the operation, 400 for an invalid request).

Onward has no pause: Halt cancels the plan's newest run, which then cannot be
continued; Continue says so and names the operations the plan allows instead.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Final

from onward import errors
from onward.api.dialects.vao import render
from onward.api.dialects.vao.errors import VaoRequestError
from onward.domain.plans import DEFAULT_PROCEDURE
from onward.domain.recovery import ALLOWED_PROCEDURES, RecoveryState
from onward.domain.runs import RunStatus
from onward.service.plan_status import PlanStatus, PlanStatuses


class Operation(StrEnum):
    """A plan operation of the vendor's API, by its path segment."""

    RESTORE = "Restore"
    FAILOVER = "Failover"
    UNDO = "Undo"
    FAILBACK = "FailbackToProduction"
    CONTINUE = "Continue"
    HALT = "Halt"


#: the procedure each operation that starts a run starts
PROCEDURES: Final = {
    Operation.RESTORE: DEFAULT_PROCEDURE,
    Operation.FAILOVER: "failover",
    Operation.UNDO: "undo_failover",
    Operation.FAILBACK: "failback",
}
_OPERATIONS: Final = {procedure: op for op, procedure in PROCEDURES.items()}
#: how to go on with a plan, by an operation it allows
_ADVICE: Final = {
    Operation.RESTORE: "run it again (Restore)",
    Operation.FAILOVER: "fail it over again (Failover)",
    Operation.UNDO: "undo it (Undo)",
    Operation.FAILBACK: "fail it back again (FailbackToProduction)",
}
_REPLICA_ONLY: Final = frozenset(
    {Operation.FAILOVER, Operation.UNDO, Operation.FAILBACK}
)
_RUN_STATES: Final = frozenset(status.value for status in RunStatus)
_HALTED_RECOVERY: Final = frozenset(
    {
        RecoveryState.FAILOVER_HALTED,
        RecoveryState.UNDO_HALTED,
        RecoveryState.FAILBACK_HALTED,
    }
)
#: the procedures each recovery state allows, by the state's value
_RECOVERY_ALLOWS: Final = {
    state.value: procedures for state, procedures in ALLOWED_PROCEDURES.items()
}
_GO_ON_FIRST: Final = "continue the plan, or halt it to end its run, first"
_RUNNING: Final = "the plan is still running, and a plan runs one operation at a time"


@asynccontextmanager
async def vendor_words(
    statuses: PlanStatuses, *, workspace: str, plan: uuid.UUID, operation: Operation
) -> AsyncIterator[None]:
    """Reword the refusal of a plan operation in the vendor's words.

    Raises:
        VaoRequestError: 409, for a conflict with the plan's state.
        InvalidDefinitionError: the request's problems, keyed by its properties.
    """
    try:
        yield
    except errors.ConflictError as exc:
        status = await statuses.get(workspace, plan)
        raise VaoRequestError(
            409, conflict_message(operation, status=status, exc=exc)
        ) from exc
    except errors.InvalidDefinitionError as exc:
        if exc.subject == "request":
            raise
        status = await statuses.get(workspace, plan)
        problems = [
            vendor_problem(operation, status=status, problem=p) for p in exc.problems
        ]
        raise errors.InvalidDefinitionError(problems, subject="request") from exc


def conflict_message(
    operation: Operation, *, status: PlanStatus, exc: errors.ConflictError
) -> str:
    """Return a refusal for the plan's state as the vendor's message."""
    name = status.summary.name
    subject = {
        Operation.CONTINUE: f"continue plan '{name}'",
        Operation.HALT: f"halt plan '{name}'",
    }.get(operation, f"run {operation} on plan '{name}'")
    if not isinstance(exc, errors.InvalidTransitionError):
        return f"Cannot {subject}: another request changed it meanwhile; try again."
    if exc.state == "disabled":
        return f"Cannot {subject}: the plan is disabled; enable it first."
    if operation is Operation.CONTINUE and exc.state == RunStatus.CANCELLED:
        advice = " or ".join(_ADVICE[allowed] for allowed in allowed_operations(status))
        return (
            f"The plan '{name}' was halted by a user and cannot be continued"
            f"{': ' + advice if advice else ''}."
        )
    state = render.plan_state(status)[1]
    return f"Cannot {subject} in state {state}: {_reason(operation, exc.state)}."


def allowed_operations(status: PlanStatus) -> list[Operation]:
    """Return the operations that start a run the plan's state allows now."""
    procedures = (
        ALLOWED_PROCEDURES[status.recovery] if status.recovery is not None else ()
    )
    allowed = {_OPERATIONS[p] for p in procedures if p in _OPERATIONS}
    if status.plan.procedure(DEFAULT_PROCEDURE) is not None:
        allowed.add(Operation.RESTORE)
    return [operation for operation in PROCEDURES if operation in allowed]


def _reason(operation: Operation, state: str) -> str:
    """Return why the operation is refused in the state the error names."""
    if operation is Operation.CONTINUE:
        if state == RunStatus.HALTED:
            return (
                "it halted in a step outside its VM groups, which goes on only "
                "with RetryFailedStep or ProceedToNextStep"
            )
        return "only a HALTED plan can be continued"
    if operation is Operation.HALT:
        if state == RunStatus.CANCELLED:
            return "it was halted by a user already"
        if state == RunStatus.CANCELLING:
            return "it is halting already"
        return "only a running or HALTED plan can be halted"
    return _start_reason(state)


def _start_reason(state: str) -> str:
    """Return why a run cannot start in the state the error names."""
    if state == RunStatus.CANCELLING:
        return "the plan is still halting"
    if state == RunStatus.HALTED or state in _HALTED_RECOVERY:
        return _GO_ON_FIRST
    if state in _RUN_STATES:
        return _RUNNING
    allowed = _RECOVERY_ALLOWS.get(state)
    if allowed is None:
        return "the plan's state does not allow it"
    names = [str(op) for procedure, op in _OPERATIONS.items() if procedure in allowed]
    return f"the plan allows only {' or '.join(names)} now" if names else _RUNNING


def vendor_problem(
    operation: Operation, *, status: PlanStatus, problem: errors.Problem
) -> errors.Problem:
    """Return a problem of a run's start keyed by the request's property."""
    name = status.summary.name
    path = problem.path
    if path == "procedure":
        if operation in _REPLICA_ONLY and render.plan_type(status) == "Restore":
            msg = (
                f"The plan '{name}' is a Restore plan: {operation} applies to "
                "Replica and Storage plans."
            )
        else:
            msg = f"The plan '{name}' has no steps for {operation}."
        return errors.Problem("planId", msg)
    if path == "protect_after":
        msg = f"The plan '{name}' has no steps that protect storage volumes."
        return errors.Problem("protectStorageVolumes", msg)
    if path in ("restore_point", "params.restore_point"):
        msg = f"The plan '{name}' takes no restore point."
        if "restore_point" in status.plan.params:
            msg = problem.message
        return errors.Problem("restorePointDate", msg)
    if path.startswith("params."):
        param = path.removeprefix("params.")
        msg = f"The plan '{name}' needs its parameter '{param}', which VAO cannot give."
        return errors.Problem("planId", msg)
    return errors.Problem("request", problem.message)
