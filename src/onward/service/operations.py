"""
Run commands accepted as operations: each records an Operation that follows the run.

An operation is *running* until the run it acted on rests (halted, succeeded,
failed or cancelled) at the operation's version or later; it is then *done*
and its result is that resting state. When a later continue, retry or resume
of the same run was accepted, the run must have rested in between (those
commands are refused otherwise), so the earlier operation is done with the
state that command started from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from onward import errors
from onward.domain import events
from onward.domain.plans import DEFAULT_PROCEDURE
from onward.domain.runs import LaneKey, Run, RunState, RunStatus, StepStatus
from onward.ids import new_id
from onward.service.commands import Caller, Commands, RecoveryOptions
from onward.service.places import StepRef, resolve_step
from onward.service.ports import FullStore, Operation

#: run states in which nothing moves until someone acts
RESTING: Final = frozenset(
    {RunStatus.HALTED, RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}
)
#: commands accepted only from one resting state, and that state
_FROM_REST: Final[Mapping[str, RunStatus]] = {
    "continue": RunStatus.HALTED,
    "retry": RunStatus.FAILED,
    "resume": RunStatus.HALTED,
}


class OperationStatus(StrEnum):
    """Where an operation is."""

    #: the run has not rested since the command
    RUNNING = "running"
    #: the run rested; the result is that state
    DONE = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """How far a run has come, in steps of targets."""

    total: int
    succeeded: int
    failed: int
    skipped: int
    running: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationView:
    """An operation with its derived state, the run now and its progress."""

    operation: Operation
    status: OperationStatus
    #: the run's resting state that ended the operation (None while running)
    result: RunStatus | None
    run: Run
    #: None when not computed (for a command just accepted)
    progress: Progress | None


class Operations:
    """Sends run commands for a workspace and tracks each as an operation."""

    def __init__(self, *, store: FullStore, commands: Commands) -> None:
        self._store = store
        self._commands = commands
        self._engine = commands.engine

    async def start_run(
        self,
        caller: Caller,
        plan: str,
        *,
        version: int | None = None,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, Any] | None = None,
        chain: bool = False,
        recovery: RecoveryOptions | None = None,
    ) -> OperationView:
        """Start a run of a plan of the caller's workspace."""
        run = await self._commands.start_run(
            plan,
            version=version,
            procedure=procedure,
            params=params,
            chain=chain,
            recovery=recovery or RecoveryOptions(),
            caller=caller,
        )
        return await self._accepted(run, "start", caller)

    async def continue_run(
        self,
        caller: Caller,
        run_id: str,
        option: events.ContinueOption,
        *,
        points: Sequence[StepRef] | None = None,
        input_overrides: Mapping[str, Any] | None = None,
        preview_token: str | None = None,
    ) -> OperationView:
        """Go on with a halted run (at every halt point, or the named ones)."""
        state = await self.run_state(caller.workspace, run_id)
        run = await self._commands.continue_run(
            run_id,
            option,
            points=resolve_points(state, points),
            input_overrides=input_overrides,
            preview_token=preview_token,
            caller=caller,
        )
        return await self._accepted(run, "continue", caller)

    async def retry_run(
        self, caller: Caller, run_id: str, *, preview_token: str | None = None
    ) -> OperationView:
        """Run a failed run again from each failed step."""
        await self.run_state(caller.workspace, run_id)
        run = await self._commands.retry_run(
            run_id, preview_token=preview_token, caller=caller
        )
        return await self._accepted(run, "retry", caller)

    async def cancel_run(
        self, caller: Caller, run_id: str, *, force: bool = False
    ) -> OperationView:
        """Cancel a run, gracefully or killing its running attempts."""
        await self.run_state(caller.workspace, run_id)
        run = await self._commands.cancel_run(run_id, force=force, caller=caller)
        return await self._accepted(run, "cancel", caller)

    async def resume_run(
        self, caller: Caller, run_id: str, at: StepRef
    ) -> OperationView:
        """Resume a halted run's target at a chosen step."""
        state = await self.run_state(caller.workspace, run_id)
        lane, step = resolve_step(state.stages, at, path="")
        run = await self._commands.resume_run(
            run_id, lane=lane, step=step, caller=caller
        )
        return await self._accepted(run, "resume", caller)

    async def decide_approval(
        self,
        caller: Caller,
        run_id: str,
        *,
        approved: bool,
        attempt_id: str | None = None,
        comment: str = "",
    ) -> OperationView:
        """Approve or reject a waiting approval step, if the caller may decide it."""
        run = await self._commands.decide_approval(
            run_id,
            approved=approved,
            attempt_id=attempt_id,
            comment=comment,
            caller=caller,
        )
        return await self._accepted(run, "approve" if approved else "reject", caller)

    async def get(self, workspace: str, operation_id: str) -> OperationView:
        """Return an operation of the workspace with its state."""
        operation = await self._store.get_operation(operation_id)
        if operation.workspace != workspace:
            raise errors.OperationNotFoundError(operation_id=operation_id)
        return await self._view(operation)

    async def list_operations(
        self, workspace: str, *, run_id: str | None = None, limit: int = 100
    ) -> list[OperationView]:
        """Return the workspace's operations (of one run, if named), newest first."""
        found = await self._store.list_operations(
            workspace=workspace, run_id=run_id, limit=limit
        )
        return [await self._view(operation) for operation in found]

    async def cancel(
        self, caller: Caller, operation_id: str, *, force: bool = False
    ) -> OperationView:
        """Cancel the run of an operation that is still running."""
        view = await self.get(caller.workspace, operation_id)
        if view.status is OperationStatus.DONE:
            raise errors.InvalidTransitionError(
                subject=f"operation {operation_id}",
                state=view.status.value,
                command="cancel",
                reason=f"the run rested {view.result}",
            )
        return await self.cancel_run(caller, view.run.run_id, force=force)

    async def run_state(self, workspace: str, run_id: str) -> RunState:
        """Return a run's decision state; a run of another workspace is not found."""
        state = await self._engine.state(run_id)
        if state.run.workspace != workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        return state

    async def _accepted(self, run: Run, command: str, caller: Caller) -> OperationView:
        operation = Operation(
            operation_id=new_id("op"),
            workspace=run.workspace,
            run_id=run.run_id,
            command=command,
            run_version=run.version,
            created_at=self._engine.clock.now(),
            created_by=caller.actor,
        )
        await self._store.add_operation(operation)
        rested = run.status in RESTING
        return OperationView(
            operation=operation,
            status=OperationStatus.DONE if rested else OperationStatus.RUNNING,
            result=run.status if rested else None,
            run=run,
            progress=None,
        )

    async def _view(self, operation: Operation) -> OperationView:
        run = await self._store.get_run(operation.run_id)
        result = await self._rested_at(operation, run)
        return OperationView(
            operation=operation,
            status=OperationStatus.RUNNING if result is None else OperationStatus.DONE,
            result=result,
            run=run,
            progress=await self._progress(run),
        )

    async def _rested_at(self, operation: Operation, run: Run) -> RunStatus | None:
        later = [
            other
            for other in await self._store.list_operations(
                workspace=operation.workspace, run_id=operation.run_id
            )
            if other.run_version > operation.run_version and other.command in _FROM_REST
        ]
        if later:
            return _FROM_REST[min(later, key=lambda o: o.run_version).command]
        if run.status in RESTING and run.version >= operation.run_version:
            return run.status
        return None

    async def _progress(self, run: Run) -> Progress:
        state = await self._engine.state(run.run_id)
        counts = Counter(
            step.status
            for lane in await self._store.list_lanes(run.run_id)
            for step in lane.steps
        )
        return Progress(
            total=sum(len(s.targets) * len(s.steps) for s in state.stages),
            succeeded=counts[StepStatus.SUCCEEDED],
            failed=counts[StepStatus.FAILED],
            skipped=counts[StepStatus.SKIPPED],
            running=counts[StepStatus.RUNNING],
        )


def resolve_points(
    state: RunState, points: Sequence[StepRef] | None
) -> tuple[tuple[LaneKey, int], ...] | None:
    """Return the lanes and steps named by operator references (None: all)."""
    if points is None:
        return None
    return tuple(
        resolve_step(state.stages, point, path=f"points[{index}]")
        for index, point in enumerate(points)
    )
