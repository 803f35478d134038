"""PlanRuns and PlanOperations: commands addressed to a plan act on its newest run."""

from __future__ import annotations

import uuid

import pytest
from plan_drive import (
    NIGHTLY,
    REPLICA,
    WEB,
    fail_all,
    fail_b,
    open_runtime,
    succeed,
    work,
)

from onward import errors
from onward.domain.events import ContinueOption
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller, RecoveryOptions
from onward.service.operations import Operations, OperationStatus
from onward.service.plan_runs import PlanOperations, PlanRuns
from onward.service.plan_uuids import plan_uuid

ANN = Caller(actor="ann")


async def uid(runtime: Runtime, name: str) -> uuid.UUID:
    """Return the UUID of a stored plan."""
    stored = await runtime.store.get_plan_version(workspace="default", name=name)
    return plan_uuid(stored.plan_id)


def plan_ops(runtime: Runtime) -> PlanOperations:
    """Return the operations service under test."""
    operations = Operations(store=runtime.store, commands=runtime.commands)
    return PlanOperations(operations=operations, store=runtime.store)


async def test_a_halted_plan_is_continued_through_its_newest_run() -> None:
    """Continue acts on the halted newest run, which then succeeds."""
    runtime = await open_runtime(WEB)
    runs = PlanRuns(commands=runtime.commands)
    plan = await uid(runtime, "web")
    started = await runs.start(ANN, plan)
    halted = await work(runtime, started.run_id, fail_b)

    continued = await runs.continue_newest(ANN, plan, ContinueOption.PROCEED_TARGET)

    assert halted is RunStatus.HALTED
    assert continued.run_id == started.run_id
    assert await work(runtime, started.run_id, succeed) is RunStatus.SUCCEEDED


@pytest.mark.parametrize("newest", ["never", "running", "succeeded"])
async def test_continue_is_refused_unless_the_newest_run_is_halted(
    newest: str,
) -> None:
    """Continue needs a halted newest run; the refusal names the state."""
    runtime = await open_runtime(WEB)
    runs = PlanRuns(commands=runtime.commands)
    plan = await uid(runtime, "web")
    if newest != "never":
        run = await runs.start(ANN, plan)
        if newest == "succeeded":
            await work(runtime, run.run_id, succeed)

    with pytest.raises(errors.InvalidTransitionError) as refused:
        await runs.continue_newest(ANN, plan, ContinueOption.RETRY_STEP)

    assert refused.value.state == {"never": "never run"}.get(newest, newest)
    assert refused.value.command == "continue"


async def test_a_plan_starts_once_at_a_time() -> None:
    """A start is refused while the newest run is running, allowed once it rests."""
    runtime = await open_runtime(WEB)
    runs = PlanRuns(commands=runtime.commands)
    plan = await uid(runtime, "web")
    first = await runs.start(ANN, plan)

    with pytest.raises(errors.InvalidTransitionError) as refused:
        await runs.start(ANN, plan)
    await work(runtime, first.run_id, succeed)
    second = await runs.start(ANN, plan)

    assert refused.value.state == "running"
    assert second.run_id != first.run_id


async def test_a_halted_run_blocks_a_new_run_but_not_a_recovery_procedure() -> None:
    """After a halted failover, undo_failover may start (the recovery state allows)."""
    runtime = await open_runtime(REPLICA)
    runs = PlanRuns(commands=runtime.commands)
    plan = await uid(runtime, "web-dr")
    failover = await runs.start(
        ANN, plan, procedure="failover", recovery=RecoveryOptions()
    )
    await work(runtime, failover.run_id, fail_all)

    with pytest.raises(errors.InvalidTransitionError):
        await runs.start(ANN, plan, procedure="failback")
    undo = await runs.start(ANN, plan, procedure="undo_failover")

    assert undo.procedure == "undo_failover"


async def test_cancel_stops_the_newest_run_and_is_refused_when_it_rests() -> None:
    """A running (or halted) newest run is cancelled; a rested one is refused."""
    runtime = await open_runtime(WEB)
    runs = PlanRuns(commands=runtime.commands)
    plan = await uid(runtime, "web")
    run = await runs.start(ANN, plan)

    cancelling = await runs.cancel_newest(ANN, plan)
    await work(runtime, run.run_id, succeed)
    with pytest.raises(errors.InvalidTransitionError):
        await runs.cancel_newest(ANN, plan)

    assert cancelling.status in (RunStatus.CANCELLING, RunStatus.CANCELLED)
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.CANCELLED


async def test_retry_needs_a_failed_newest_run_and_is_tracked() -> None:
    """Retry is refused until the newest run failed; then it is an operation."""
    runtime = await open_runtime(NIGHTLY)
    operations = plan_ops(runtime)
    plan = await uid(runtime, "nightly")
    started = await operations.start(ANN, plan)

    with pytest.raises(errors.InvalidTransitionError):
        await operations.retry_newest(ANN, plan)
    await work(runtime, started.run.run_id, fail_all)
    retried = await operations.retry_newest(ANN, plan)
    await work(runtime, started.run.run_id, succeed)
    done = await operations.get("default", retried.operation.operation_id)

    assert retried.operation.command == "retry"
    assert retried.status is OperationStatus.RUNNING
    assert done.status is OperationStatus.DONE
    assert done.result is RunStatus.SUCCEEDED


async def test_stopping_an_operation_cancels_its_run_unless_it_is_done() -> None:
    """Stop cancels a running operation's run; a done one is left as it is."""
    runtime = await open_runtime(WEB)
    operations = plan_ops(runtime)
    plan = await uid(runtime, "web")
    started = await operations.start(ANN, plan)

    stopped = await operations.stop(ANN, started.operation.operation_id)
    await work(runtime, started.run.run_id, succeed)
    again = await operations.stop(ANN, started.operation.operation_id)

    assert stopped is not None
    assert stopped.operation.command == "cancel"
    assert again is None
    assert (await runtime.store.get_run(started.run.run_id)).status is (
        RunStatus.CANCELLED
    )


async def test_a_stop_through_the_plan_is_tracked_as_a_cancel() -> None:
    """Cancelling the newest run records a cancel operation."""
    runtime = await open_runtime(WEB)
    operations = plan_ops(runtime)
    plan = await uid(runtime, "web")
    await operations.start(ANN, plan)

    view = await operations.cancel_newest(ANN, plan)

    assert view.operation.command == "cancel"
