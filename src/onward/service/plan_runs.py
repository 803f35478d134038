"""
Commands addressed to a plan rather than a run: start it, and steer its newest run.

APIs that know plans but not runs (a vendor's plan or job) address a plan by its
UUID (see ``plan_uuids``) and act on its newest run. A plan addressed so runs
one run at a time:

* starting is refused while its newest run is in flight (pending, running,
  waiting, cancelling), or halted, unless the procedure is a recovery one: then
  the plan's recovery state decides (an undo after a halted failover);
* continue needs the newest run halted; retry needs it failed; cancel needs it
  in flight (not already cancelling) or halted.

``PlanRuns`` answers with the run; ``PlanOperations`` records each command as
an operation to follow, for APIs that answer with a task.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from onward import errors
from onward.domain.events import ContinueOption
from onward.domain.plans import DEFAULT_PROCEDURE, RECOVERY_PROCEDURES
from onward.domain.runs import Run, RunStatus
from onward.service.commands import Caller, Commands, RecoveryOptions
from onward.service.operations import Operations, OperationStatus, OperationView
from onward.service.plan_status import latest_run
from onward.service.plan_uuids import find_plan
from onward.service.ports import PlanSummary, Store

S = RunStatus
#: a run in these states still moves by itself
IN_FLIGHT: Final = frozenset({S.PENDING, S.RUNNING, S.WAITING, S.CANCELLING})
#: a newest run in these states may be cancelled
CANCELLABLE: Final = frozenset({S.PENDING, S.RUNNING, S.WAITING, S.HALTED})
_NO_RECOVERY: Final = RecoveryOptions()


class PlanRuns:
    """Starts plans and steers their newest runs, answering with the run."""

    def __init__(self, *, commands: Commands) -> None:
        self._commands = commands
        self._store = commands.store

    async def start(
        self,
        caller: Caller,
        plan: uuid.UUID,
        *,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, Any] | None = None,
        chain: bool = False,
        recovery: RecoveryOptions = _NO_RECOVERY,
    ) -> Run:
        """Start a procedure of the plan, unless its newest run is still going."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        _check_start(summary, newest, procedure)
        return await self._commands.start_run(
            summary.name,
            procedure=procedure,
            params=params,
            chain=chain,
            recovery=recovery,
            caller=caller,
        )

    async def continue_newest(
        self, caller: Caller, plan: uuid.UUID, option: ContinueOption
    ) -> Run:
        """Go on with the plan's newest run, which must be halted."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        run = _require(summary, newest, frozenset({S.HALTED}), "continue")
        return await self._commands.continue_run(run.run_id, option, caller=caller)

    async def cancel_newest(
        self, caller: Caller, plan: uuid.UUID, *, force: bool = False
    ) -> Run:
        """Cancel the plan's newest run, which must be in flight or halted."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        run = _require(summary, newest, CANCELLABLE, "cancel")
        return await self._commands.cancel_run(run.run_id, force=force, caller=caller)


class PlanOperations:
    """The same commands, each recorded as an operation that follows the run."""

    def __init__(self, *, operations: Operations, store: Store) -> None:
        self._operations = operations
        self._store = store

    async def start(self, caller: Caller, plan: uuid.UUID) -> OperationView:
        """Start the plan's ``run`` procedure, unless its newest run is still going."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        _check_start(summary, newest, DEFAULT_PROCEDURE)
        return await self._operations.start_run(caller, summary.name)

    async def retry_newest(self, caller: Caller, plan: uuid.UUID) -> OperationView:
        """Retry the plan's newest run, which must have ended failed."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        run = _require(summary, newest, frozenset({S.FAILED}), "retry")
        return await self._operations.retry_run(caller, run.run_id)

    async def cancel_newest(
        self, caller: Caller, plan: uuid.UUID, *, force: bool = False
    ) -> OperationView:
        """Cancel the plan's newest run, which must be in flight or halted."""
        summary, newest = await _newest(self._store, caller.workspace, plan)
        run = _require(summary, newest, CANCELLABLE, "cancel")
        return await self._operations.cancel_run(caller, run.run_id, force=force)

    async def get(self, workspace: str, operation_id: str) -> OperationView:
        """Return an operation of the workspace with its state."""
        return await self._operations.get(workspace, operation_id)

    async def stop(self, caller: Caller, operation_id: str) -> OperationView | None:
        """Cancel the run of a running operation; nothing to do for a done one.

        Returns:
            The cancel operation, or None when the operation was already done.
        """
        view = await self._operations.get(caller.workspace, operation_id)
        if view.status is OperationStatus.DONE:
            return None
        return await self._operations.cancel(caller, operation_id)


async def _newest(
    store: Store, workspace: str, plan: uuid.UUID
) -> tuple[PlanSummary, Run | None]:
    summary = await find_plan(store, workspace=workspace, value=plan)
    return summary, await latest_run(store, workspace=workspace, plan=summary.name)


def _check_start(summary: PlanSummary, newest: Run | None, procedure: str) -> None:
    if newest is None:
        return
    halted_blocks = newest.status is S.HALTED and procedure not in RECOVERY_PROCEDURES
    if newest.status in IN_FLIGHT or halted_blocks:
        raise errors.InvalidTransitionError(
            subject=f"plan {summary.name}",
            state=newest.status.value,
            command=f"start {procedure}",
            reason=(
                f"its run {newest.run_id} is {newest.status.value}; "
                "a plan runs one run at a time"
            ),
        )


def _require(
    summary: PlanSummary,
    newest: Run | None,
    allowed: frozenset[RunStatus],
    command: str,
) -> Run:
    if newest is not None and newest.status in allowed:
        return newest
    wanted = " or ".join(sorted(status.value for status in allowed))
    raise errors.InvalidTransitionError(
        subject=f"plan {summary.name}",
        state=newest.status.value if newest is not None else "never run",
        command=command,
        reason=f"{command} needs the plan's newest run {wanted}",
    )
