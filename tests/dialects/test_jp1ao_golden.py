"""JP1/AO answers, whole: a task, a list, actions, descriptors, invoke; the roles."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from jp1_secmaster_support import (
    QUICK_PLAN,
    add_user,
    apply,
    cheap_hashes,
    jp1_error,
    make_runtime,
    plan_number,
    run_number,
    serve,
    start,
    wait_for,
)
from test_jp1ao import (
    HOST,
    OTHER_PASSWORD,
    SEED_AUTH,
    SEED_PASSWORD,
    TASKS,
    halted_run,
)

from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime

#: the actions of a halted task, in the order JP1/AO's list gives them
HALTED_ACTIONS: Final = ("rerunStart", "rerunStepStart", "stop", "forceStop")
#: an invoke answer's times: ISO 8601 with milliseconds and the UTC offset
ISO_MS: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords cheaply."""
    cheap_hashes(monkeypatch)


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime that executes steps."""
    return make_runtime()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, at the seed's host."""
    async with serve(runtime, f"http://{HOST}") as c:
        yield c


@pytest.fixture
async def system(runtime: Runtime) -> None:
    """Create the seed's user ``system`` (password ``manager``), an operator."""
    await add_user(
        runtime, "system", password=SEED_PASSWORD, roles={"default": Role.OPERATOR}
    )


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
        "modifyTime": iso(run.finished_at or run.started_at),
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
        "href": f"http://{HOST}{TASKS}/{number}/actions/{name}/invoke",
        "method": "POST",
        "parameters": [],
    }


async def quick_run(runtime: Runtime) -> Run:
    """Run the quick plan to its end and return the run."""
    await apply(runtime, QUICK_PLAN)
    run = await start(runtime, "quick")
    return await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)


def basic(username: str, password: str) -> dict[str, str]:
    """Return the Basic credentials of a user."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- whole answers ------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_a_halted_task_is_answered_with_every_member(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET a failed (halted) task: all 18 members, nothing else."""
    run = await halted_run(runtime, tmp_path)
    expected = await expected_task(runtime, run)

    response = await client.get(f"{TASKS}/{expected['instanceID']}", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == expected
    assert expected["completionTime"] is None
    assert expected["modifyTime"] == expected["startTime"]


@pytest.mark.usefixtures("system")
async def test_a_task_list_is_answered_with_every_member_of_every_task(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET the tasks: {data: [tasks, newest first], count}, nothing else."""
    halted = await halted_run(runtime, tmp_path)
    done = await quick_run(runtime)
    expected = [await expected_task(runtime, run) for run in (done, halted)]

    response = await client.get(TASKS, headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == {"data": expected, "count": 2}
    assert [task["instanceID"] for task in expected] == [2, 1]
    assert expected[0]["completionTime"] == expected[0]["modifyTime"] is not None


@pytest.mark.usefixtures("system")
async def test_the_actions_of_a_halted_task_are_answered_whole(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET the actions: {data: [descriptors], count}, nothing else."""
    number = await run_number(runtime, await halted_run(runtime, tmp_path))

    response = await client.get(f"{TASKS}/{number}/actions", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "data": [descriptor(number, name) for name in HALTED_ACTIONS],
        "count": 4,
    }


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("action", HALTED_ACTIONS)
async def test_each_descriptor_is_answered_whole(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path, action: str
) -> None:
    """GET one action: its descriptor as the seed shows it, with JP1/AO's headers."""
    number = await run_number(runtime, await halted_run(runtime, tmp_path))

    response = await client.get(f"{TASKS}/{number}/actions/{action}", headers=SEED_AUTH)

    assert response.status_code == 200
    assert response.json() == descriptor(number, action)
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.usefixtures("system")
async def test_an_invoke_is_answered_whole(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """POST invoke: instanceId, the command's time thrice, success, the task's URL."""
    number = await run_number(runtime, await halted_run(runtime, tmp_path))

    response = await client.post(
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
        "affectedResources": [f"http://{HOST}{TASKS}/{number}"],
        "result": [],
    }
    assert ISO_MS.fullmatch(body["created"])


@pytest.mark.usefixtures("system")
async def test_an_xml_accept_is_answered_in_json(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """JP1/AO's dialect speaks JSON only: an XML Accept gets the same JSON answer."""
    expected = await expected_task(runtime, await halted_run(runtime, tmp_path))

    response = await client.get(
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
    client: httpx.AsyncClient,
    tmp_path: Path,
    role: Role,
    may_invoke: bool,
) -> None:
    """Every role lists and reads tasks and their actions; all but viewer invoke."""
    await add_user(runtime, "joe", password=OTHER_PASSWORD, roles={"default": role})
    auth = basic("joe", OTHER_PASSWORD)
    run = await halted_run(runtime, tmp_path)
    number = await run_number(runtime, run)

    listed = await client.get(TASKS, headers=auth)
    actions = await client.get(f"{TASKS}/{number}/actions", headers=auth)
    invoked = await client.post(
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
