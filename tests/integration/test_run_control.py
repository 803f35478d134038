"""
RunControls on real runs: each control picks the command the run's state needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

import pytest

from onward import errors
from onward.config import Settings
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.run_control import RunControl, RunControls, controls_for
from onward.storage.memory import MemoryStore

#: the python action fails at once (no such function): the run halts
HALTING: Final = """
name: halting
groups:
  - name: g
    targets: [a]
    steps:
      - {name: broken, action: python, with: {function: "json:no_such_function"}}
      - {name: after, action: noop}
"""
FAILING: Final = HALTING.replace(
    "name: halting\n", "name: failing\non_critical_failure: fail\n"
)


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """Return a started runtime that executes steps."""
    settings = Settings(concurrency=2, heartbeat_timeout=60, shutdown_grace=1)
    opened = Runtime.open(settings, executes=True, store=MemoryStore())
    await opened.start()
    yield opened
    await opened.close()


async def rested(runtime: Runtime, plan: str, status: RunStatus) -> Run:
    """Apply a plan, start a run and wait until it is in ``status``."""
    await runtime.commands.apply_plan(plan)
    name = plan.split("name: ", 1)[1].split("\n", 1)[0]
    run = await runtime.commands.start_run(name)
    for _ in range(500):
        run = await runtime.store.get_run(run.run_id)
        if run.status is status:
            return run
        await asyncio.sleep(0.01)
    raise AssertionError(run.status)


async def commands(runtime: Runtime, run: Run) -> list[tuple[str, dict[str, object]]]:
    """Return the commands of the run's audit trail, with their details."""
    return [
        (a.command, dict(a.details)) for a in await runtime.store.list_audit(run.run_id)
    ]


async def test_retry_failed_step_continues_a_halted_run(runtime: Runtime) -> None:
    """On a halted run it is a continue with retry-step."""
    run = await rested(runtime, HALTING, RunStatus.HALTED)

    await RunControls(commands=runtime.commands).apply(
        RunControl.RETRY_FAILED_STEP, run.run_id, caller=Caller()
    )

    assert (
        "continue",
        {"option": "retry-step", "points": [], "input_overrides": {}},
    ) in (await commands(runtime, run))


async def test_retry_failed_step_retries_a_failed_run(runtime: Runtime) -> None:
    """On a failed run it is a retry of the run."""
    run = await rested(runtime, FAILING, RunStatus.FAILED)

    done = await RunControls(commands=runtime.commands).apply(
        RunControl.RETRY_FAILED_STEP, run.run_id, caller=Caller()
    )

    assert done.run_attempt == 2
    assert "retry" in [name for name, _ in await commands(runtime, run)]


async def test_skip_failed_step_proceeds_on_a_halted_run_only(runtime: Runtime) -> None:
    """On a halted run it is a continue with proceed-step; a failed run refuses it."""
    halted = await rested(runtime, HALTING, RunStatus.HALTED)
    failed = await rested(runtime, FAILING, RunStatus.FAILED)
    controls = RunControls(commands=runtime.commands)

    await controls.apply(RunControl.SKIP_FAILED_STEP, halted.run_id, caller=Caller())
    with pytest.raises(errors.InvalidTransitionError):
        await controls.apply(
            RunControl.SKIP_FAILED_STEP, failed.run_id, caller=Caller()
        )

    assert (
        "continue",
        {"option": "proceed-step", "points": [], "input_overrides": {}},
    ) in (await commands(runtime, halted))


async def test_cancel_controls_cancel(runtime: Runtime) -> None:
    """cancel and force-cancel cancel the run, gracefully or by force."""
    run = await rested(runtime, HALTING, RunStatus.HALTED)

    done = await RunControls(commands=runtime.commands).apply(
        RunControl.FORCE_CANCEL, run.run_id, caller=Caller()
    )

    assert done.status is RunStatus.CANCELLED
    assert ("cancel", {"mode": "force"}) in await commands(runtime, run)


async def test_controls_stay_in_the_callers_workspace(runtime: Runtime) -> None:
    """A run of another workspace is not found."""
    run = await rested(runtime, HALTING, RunStatus.HALTED)

    with pytest.raises(errors.RunNotFoundError):
        await RunControls(commands=runtime.commands).apply(
            RunControl.CANCEL, run.run_id, caller=Caller(workspace="other")
        )


async def test_controls_for_each_state(runtime: Runtime) -> None:
    """A halted run allows all four; a failed one only the retry."""
    halted = await rested(runtime, HALTING, RunStatus.HALTED)
    failed = await rested(runtime, FAILING, RunStatus.FAILED)

    assert controls_for(halted) == tuple(RunControl)
    assert controls_for(failed) == (RunControl.RETRY_FAILED_STEP,)
