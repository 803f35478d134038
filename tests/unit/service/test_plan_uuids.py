"""Plan UUIDs: a plan id's own bits, read back; name-based UUIDs of its parts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onward import errors
from onward.ids import new_plan_id
from onward.service.plan_uuids import (
    NAMESPACE,
    find_plan,
    parse_uuid,
    part_uuid,
    plan_id_of,
    plan_uuid,
)
from onward.storage.memory import MemoryStore


def test_the_uuid_of_an_onward_plan_id_spells_it_back() -> None:
    """A plan id made by Onward comes back from its UUID unchanged."""
    plan_id = new_plan_id()

    assert plan_id_of(plan_uuid(plan_id)) == plan_id


@given(st.uuids())
def test_every_uuid_names_a_plan_id_whose_uuid_it_is(value: uuid.UUID) -> None:
    """Any UUID (a vendor's example id) is the UUID of the plan id it spells."""
    assert plan_uuid(plan_id_of(value)) == value


def test_a_plan_id_of_another_form_gets_a_stable_name_based_uuid() -> None:
    """An id Onward did not make is named by uuid5, the same every time."""
    assert plan_uuid("legacy-plan") == uuid.uuid5(NAMESPACE, "legacy-plan")
    assert plan_uuid("legacy-plan") == plan_uuid("legacy-plan")


def test_parts_of_a_plan_get_distinct_stable_uuids() -> None:
    """A group, a target and a step of the same names get three UUIDs, always."""
    plan = plan_uuid(new_plan_id())
    group = part_uuid(plan, "db")
    target = part_uuid(plan, "db", "targets", "db1")
    step = part_uuid(plan, "db", "steps", "db1")

    assert len({group, target, step}) == 3
    assert part_uuid(plan, "db") == group


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("b8517d70-028d-4740-a130-787e164a3d83", True),
        ("{B8517D70-028D-4740-A130-787E164A3D83}", True),
        ("b8517d70028d4740a130787e164a3d83", True),
        ("not-a-guid", False),
        ("", False),
    ],
)
def test_parse_uuid_reads_the_usual_spellings(text: str, expected: bool) -> None:
    """Dashes, braces and case do not matter; anything else is None."""
    assert (parse_uuid(text) is not None) is expected


async def test_find_plan_returns_the_plan_with_the_uuid_or_raises() -> None:
    """A plan is found by its UUID in its workspace only."""
    store = MemoryStore()
    stored = await store.save_plan_version(
        workspace="default",
        name="web",
        source="name: web",
        format="yaml",
        document={"name": "web"},
        digest="d",
        created_by="ann",
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    value = plan_uuid(stored.plan_id)

    found = await find_plan(store, workspace="default", value=value)

    assert found.name == "web"
    with pytest.raises(errors.PlanNotFoundError):
        await find_plan(store, workspace="other", value=value)
    with pytest.raises(errors.PlanNotFoundError):
        await find_plan(store, workspace="default", value=uuid.uuid4())
