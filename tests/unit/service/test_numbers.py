"""
Runs by number: found within a workspace, and scanned in number order (MemoryStore).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from onward import errors
from onward.domain.runs import Run, RunStatus
from onward.service.numbers import NumberedRun, Numbers
from onward.service.ports import PlanVersion, RunCommit, RunFilter
from onward.storage.memory import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def add_plan(
    store: MemoryStore, name: str = "p", workspace: str = "default"
) -> PlanVersion:
    """Store a plan version."""
    return await store.save_plan_version(
        workspace=workspace,
        name=name,
        source=f"name: {name}",
        format="yaml",
        document={"name": name},
        digest=name,
        created_by="t",
        now=NOW,
    )


async def add_run(
    store: MemoryStore,
    plan: PlanVersion,
    run_id: str,
    *,
    status: RunStatus = RunStatus.SUCCEEDED,
    created_at: datetime = NOW,
) -> Run:
    """Store a run of the plan with the given id."""
    run = Run(
        run_id=run_id,
        plan_id=plan.plan_id,
        plan_name=plan.name,
        plan_version=plan.version,
        workspace=plan.workspace,
        status=status,
        version=1,
        created_at=created_at,
    )
    await store.commit_run(RunCommit(run=run, expected_version=0))
    return run


def numbers_of(runs: tuple[NumberedRun, ...]) -> list[int]:
    """Return the numbers of numbered runs, in their order."""
    return [run.number for run in runs]


async def test_find_run_returns_the_run_with_its_number_and_its_plans() -> None:
    """The number the store gave a run finds it, with its plan's number."""
    store = MemoryStore()
    await add_plan(store, "first")
    plan = await add_plan(store, "second")
    await add_run(store, plan, "run_b")
    wanted = await add_run(store, plan, "run_a")

    found = await Numbers(store=store).find_run("default", 2)

    assert found == NumberedRun(run=wanted, number=2, plan_number=2)


@pytest.mark.parametrize("number", [0, -1, 2, 2**63, 2**80])
async def test_find_run_of_an_unused_number_is_not_found(number: int) -> None:
    """No run has that number: RunNotFoundError."""
    store = MemoryStore()
    await add_run(store, await add_plan(store), "run_1")

    with pytest.raises(errors.RunNotFoundError):
        await Numbers(store=store).find_run("default", number)


async def test_find_run_stays_in_its_workspace() -> None:
    """A run of another workspace is not found by its number."""
    store = MemoryStore()
    await add_run(store, await add_plan(store, workspace="other"), "run_1")

    with pytest.raises(errors.RunNotFoundError):
        await Numbers(store=store).find_run("default", 1)


async def test_a_scan_is_newest_first_by_number_and_counts_the_selection() -> None:
    """By default the largest number comes first, whatever the run ids say."""
    store = MemoryStore()
    plan = await add_plan(store)
    for run_id in ("run_z", "run_a", "run_m"):
        await add_run(store, plan, run_id)

    page = await Numbers(store=store).scan(RunFilter(), offset=0, limit=10)

    assert numbers_of(page.runs) == [3, 2, 1]
    assert [run.run.run_id for run in page.runs] == ["run_m", "run_a", "run_z"]
    assert page.total == 3


async def test_a_scan_sorts_by_a_key_keeps_what_passes_and_cuts_a_window() -> None:
    """key, descending, keep, offset and limit apply to the whole selection."""
    store = MemoryStore()
    plan = await add_plan(store)
    for index in range(6):
        later = NOW - timedelta(minutes=index)
        await add_run(store, plan, f"run_{index}", created_at=later)

    page = await Numbers(store=store).scan(
        RunFilter(),
        offset=1,
        limit=2,
        keep=lambda run: run.number != 3,
        key=lambda run: run.run.created_at,
        descending=False,
    )

    # created_at runs backwards: the oldest is number 6
    assert numbers_of(page.runs) == [5, 4]
    assert page.total == 5


async def test_a_scan_reads_every_page_of_a_large_selection() -> None:
    """More runs than a store page: the window and the count cover them all."""
    store = MemoryStore()
    plan = await add_plan(store)
    other = await add_plan(store, "other")
    for index in range(1203):
        await add_run(store, plan if index % 2 else other, f"run_{index:05d}")

    scans = Numbers(store=store)
    newest = await scans.scan(RunFilter(), offset=0, limit=2)
    oldest = await scans.scan(RunFilter(), offset=1200, limit=5, descending=False)
    past = await scans.scan(RunFilter(), offset=5000, limit=5)

    assert numbers_of(newest.runs) == [1203, 1202]
    assert [run.plan_number for run in newest.runs] == [2, 1]
    assert numbers_of(oldest.runs) == [1201, 1202, 1203]
    assert (newest.total, oldest.total, past.total, past.runs) == (1203, 1203, 1203, ())


async def test_a_scan_keeps_to_the_store_filter() -> None:
    """The filter's workspace and statuses select before the numbers are read."""
    store = MemoryStore()
    plan = await add_plan(store)
    await add_run(store, plan, "run_1", status=RunStatus.FAILED)
    await add_run(store, plan, "run_2")
    await add_run(store, await add_plan(store, workspace="other"), "run_3")

    page = await Numbers(store=store).scan(
        RunFilter(statuses=(RunStatus.FAILED,)), offset=0, limit=10
    )

    assert numbers_of(page.runs) == [1]
    assert page.total == 1
