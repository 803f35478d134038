"""
RunScans over a MemoryStore: offset windows with totals, tests, order, sources.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from onward import errors
from onward.domain.runs import Run, RunStatus, Trigger
from onward.domain.triggers import DataObject
from onward.service import run_scans
from onward.service.ports import RunCommit, RunFilter
from onward.service.run_scans import RunScans
from onward.storage.memory import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def seeded(count: int) -> tuple[MemoryStore, list[Run]]:
    """Return a store with ``count`` runs (oldest first), even ones succeeded."""
    store = MemoryStore()
    plan = await store.save_plan_version(
        workspace="default",
        name="p",
        source="name: p",
        format="yaml",
        document={"name": "p"},
        digest="d",
        created_by="t",
        now=NOW,
    )
    runs = []
    for index in range(count):
        run = Run(
            run_id=f"run_{index:04d}",
            plan_id=plan.plan_id,
            plan_name="p",
            plan_version=1,
            created_at=NOW,
            status=RunStatus.SUCCEEDED if index % 2 == 0 else RunStatus.FAILED,
        )
        await store.commit_run(RunCommit(run=run, expected_version=0))
        runs.append(run)
    return store, runs


async def test_a_window_newest_first_with_the_total(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """offset and limit cut the selection, newest first, across store pages."""
    monkeypatch.setattr(run_scans, "_PAGE", 3)
    store, _ = await seeded(10)

    page = await RunScans(store=store).scan(RunFilter(), offset=2, limit=3)

    assert [r.run_id for r in page.runs] == ["run_0007", "run_0006", "run_0005"]
    assert page.total == 10


async def test_a_window_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """oldest_first orders the selection from the oldest run."""
    monkeypatch.setattr(run_scans, "_PAGE", 4)
    store, _ = await seeded(10)

    page = await RunScans(store=store).scan(
        RunFilter(), offset=8, limit=5, oldest_first=True
    )

    assert [r.run_id for r in page.runs] == ["run_0008", "run_0009"]
    assert page.total == 10


async def test_a_further_test_selects_and_counts() -> None:
    """keep refuses runs: they are neither returned nor counted."""
    store, _ = await seeded(6)

    page = await RunScans(store=store).scan(
        RunFilter(statuses=(RunStatus.SUCCEEDED,)),
        offset=0,
        limit=10,
        keep=lambda run, source: run.run_id != "run_0002",
    )

    assert [r.run_id for r in page.runs] == ["run_0004", "run_0000"]
    assert page.total == 2


async def test_negative_offsets_and_limits_are_invalid() -> None:
    """offset and limit are 0 or more."""
    store, _ = await seeded(1)

    with pytest.raises(errors.InvalidDefinitionError):
        await RunScans(store=store).scan(RunFilter(), offset=-1, limit=1)


async def test_event_runs_come_with_their_data_object() -> None:
    """sources=True reads the data object of event runs, for keep and the page."""
    store, runs = await seeded(2)
    data_object = DataObject(
        object_id="obj_1",
        workspace="default",
        dataclass="alert",
        content={"name": "disk"},
        created_at=NOW,
    )
    await store.add_data_object(data_object)
    event = replace(
        runs[0], run_id="run_9999", trigger=Trigger.EVENT, triggered_by="obj_1"
    )
    await store.commit_run(RunCommit(run=event, expected_version=0))
    seen: list[DataObject | None] = []

    def keep(run: Run, source: DataObject | None) -> bool:
        seen.append(source)
        return True

    page = await RunScans(store=store).scan(
        RunFilter(), offset=0, limit=10, keep=keep, sources=True
    )
    found = await RunScans(store=store).get("default", "run_9999")

    assert page.sources == {"run_9999": data_object}
    assert seen == [data_object, None, None]
    assert found.source == data_object


async def test_get_stays_in_its_workspace() -> None:
    """A run of another workspace is not found."""
    store, runs = await seeded(1)

    with pytest.raises(errors.RunNotFoundError):
        await RunScans(store=store).get("other", runs[0].run_id)
