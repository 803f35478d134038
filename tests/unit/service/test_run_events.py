"""RunChanges: a run's changes as a stream, from this engine and from re-reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.run_events import RunChanges
from onward.storage.memory import MemoryStore

PLAN = "name: one\ngroups: [{name: g, targets: [a], steps: [{name: s, action: noop}]}]"
GATED = (
    "name: gated\ngroups: [{name: g, targets: [a], steps: "
    "[{name: s, action: approval, with: {message: go}}]}]"
)


@pytest.fixture
async def runtime() -> Runtime:
    """Return a runtime that runs nothing by itself, with two plans."""
    runtime = Runtime.open(
        Settings(), executes=False, clock=FrozenClock(), store=MemoryStore()
    )
    await runtime.commands.apply_plan(PLAN)
    await runtime.commands.apply_plan(GATED)
    return runtime


async def test_a_follower_gets_each_new_version_until_the_run_finishes(
    runtime: Runtime,
) -> None:
    """The approval's decision reaches the follower; the stream then ends."""
    changes = RunChanges(engine=runtime.engine)
    run = await runtime.commands.start_run("gated")
    stream = changes.follow(run.run_id)
    first = await anext(stream)
    await runtime.commands.decide_approval(run.run_id, approved=True)
    rest = [change async for change in stream]

    assert first is not None
    assert first.status is RunStatus.WAITING
    assert [c.status for c in rest if c is not None] == [RunStatus.SUCCEEDED]


async def test_a_finished_run_already_seen_yields_nothing(runtime: Runtime) -> None:
    """Following from the final version ends at once."""
    changes = RunChanges(engine=runtime.engine)
    run = await runtime.commands.start_run("gated")
    done = await runtime.commands.cancel_run(run.run_id)

    seen = [c async for c in changes.follow(run.run_id, after_version=done.version)]

    assert done.status is RunStatus.CANCELLED
    assert seen == []


async def test_nothing_new_is_a_tick_and_other_processes_changes_are_polled(
    runtime: Runtime,
) -> None:
    """A tick comes first when nothing is new; a change saved elsewhere is re-read."""
    changes = RunChanges(engine=runtime.engine, poll_interval=timedelta(0))
    run = await runtime.commands.start_run("gated")
    current = await runtime.store.get_run(run.run_id)
    stream = changes.follow(
        run.run_id, after_version=current.version, idle=timedelta(hours=1)
    )
    tick = await anext(stream)
    elsewhere = await _save_elsewhere(runtime, current)
    change = await anext(stream)
    await stream.aclose()

    assert tick is None
    assert change == elsewhere


async def _save_elsewhere(runtime: Runtime, run: Run) -> Run:
    """Cancel the run through a second engine, as another server would."""
    other = Runtime.open(Settings(), executes=False, store=runtime.store)
    await other.commands.cancel_run(run.run_id)
    return await runtime.store.get_run(run.run_id)
