"""Operations: run commands recorded as operations that follow the run to its rest."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain import events
from onward.domain.runs import AttemptStatus, RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.operations import Operations, OperationStatus
from onward.service.places import StepRef
from onward.storage.memory import MemoryStore

PLAN = """
name: two
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: first, action: noop}
      - {name: second, action: noop}
"""
GATED = """
name: gated
groups:
  - name: g
    targets: [a]
    steps:
      - {name: ok, action: approval, with: {message: go, approvers: [cy]}}
"""
ANN = Caller(actor="ann", reason="test")
Outcome = Callable[[str, int], AttemptStatus]


def succeed(_: str, __: int) -> AttemptStatus:
    """Every attempt succeeds."""
    return AttemptStatus.SUCCEEDED


def fail_target_b_once(target: str, number: int) -> AttemptStatus:
    """Target b's first attempt of each step fails; everything else succeeds."""
    return AttemptStatus.FAILED if target == "b" and number == 1 else succeed("", 0)


@pytest.fixture
async def runtime() -> Runtime:
    """Return a runtime over a MemoryStore that runs nothing by itself."""
    runtime = Runtime.open(
        Settings(), executes=False, clock=FrozenClock(), store=MemoryStore()
    )
    await runtime.commands.apply_plan(PLAN)
    await runtime.commands.apply_plan(GATED)
    return runtime


@pytest.fixture
def operations(runtime: Runtime) -> Operations:
    """Return the service under test."""
    return Operations(store=runtime.store, commands=runtime.commands)


async def work(runtime: Runtime, run_id: str, outcome: Outcome) -> RunStatus:
    """Claim and finish every queued attempt as a worker would; return the status."""
    while True:
        state = await runtime.engine.state(run_id)
        queued = [a for a in state.attempts.values() if not a.approval]
        if not queued:
            return state.run.status
        for attempt in queued:
            target = state.stages[attempt.lane.stage].targets[attempt.lane.target]
            claim = events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w")
            await runtime.engine.apply(run_id, claim)
            finish = events.AttemptFinished(
                attempt_id=attempt.attempt_id,
                status=outcome(target.name, attempt.number),
            )
            await runtime.engine.apply(run_id, finish)


async def test_a_started_run_is_running_until_it_rests_then_done_with_its_state(
    runtime: Runtime, operations: Operations
) -> None:
    """The start operation follows the run to its end, with its progress."""
    started = await operations.start_run(ANN, "two")
    before = await operations.get("default", started.operation.operation_id)
    await work(runtime, started.run.run_id, succeed)
    after = await operations.get("default", started.operation.operation_id)

    assert started.status is OperationStatus.RUNNING
    assert started.operation.created_by == "ann"
    assert before.status is OperationStatus.RUNNING
    assert before.progress is not None
    assert before.progress.total == 4
    assert after.status is OperationStatus.DONE
    assert after.result is RunStatus.SUCCEEDED
    assert after.progress is not None
    assert after.progress.succeeded == 4


async def test_an_operation_ends_at_the_rest_a_later_continue_started_from(
    runtime: Runtime, operations: Operations
) -> None:
    """The start is done with "halted" even after a continue moved the run on."""
    started = await operations.start_run(ANN, "two")
    await work(runtime, started.run.run_id, fail_target_b_once)
    continued = await operations.continue_run(
        ANN,
        started.run.run_id,
        events.ContinueOption.RETRY_STEP,
        points=[StepRef(group="g", target="b", step="first")],
    )
    start_view = await operations.get("default", started.operation.operation_id)
    running = await operations.get("default", continued.operation.operation_id)
    await work(runtime, started.run.run_id, succeed)
    continue_view = await operations.get("default", continued.operation.operation_id)

    assert start_view.status is OperationStatus.DONE
    assert start_view.result is RunStatus.HALTED
    assert running.status is OperationStatus.RUNNING
    assert continue_view.result is RunStatus.SUCCEEDED
    listed = await operations.list_operations("default", run_id=started.run.run_id)
    assert [v.operation.command for v in listed] == ["continue", "start"]


async def test_another_workspaces_operation_and_run_are_not_found(
    runtime: Runtime, operations: Operations
) -> None:
    """Operations and run commands are scoped to the caller's workspace."""
    await runtime.auth.ensure_workspace("other")
    started = await operations.start_run(ANN, "two")
    elsewhere = Caller(actor="ann", workspace="other")

    with pytest.raises(errors.OperationNotFoundError):
        await operations.get("other", started.operation.operation_id)
    with pytest.raises(errors.RunNotFoundError):
        await operations.cancel_run(elsewhere, started.run.run_id)
    assert await operations.list_operations("other") == []


async def test_cancelling_an_operation_cancels_its_run_unless_it_is_done(
    runtime: Runtime, operations: Operations
) -> None:
    """A running operation's run is cancelled; a done operation refuses."""
    started = await operations.start_run(ANN, "two")
    cancelled = await operations.cancel(ANN, started.operation.operation_id)
    await work(runtime, started.run.run_id, succeed)
    finished = await operations.get("default", cancelled.operation.operation_id)

    assert cancelled.operation.command == "cancel"
    assert finished.result is RunStatus.CANCELLED
    with pytest.raises(errors.InvalidTransitionError):
        await operations.cancel(ANN, started.operation.operation_id)


async def test_points_naming_nothing_are_refused_with_their_path(
    runtime: Runtime, operations: Operations
) -> None:
    """A continue naming an unknown group fails before anything changes."""
    started = await operations.start_run(ANN, "two")
    await work(runtime, started.run.run_id, fail_target_b_once)

    with pytest.raises(errors.InvalidDefinitionError) as caught:
        await operations.continue_run(
            ANN,
            started.run.run_id,
            events.ContinueOption.RETRY_STEP,
            points=[StepRef(group="g", target="b", step="first"), StepRef(step=0)],
        )

    assert [p.path for p in caught.value.problems] == ["points[1]"]
    run = await runtime.store.get_run(started.run.run_id)
    assert run.status is RunStatus.HALTED


async def test_only_listed_approvers_decide_an_approval(
    runtime: Runtime, operations: Operations
) -> None:
    """Approvers named by the step may decide; anyone else is refused."""
    started = await operations.start_run(ANN, "gated")

    with pytest.raises(errors.PermissionDeniedError):
        await operations.decide_approval(ANN, started.run.run_id, approved=True)
    decided = await operations.decide_approval(
        Caller(actor="cy"), started.run.run_id, approved=True
    )

    assert decided.operation.command == "approve"
    assert decided.run.status is RunStatus.SUCCEEDED
