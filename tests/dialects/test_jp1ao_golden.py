"""JP1/AO answers, whole: a task, a list, actions, descriptors, invoke; the roles."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    JP1_HOST,
    OTHER_PASSWORD,
    SEED_AUTH,
    TASKS,
    basic,
    finished_quick_run,
    halted_marker_run,
    jp1_error,
    plan_number,
    run_number,
    store_user,
    wait_for,
)

from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime

#: the actions of a halted task, in the order JP1/AO's list gives them
HALTED_ACTIONS: Final = ("rerunStart", "rerunStepStart", "stop", "forceStop")
#: an invoke answer's times: ISO 8601 with milliseconds and the UTC offset
ISO_MS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


def iso(moment: datetime | None) -> str | None:
    """Return a time as JP1/AO writes it: milliseconds and the offset of UTC."""
    if moment is None:
        return None
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+00:00"


async def expected_task(runtime: Runtime, run: Run) -> dict[str, Any]:
    """Return every member of the task of a run at rest, as JP1/AO lists them."""
    run = await runtime.store.get_run(run.run_id)
    halted = run.status is RunStatus.HALTED
    return {
        "instanceID": await run_number(runtime, run),
        "name": f"{run.plan_name}_{run.created_at:%Y%m%d%H%M%S}",
        "status": "failed" if halted else "completed",
        "startTime": iso(run.started_at),
        "completionTime": iso(run.finished_at),
        "scheduledStartTime": None,
        "submitter": "operator",
        "submitTime": iso(run.created_at),
        "modifyTime": iso(run.updated_at),
        "serviceState": "release",
        "scheduleType": "immediate",
        "description": "",
        "serviceName": run.plan_name,
        "tags": "",
        "serviceGroupName": "default",
        "toDo": halted,
        "notes": "",
        "serviceID": await plan_number(runtime, run.plan_id),
    }


def descriptor(number: int, name: str) -> dict[str, Any]:
    """Return the descriptor of a task's action, as the seed shows it."""
    return {
        "name": name,
        "href": f"http://{JP1_HOST}{TASKS}/{number}/actions/{name}/invoke",
        "method": "POST",
        "parameters": [],
    }


# --- whole answers ------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_a_halted_task_is_answered_with_every_member(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET a failed (halted) task: all 18 members, nothing else."""
    run = await halted_marker_run(runtime, tmp_path)
    expected = await expected_task(runtime, run)

    response = await jp1ao.get(f"{TASKS}/{expected['instanceID']}", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == expected
    assert expected["completionTime"] is None
    # modified when it halted, after it started
    stored = await runtime.store.get_run(run.run_id)
    assert stored.started_at is not None
    assert stored.updated_at is not None
    assert stored.updated_at > stored.started_at


@pytest.mark.usefixtures("system")
async def test_a_task_list_is_answered_with_every_member_of_every_task(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET the tasks: {data: [tasks, newest first], count}, nothing else."""
    halted = await halted_marker_run(runtime, tmp_path)
    done = await finished_quick_run(runtime)
    expected = [await expected_task(runtime, run) for run in (done, halted)]

    response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == {"data": expected, "count": 2}
    assert [task["instanceID"] for task in expected] == [2, 1]
    assert expected[0]["completionTime"] == expected[0]["modifyTime"] is not None


@pytest.mark.usefixtures("system")
async def test_the_actions_of_a_halted_task_are_answered_whole(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET the actions: {data: [descriptors], count}, nothing else."""
    number = await run_number(runtime, await halted_marker_run(runtime, tmp_path))

    response = await jp1ao.get(f"{TASKS}/{number}/actions", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "data": [descriptor(number, name) for name in HALTED_ACTIONS],
        "count": 4,
    }


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("action", HALTED_ACTIONS)
async def test_each_descriptor_is_answered_whole(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path, action: str
) -> None:
    """GET one action: its descriptor as the seed shows it, with JP1/AO's headers."""
    number = await run_number(runtime, await halted_marker_run(runtime, tmp_path))

    response = await jp1ao.get(f"{TASKS}/{number}/actions/{action}", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == descriptor(number, action)
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.usefixtures("system")
async def test_an_invoke_is_answered_whole(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """POST invoke: instanceId, the command's time thrice, success, the task's URL."""
    number = await run_number(runtime, await halted_marker_run(runtime, tmp_path))

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/stop/invoke", headers=SEED_AUTH
    )

    body = response.json()
    assert response.status_code == 200
    assert body == {
        "instanceId": str(number),
        "created": body["created"],
        "updated": body["created"],
        "completed": body["created"],
        "state": "success",
        "affectedResources": [f"http://{JP1_HOST}{TASKS}/{number}"],
        "result": [],
    }
    assert ISO_MS.fullmatch(body["created"])


@pytest.mark.usefixtures("system")
async def test_an_xml_accept_is_answered_in_json(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """JP1/AO's dialect speaks JSON only: an XML Accept gets the same JSON answer."""
    expected = await expected_task(runtime, await halted_marker_run(runtime, tmp_path))

    response = await jp1ao.get(
        TASKS, headers={**SEED_AUTH, "Accept": "application/xml"}
    )

    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"data": [expected], "count": 1}


# --- roles: JP1/AO's Admin, Develop, Modify and Submit ----------------------------


@pytest.mark.parametrize(
    ("role", "may_invoke"),
    [
        pytest.param(Role.VIEWER, False, id="viewer"),
        pytest.param(Role.OPERATOR, True, id="operator (Modify, Submit)"),
        pytest.param(Role.AUTHOR, True, id="author (Develop)"),
        pytest.param(Role.ADMIN, True, id="admin (Admin)"),
    ],
)
async def test_each_role_lists_reads_actions_and_invokes_as_documented(
    runtime: Runtime,
    jp1ao: httpx.AsyncClient,
    tmp_path: Path,
    role: Role,
    may_invoke: bool,
) -> None:
    """Every role lists and reads tasks and their actions; all but viewer invoke."""
    await store_user(runtime, "joe", password=OTHER_PASSWORD, roles={"default": role})
    auth = basic("joe", OTHER_PASSWORD)
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)

    listed = await jp1ao.get(TASKS, headers=auth)
    actions = await jp1ao.get(f"{TASKS}/{number}/actions", headers=auth)
    invoked = await jp1ao.post(
        f"{TASKS}/{number}/actions/rerunStepStart/invoke", headers=auth
    )

    assert listed.status_code == 200
    assert [task["instanceID"] for task in listed.json()["data"]] == [number]
    assert actions.status_code == 200
    assert [a["name"] for a in actions.json()["data"]] == list(HALTED_ACTIONS)
    if may_invoke:
        assert invoked.status_code == 200
        assert invoked.json()["instanceId"] == str(number)
        await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)
    else:
        body = jp1_error(invoked, 404, "KNAE02102-E")
        assert body["message"].startswith("The specified resource does not exist")
        assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED
