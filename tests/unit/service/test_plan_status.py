"""PlanStatuses: where plans stand, found by UUID, with their groups and targets."""

from __future__ import annotations

import uuid

import pytest
from plan_drive import NIGHTLY, REPLICA, WEB, fail_b, open_runtime, succeed, work

from onward import errors
from onward.domain.recovery import RecoveryState
from onward.domain.runs import RunStatus
from onward.service.plan_status import PlanStatuses
from onward.service.plan_uuids import part_uuid


async def test_plans_are_listed_by_name_one_page_at_a_time() -> None:
    """Paging keeps the order by name and tells how many plans there are."""
    runtime = await open_runtime(WEB, NIGHTLY, REPLICA)
    statuses = PlanStatuses(engine=runtime.engine)

    first, total = await statuses.list_statuses("default", offset=0, limit=2)
    rest, _ = await statuses.list_statuses("default", offset=2)

    assert total == 3
    assert [s.summary.name for s in first] == ["nightly", "web"]
    assert [s.summary.name for s in rest] == ["web-dr"]


async def test_a_plan_found_by_uuid_shows_its_newest_run() -> None:
    """The status carries the latest version and the newest run of any procedure."""
    runtime = await open_runtime(WEB)
    statuses = PlanStatuses(engine=runtime.engine)
    (never, *_), _ = await statuses.list_statuses("default")
    first = await runtime.commands.start_run("web")
    await work(runtime, first.run_id, fail_b)
    second = await runtime.commands.start_run("web")
    await work(runtime, second.run_id, succeed)

    status = await statuses.get("default", never.uid)

    assert never.last_run is None
    assert status.last_run is not None
    assert status.last_run.run_id == second.run_id
    assert status.last_run.status is RunStatus.SUCCEEDED
    assert status.recovery is None
    assert [g.name for g in status.procedure.groups] == ["g", "h"]


async def test_a_replica_plan_shows_its_recovery_state_and_failover_groups() -> None:
    """A plan without a run procedure shows its failover's groups."""
    runtime = await open_runtime(REPLICA)
    statuses = PlanStatuses(engine=runtime.engine)
    run = await runtime.commands.start_run("web-dr", procedure="failover")
    await work(runtime, run.run_id, succeed)
    (status,), _ = await statuses.list_statuses("default")

    assert status.recovery is RecoveryState.FAILED_OVER
    assert [t.name for t in status.procedure.groups[0].targets] == ["vm1", "vm2"]


async def test_groups_and_targets_are_found_by_their_uuids() -> None:
    """A target is found in its group, or in any group when none is named."""
    runtime = await open_runtime(WEB)
    statuses = PlanStatuses(engine=runtime.engine)
    (status,), _ = await statuses.list_statuses("default")
    group = status.procedure.groups[0]
    target = group.targets[1]

    _, found_group = await statuses.get_group(
        "default", status.uid, status.group_uuid(group)
    )
    _, in_group, found = await statuses.get_target(
        "default",
        status.uid,
        status.target_uuid(group, target),
        group=status.group_uuid(group),
    )
    _, anywhere, same = await statuses.get_target(
        "default", status.uid, status.target_uuid(group, target)
    )

    assert found_group.name == "g"
    assert (in_group.name, found.name) == ("g", "b")
    assert (anywhere.name, same.name) == ("g", "b")
    assert status.group_uuid(group) == part_uuid(status.uid, "g")


@pytest.mark.parametrize("part", ["group", "target", "target-in-group"])
async def test_unknown_groups_and_targets_are_not_found(part: str) -> None:
    """A UUID that names no group or target is a NotFoundError."""
    runtime = await open_runtime(WEB)
    statuses = PlanStatuses(engine=runtime.engine)
    (status,), _ = await statuses.list_statuses("default")
    group = status.group_uuid(status.procedure.groups[0])
    unknown = uuid.uuid4()

    lookups = {
        "group": lambda: statuses.get_group("default", status.uid, unknown),
        "target": lambda: statuses.get_target("default", status.uid, unknown),
        "target-in-group": lambda: statuses.get_target(
            "default", status.uid, unknown, group=group
        ),
    }

    with pytest.raises(errors.NotFoundError):
        await lookups[part]()
