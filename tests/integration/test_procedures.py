"""Recovery procedures of replica plans follow the plan's recovery state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from onward import errors
from onward.config import Settings
from onward.domain.recovery import RecoveryState
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.recovery import recovery_state
from onward.storage.memory import MemoryStore

REPLICA = """
name: web-dr
kind: replica
groups:
  - name: vms
    targets: [vm1]
    steps: [{name: check, action: noop}]
procedures:
  failover:
    groups:
      - name: vms
        targets: [vm1]
        steps:
          - name: start replica
            action: shell
            with: {command: "test -z '{{ run.params.fail or '' }}'"}
  failback:
    groups: [{name: vms, targets: [vm1], steps: [{name: back, action: noop}]}]
  undo_failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: undo, action: noop}]}]
  protect:
    groups: [{name: vms, targets: [vm1], steps: [{name: protect, action: noop}]}]
params:
  fail: {type: string, required: false}
"""


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """Return a started runtime over a memory store, with the replica plan stored."""
    runtime = Runtime.open(
        Settings(heartbeat_timeout=60), executes=True, store=MemoryStore()
    )
    await runtime.start()
    await runtime.commands.apply_plan(REPLICA)
    yield runtime
    await runtime.close()


async def run_to_rest(runtime: Runtime, procedure: str, **params: str) -> RunStatus:
    """Start a procedure, wait for it to rest, return its status."""
    run = await runtime.commands.start_run("web-dr", procedure=procedure, params=params)
    assert runtime.executor is not None
    await runtime.executor.drain()
    return (await runtime.store.get_run(run.run_id)).status


async def state(runtime: Runtime) -> RecoveryState:
    """Return the plan's recovery state."""
    return await recovery_state(runtime.store, workspace="default", plan="web-dr")


async def test_failover_then_failback_returns_the_plan_to_ready(
    runtime: Runtime,
) -> None:
    """Failover makes the plan failed over; failback makes it ready again."""
    assert await state(runtime) is RecoveryState.READY

    assert await run_to_rest(runtime, "failover") is RunStatus.SUCCEEDED
    failed_over = await state(runtime)
    assert await run_to_rest(runtime, "failback") is RunStatus.SUCCEEDED

    assert failed_over is RecoveryState.FAILED_OVER
    assert await state(runtime) is RecoveryState.READY


async def test_a_second_failover_is_refused_with_a_conflict(runtime: Runtime) -> None:
    """A failed-over plan cannot fail over again; the error names the state."""
    await run_to_rest(runtime, "failover")

    with pytest.raises(errors.InvalidTransitionError) as raised:
        await runtime.commands.start_run("web-dr", procedure="failover")

    assert raised.value.state == "failed_over"


async def test_a_halted_failover_may_be_undone_but_not_failed_back(
    runtime: Runtime,
) -> None:
    """After a halted failover, undo is allowed and failback refused."""
    assert await run_to_rest(runtime, "failover", fail="yes") is RunStatus.HALTED

    with pytest.raises(errors.InvalidTransitionError):
        await runtime.commands.start_run("web-dr", procedure="failback")
    undo = await run_to_rest(runtime, "undo_failover")

    assert undo is RunStatus.SUCCEEDED
    assert await state(runtime) is RecoveryState.READY


async def test_protect_is_allowed_only_once_failed_over(runtime: Runtime) -> None:
    """Protect needs a failed-over plan."""
    with pytest.raises(errors.InvalidTransitionError):
        await runtime.commands.start_run("web-dr", procedure="protect")
    await run_to_rest(runtime, "failover")

    assert await run_to_rest(runtime, "protect") is RunStatus.SUCCEEDED
    assert await state(runtime) is RecoveryState.FAILED_OVER


async def test_a_generic_plan_has_no_recovery_procedures(runtime: Runtime) -> None:
    """Starting failover of a plan without it is a clear definition error."""
    await runtime.commands.apply_plan(
        "name: plain\ngroups: [{name: g, targets: [t], "
        "steps: [{name: s, action: noop}]}]"
    )

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        await runtime.commands.start_run("plain", procedure="failover")

    assert raised.value.problems[0].path == "procedure"


async def test_a_disabled_plan_starts_no_run(runtime: Runtime) -> None:
    """Starting a disabled plan is a conflict naming the state."""
    await runtime.store.set_plan_enabled(
        workspace="default", name="web-dr", enabled=False
    )

    with pytest.raises(errors.InvalidTransitionError) as raised:
        await runtime.commands.start_run("web-dr", procedure="failover")

    assert raised.value.state == "disabled"
