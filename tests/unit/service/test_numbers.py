"""
Numbers of Onward ids, and finding runs and plans by number, over a MemoryStore.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from onward import errors, ids
from onward.domain.runs import Run
from onward.service import numbers
from onward.service.numbers import Numbers, number_of
from onward.service.ports import PlanVersion, RunCommit
from onward.storage.memory import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def run_id(millis: int, entropy: int) -> str:
    """Return a run id with the given time and random parts."""
    return f"run_{ids._encode(millis, 10)}{ids._encode(entropy, 16)}"


async def add_plan(store: MemoryStore, workspace: str = "default") -> PlanVersion:
    """Store a plan version."""
    return await store.save_plan_version(
        workspace=workspace,
        name="p",
        source="name: p",
        format="yaml",
        document={"name": "p"},
        digest="d",
        created_by="t",
        now=NOW,
    )


async def add_run(store: MemoryStore, plan: PlanVersion, identifier: str) -> Run:
    """Store a run of the plan with the given id."""
    run = Run(
        run_id=identifier,
        plan_id=plan.plan_id,
        plan_name=plan.name,
        plan_version=plan.version,
        workspace=plan.workspace,
        created_at=NOW,
    )
    await store.commit_run(RunCommit(run=run, expected_version=0))
    return run


def test_numbers_are_time_then_random_and_agree_with_onward_ids() -> None:
    """A number is milliseconds * 10**6 + the random part mod 10**6."""
    identifier = ids.new_run_id()

    assert numbers._ALPHABET == ids._ALPHABET
    assert number_of(run_id(1_700_000_000_000, 2026)) == 1_700_000_000_000_002_026
    assert number_of(run_id(5, 10**6 + 7)) == 5_000_007
    assert 0 < (number_of(identifier) or 0) < 2**63


@pytest.mark.parametrize(
    "identifier", ["2026", "run_short", "run_" + "I" * 26, "", "no-separator" * 3]
)
def test_strings_that_are_not_onward_ids_have_no_number(identifier: str) -> None:
    """Anything but prefix_ + 26 base32 characters has no number."""
    assert number_of(identifier) is None


async def test_find_run_reads_the_runs_of_that_millisecond() -> None:
    """find_run returns the run of the number among runs around it."""
    store = MemoryStore()
    plan = await add_plan(store)
    wanted = await add_run(store, plan, run_id(1000, 42))
    await add_run(store, plan, run_id(1000, 43))
    await add_run(store, plan, run_id(999, 42))
    await add_run(store, plan, run_id(1001, 42))

    found = await Numbers(store=store).find_run("default", 1000 * 10**6 + 42)

    assert found.run_id == wanted.run_id


@pytest.mark.parametrize("number", [1000 * 10**6 + 44, -1, 2**80, 0])
async def test_find_run_of_an_unknown_number_is_not_found(number: int) -> None:
    """No run with that number in the workspace: RunNotFoundError."""
    store = MemoryStore()
    plan = await add_plan(store)
    await add_run(store, plan, run_id(1000, 42))

    with pytest.raises(errors.RunNotFoundError):
        await Numbers(store=store).find_run("default", number)


async def test_find_run_stays_in_its_workspace() -> None:
    """A run of another workspace is not found by number."""
    store = MemoryStore()
    plan = await add_plan(store)
    run = await add_run(store, plan, run_id(1000, 42))

    with pytest.raises(errors.RunNotFoundError):
        await Numbers(store=store).find_run("other", number_of(run.run_id) or 0)


async def test_find_plan_by_number() -> None:
    """find_plan returns the workspace's plan whose id has the number."""
    store = MemoryStore()
    plan = await add_plan(store)

    found = await Numbers(store=store).find_plan(
        "default", number_of(plan.plan_id) or 0
    )
    with pytest.raises(errors.PlanNotFoundError):
        await Numbers(store=store).find_plan("default", 1)

    assert found.plan_id == plan.plan_id
