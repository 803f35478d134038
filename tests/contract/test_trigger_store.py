"""Contract of the trigger storage: timer fires, data objects, run follow-ups."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from onward import errors
from onward.domain.runs import Run
from onward.domain.triggers import DataObject
from onward.service.ports import RunCommit, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEY = {"workspace": "default", "plan": "nightly", "trigger": "t"}


async def test_a_trigger_that_never_fired_has_no_last_fire(store: Store) -> None:
    """An unknown trigger's last fire is None."""
    assert await store.last_fire(**KEY) is None


async def test_the_first_fire_is_recorded_once(store: Store) -> None:
    """Of two servers recording the same first fire, exactly one wins."""
    first = await store.record_fire(**KEY, fire_at=T0, previous=None)
    second = await store.record_fire(**KEY, fire_at=T0, previous=None)

    assert (first, second) == (True, False)
    assert await store.last_fire(**KEY) == T0


async def test_a_later_fire_moves_the_last_fire_only_from_the_expected_time(
    store: Store,
) -> None:
    """Compare-and-set: a stale previous time loses."""
    await store.record_fire(**KEY, fire_at=T0, previous=None)
    later = T0 + timedelta(hours=1)

    won = await store.record_fire(**KEY, fire_at=later, previous=T0)
    lost = await store.record_fire(
        **KEY, fire_at=later + timedelta(hours=1), previous=T0
    )

    assert (won, lost) == (True, False)
    assert await store.last_fire(**KEY) == later


async def test_concurrent_fires_have_one_winner(store: Store) -> None:
    """Many simultaneous records of the same fire: exactly one succeeds."""
    outcomes = await asyncio.gather(
        *(store.record_fire(**KEY, fire_at=T0, previous=None) for _ in range(5))
    )

    assert outcomes.count(True) == 1


async def test_data_objects_round_trip_and_list_newest_first(store: Store) -> None:
    """Objects keep their content and list newest first, filtered by class."""
    objects = [
        DataObject(
            object_id=f"obj_{n}",
            workspace="default",
            dataclass=kind,
            content={"n": n, "nested": {"ok": True}},
            created_at=T0 + timedelta(minutes=n),
            created_by="sensor",
        )
        for n, kind in enumerate(["alert", "alert", "incident"])
    ]
    for data_object in objects:
        await store.add_data_object(data_object)

    alerts = await store.list_data_objects(workspace="default", dataclass="alert")
    everything = await store.list_data_objects(workspace="default", limit=2)

    assert await store.get_data_object("obj_0") == objects[0]
    assert [o.object_id for o in alerts] == ["obj_1", "obj_0"]
    assert [o.object_id for o in everything] == ["obj_2", "obj_1"]
    assert await store.list_data_objects(workspace="other") == []


async def test_an_unknown_data_object_is_not_found(store: Store) -> None:
    """A missing object raises DataObjectNotFoundError."""
    with pytest.raises(errors.DataObjectNotFoundError):
        await store.get_data_object("obj_missing")


async def test_a_run_keeps_what_follows_it(store: Store) -> None:
    """chain_rest and then_procedure survive a round trip."""
    plan = await store.save_plan_version(
        workspace="default",
        name="p",
        source="",
        format="yaml",
        document={"name": "p"},
        digest="d",
        created_by="a",
        now=T0,
    )
    run = Run(
        run_id="run_1",
        plan_id=plan.plan_id,
        plan_name="p",
        plan_version=1,
        version=1,
        created_at=T0,
        chain=True,
        chain_rest=("b", "c"),
        then_procedure="protect",
    )

    await store.commit_run(RunCommit(run=run, expected_version=0))
    plain = replace(run, run_id="run_2", chain_rest=(), then_procedure=None)
    await store.commit_run(RunCommit(run=plain, expected_version=0))

    assert await store.get_run("run_1") == run
    assert await store.get_run("run_2") == plain
