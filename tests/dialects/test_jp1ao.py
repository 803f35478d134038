"""The JP1/AO dialect: tasks are runs; descriptors, invoke, Basic auth, JP1 errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    JP1_HOST,
    OTHER_PASSWORD,
    QUICK_PLAN,
    SEED_AUTH,
    TASKS,
    add_token,
    apply,
    basic,
    basic_raw,
    failed_marker_run,
    finished_quick_run,
    halted_marker_run,
    jp1_error,
    plan_number,
    run_number,
    running_slow_run,
    start,
    store_user,
    use_up_run_numbers,
    wait_for,
)

from onward import errors
from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.numbers import NumberedRun, Numbers

JP1_HEADERS: Final = {
    "access-control-expose-headers": "WWW-Authenticate",
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, DELETE, PUT, HEAD, OPTIONS",
    "access-control-allow-credentials": "true",
    "cache-control": "no-cache",
    "content-type": "application/json",
}
#: the seed's ``WWW-Authenticate: HSSO <token>`` (the token an opaque token68)
HSSO_CHALLENGE: Final = re.compile(r"HSSO (?P<token>[A-Za-z0-9._~+/-]+=*)")


async def task_2026(runtime: Runtime, tmp_path: Path) -> Run:
    """Return the seed's task 2026: the 2026th run, halted at ``check``."""
    await use_up_run_numbers(runtime, 2025)
    run = await halted_marker_run(runtime, tmp_path)
    assert await run_number(runtime, run) == 2026
    return run


async def task_url(runtime: Runtime, run: Run) -> str:
    """Return the path of a run's task."""
    return f"{TASKS}/{await run_number(runtime, run)}"


# --- the seed -----------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_seed_rerunstart_descriptor_is_answered_as_documented(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The seed's request, replayed literally, gets the seed's headers and body.

    Its HSSO token then signs the same request in instead of the password.
    """
    await task_2026(runtime, tmp_path)

    response = await jp1ao.get(
        "/Automation/v1/objects/Tasks/2026/actions/rerunStart",
        headers={
            "Host": JP1_HOST,
            "Accept": "application/json",
            "Accept-Language": "ja",
            "Authorization": "Basic c3lzdGVtOm1hbmFnZXI=",
            "User-Agent": "useragent1",
        },
    )

    headers = dict(response.headers)
    challenge = HSSO_CHALLENGE.fullmatch(headers.pop("www-authenticate", ""))
    assert response.status_code == 200
    # the seed's Date, Server and chunked framing are the HTTP server's
    assert headers == {**JP1_HEADERS, "content-length": str(len(response.content))}
    assert challenge is not None
    assert response.json() == {
        "name": "rerunStart",
        "href": "http://10.196.184.238:22015/Automation/v1/objects/Tasks/2026/actions/rerunStart/invoke",
        "method": "POST",
        "parameters": [],
    }
    again = await jp1ao.get(
        "/Automation/v1/objects/Tasks/2026/actions/rerunStart",
        headers={"Authorization": f"HSSO {challenge['token']}"},
    )
    assert again.status_code == 200
    assert again.json() == response.json()
    assert again.headers["www-authenticate"] == f"HSSO {challenge['token']}"


@pytest.mark.usefixtures("system")
async def test_seed_descriptor_posted_back_retries_the_failed_step(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Posting the seed's descriptor to its href retries from the failed step."""
    run = await task_2026(runtime, tmp_path)
    descriptor = (
        await jp1ao.get(f"{TASKS}/2026/actions/rerunStart", headers=SEED_AUTH)
    ).json()
    (tmp_path / "marker").touch()

    response = await jp1ao.post(descriptor["href"], json=descriptor, headers=SEED_AUTH)
    done = await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    body = response.json()
    assert response.status_code == 200
    assert body["instanceId"] == "2026"
    assert body["state"] == "success"
    assert body["affectedResources"] == [f"http://{JP1_HOST}{TASKS}/2026"]
    assert set(body) == {
        "instanceId",
        "created",
        "updated",
        "completed",
        "state",
        "affectedResources",
        "result",
    }
    assert done.run_id == run.run_id


# --- tasks --------------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_task_is_a_run_with_jp1_members(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """GET a task: the run's number, plan, JP1 status and times."""
    run = await halted_marker_run(runtime, tmp_path)

    response = await jp1ao.get(await task_url(runtime, run), headers=SEED_AUTH)

    body = response.json()
    assert response.status_code == 200
    assert body["instanceID"] == await run_number(runtime, run)
    assert body["status"] == "failed"
    assert body["serviceName"] == "marker"
    assert body["submitter"] == "operator"
    assert body["name"].startswith("marker_")
    assert body["submitTime"] == run.created_at.isoformat(timespec="milliseconds")
    assert body["toDo"] is True
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.usefixtures("system")
async def test_task_list_has_data_and_count(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The list is {data, count}, newest first."""
    halted = await halted_marker_run(runtime, tmp_path)
    quick = await finished_quick_run(runtime)

    response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 2
    assert [t["instanceID"] for t in body["data"]] == [
        await run_number(runtime, quick),
        await run_number(runtime, halted),
    ]
    assert [t["status"] for t in body["data"]] == ["completed", "failed"]


@pytest.mark.usefixtures("system")
async def test_task_list_filters_sorts_pages_and_picks_fields(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """HQL::filter, HQL::sortBy, HQL::offset, HQL::limit and HQL::fields apply."""
    await apply(runtime, QUICK_PLAN)
    runs = [await start(runtime, "quick") for _ in range(3)]
    for run in runs:
        await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)
    halted = await halted_marker_run(runtime, tmp_path)

    completed = await jp1ao.get(
        TASKS,
        params={
            "HQL::filter": "status in ['completed'] and serviceName eq 'quick'",
            "HQL::sortBy": "instanceID ASC",
            "HQL::offset": "1",
            "HQL::limit": "1",
            "HQL::fields": "instanceID,status",
        },
        headers=SEED_AUTH,
    )
    failed = await jp1ao.get(
        TASKS, params={"HQL::filter": "status = 'failed'"}, headers=SEED_AUTH
    )

    # oldest first: the numbers count the runs in the order they were made
    second = await run_number(runtime, runs[1])
    assert completed.json() == {
        "data": [{"instanceID": second, "status": "completed"}],
        "count": 3,
    }
    assert [t["instanceID"] for t in failed.json()["data"]] == [
        await run_number(runtime, halted)
    ]
    assert failed.json()["count"] == 1


@pytest.mark.usefixtures("system")
async def test_task_list_filters_by_service_id(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """serviceID names the plan by its number."""
    halted = await halted_marker_run(runtime, tmp_path)
    await apply(runtime, QUICK_PLAN)
    await start(runtime, "quick")

    service = await plan_number(runtime, halted.plan_id)

    response = await jp1ao.get(
        TASKS, params={"serviceID": str(service)}, headers=SEED_AUTH
    )

    assert [t["instanceID"] for t in response.json()["data"]] == [
        await run_number(runtime, halted)
    ]


# --- actions ------------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_actions_of_a_halted_task_are_stop_and_reruns(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A failed (halted) task may be stopped or rerun; a completed one nothing."""
    run = await halted_marker_run(runtime, tmp_path)
    quick = await finished_quick_run(runtime)

    url = await task_url(runtime, run)
    halted = await jp1ao.get(f"{url}/actions", headers=SEED_AUTH)
    done = await jp1ao.get(
        f"{await task_url(runtime, quick)}/actions", headers=SEED_AUTH
    )

    body = halted.json()
    assert [a["name"] for a in body["data"]] == [
        "rerunStart",
        "rerunStepStart",
        "stop",
        "forceStop",
    ]
    assert body["count"] == 4
    assert body["data"][1] == {
        "name": "rerunStepStart",
        "href": f"http://{JP1_HOST}{url}/actions/rerunStepStart/invoke",
        "method": "POST",
        "parameters": [],
    }
    assert done.json() == {"data": [], "count": 0}


@pytest.mark.usefixtures("system")
async def test_rerun_step_start_goes_on_after_the_failed_step(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """rerunStepStart leaves the failed step failed and runs the next ones."""
    run = await halted_marker_run(runtime, tmp_path)

    response = await jp1ao.post(
        f"{await task_url(runtime, run)}/actions/rerunStepStart/invoke",
        headers=SEED_AUTH,
    )
    done = await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    assert response.status_code == 200
    assert done.warnings == 1


@pytest.mark.usefixtures("system")
async def test_rerun_start_retries_a_failed_task(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """rerunStart on a failed run retries it: the same task, a new attempt."""
    run = await failed_marker_run(runtime, tmp_path)
    (tmp_path / "marker").touch()

    response = await jp1ao.post(
        f"{await task_url(runtime, run)}/actions/rerunStart/invoke",
        json={"name": "rerunStart", "method": "POST", "parameters": []},
        headers=SEED_AUTH,
    )
    done = await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    assert response.status_code == 200
    assert done.run_attempt == 2


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("action", ["stop", "forceStop"])
async def test_stop_and_force_stop_cancel_a_running_task(
    runtime: Runtime, jp1ao: httpx.AsyncClient, action: str
) -> None:
    """stop cancels gracefully, forceStop kills the running step."""
    run = await running_slow_run(runtime)
    url = await task_url(runtime, run)

    response = await jp1ao.post(
        f"{url}/actions/{action}/invoke", json={}, headers=SEED_AUTH
    )
    if action == "stop":
        await wait_for(runtime, run.run_id, RunStatus.CANCELLING)
        await jp1ao.post(f"{url}/actions/forceStop/invoke", headers=SEED_AUTH)
    done = await wait_for(runtime, run.run_id, RunStatus.CANCELLED)

    assert response.status_code == 200
    assert done.cancel_mode is not None


# --- errors -------------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_an_action_the_status_does_not_allow_is_a_409(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """rerunStart of a completed task is a conflict, in JP1/AO's body and words."""
    run = await finished_quick_run(runtime)
    number = await run_number(runtime, run)

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/rerunStart/invoke", headers=SEED_AUTH
    )

    body = jp1_error(response, 409, "ONWARD-E409")
    assert body["message"] == (
        f"The rerunStart action is not available for task {number}: "
        "its status is completed."
    )


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    "path",
    [
        f"{TASKS}/99",
        f"{TASKS}/not-a-number",
        f"{TASKS}/99/actions",
        f"{TASKS}/99/actions/rerunStart",
        "/Automation/v1/objects/Services",
    ],
)
async def test_unknown_tasks_and_paths_are_404(
    jp1ao: httpx.AsyncClient, path: str
) -> None:
    """Unknown ids and paths answer 404 KNAE02102-E."""
    response = await jp1ao.get(path, headers=SEED_AUTH)

    jp1_error(response, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
async def test_unknown_action_is_404(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An action JP1/AO's dialect does not carry out is not found."""
    url = await task_url(runtime, await halted_marker_run(runtime, tmp_path))

    got = await jp1ao.get(f"{url}/actions/archive", headers=SEED_AUTH)
    posted = await jp1ao.post(f"{url}/actions/archive/invoke", headers=SEED_AUTH)

    jp1_error(got, 404, "KNAE02102-E")
    jp1_error(posted, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("body", "message_id"),
    [
        (b"{not json", "generic error"),
        (b"[1, 2]", "ONWARD-E400"),
        (b'{"name": "stop"}', "ONWARD-E400"),
        (b'{"name": "rerunStart", "parameters": "x"}', "ONWARD-E400"),
        (b'{"name": "rerunStart", "parameters": [{"a": 1}]}', "ONWARD-E400"),
    ],
)
async def test_malformed_invoke_bodies_are_400(
    runtime: Runtime,
    jp1ao: httpx.AsyncClient,
    tmp_path: Path,
    body: bytes,
    message_id: str,
) -> None:
    """A body that is not the action's descriptor is refused, the run untouched."""
    run = await halted_marker_run(runtime, tmp_path)

    response = await jp1ao.post(
        f"{await task_url(runtime, run)}/actions/rerunStart/invoke",
        content=body,
        headers={**SEED_AUTH, "Content-Type": "application/json"},
    )

    jp1_error(response, 400, message_id)
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    "params",
    [
        {"unknown": "1"},
        {"HQL::limit": "many"},
        {"HQL::offset": "-1"},
        {"HQL::filter": "status eq 'failed' or status eq 'completed'"},
        {"HQL::filter": "colour eq 'red'"},
        {"HQL::filter": "status gt 'failed'"},
        {"HQL::filter": "instanceID eq 'x'"},
        {"HQL::filter": "submitTime gt 'yesterday'"},
        {"HQL::filter": "status in ['failed'"},
        {"HQL::filter": "status eq"},
        {"HQL::filter": "%%%"},
        {"HQL::sortBy": "name ASC"},
        {"HQL::sortBy": "instanceID SIDEWAYS"},
        {"HQL::fields": "instanceID,colour"},
        {"scheduleID": "5"},
        {"alt": "xml"},
    ],
)
async def test_invalid_query_parameters_are_400(
    jp1ao: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """Invalid or unsupported list parameters answer 400, never 500."""
    response = await jp1ao.get(TASKS, params=params, headers=SEED_AUTH)

    jp1_error(response, 400, "ONWARD-E400")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        basic_raw(b"no-colon"),
        basic_raw(b"system:wrong"),
        basic_raw(b"nobody:manager"),
        {"Authorization": "HSSO onw_not-a-token"},
        {"Authorization": "Digest abc"},
    ],
)
@pytest.mark.usefixtures("system")
async def test_missing_or_bad_credentials_are_401(
    jp1ao: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No login permission: 401 in JP1/AO's body, with a Basic challenge."""
    response = await jp1ao.get(TASKS, headers=headers)

    jp1_error(response, 401, "ONWARD-E401")
    assert response.headers["www-authenticate"] == 'Basic realm="Automation"'


async def test_a_session_token_works_as_hsso_and_bearer(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """Authorization: HSSO or Bearer with an Onward session token or API key."""
    user = await store_user(runtime, "tom", roles={"default": Role.VIEWER})
    token = await add_token(runtime, user)

    hsso = await jp1ao.get(TASKS, headers={"Authorization": f"HSSO {token}"})
    bearer = await jp1ao.get(TASKS, headers={"Authorization": f"Bearer {token}"})

    assert hsso.status_code == bearer.status_code == 200


async def test_a_viewer_reads_but_cannot_invoke(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Without the operate permission an invoke is 404 (invalid permission)."""
    await store_user(
        runtime, "vic", password=OTHER_PASSWORD, roles={"default": Role.VIEWER}
    )
    auth = basic("vic", OTHER_PASSWORD)
    run = await halted_marker_run(runtime, tmp_path)
    url = await task_url(runtime, run)

    read = await jp1ao.get(url, headers=auth)
    invoked = await jp1ao.post(f"{url}/actions/rerunStart/invoke", headers=auth)

    assert read.status_code == 200
    jp1_error(invoked, 404, "KNAE02102-E")
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


async def test_a_user_without_a_role_lists_nothing_and_reads_nothing(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Tasks the user has no permission for are neither listed nor found."""
    await store_user(
        runtime, "eve", password=OTHER_PASSWORD, roles={"other": Role.ADMIN}
    )
    auth = basic("eve", OTHER_PASSWORD)
    run = await halted_marker_run(runtime, tmp_path)

    listed = await jp1ao.get(TASKS, headers=auth)
    read = await jp1ao.get(await task_url(runtime, run), headers=auth)

    assert listed.json() == {"data": [], "count": 0}
    jp1_error(read, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
async def test_basic_credentials_are_verified_once_per_cache_period(
    runtime: Runtime, jp1ao: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated requests with the same Basic credentials verify the password once."""
    calls: list[str] = []
    verify = runtime.auth.verify_password

    async def counted(username: str, password: str, *, address: str) -> Any:
        calls.append(username)
        return await verify(username, password, address=address)

    monkeypatch.setattr(runtime.auth, "verify_password", counted)

    for _ in range(3):
        assert (await jp1ao.get(TASKS, headers=SEED_AUTH)).status_code == 200

    assert calls == ["system"]


@pytest.mark.usefixtures("system")
async def test_storage_unavailable_is_412(
    jp1ao: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server is not available: 412 in JP1/AO's body."""

    async def unavailable(self: Numbers, workspace: str, number: int) -> NumberedRun:
        msg = "The database could not find run id: database is locked"
        raise errors.StorageError(msg)

    monkeypatch.setattr(Numbers, "find_run", unavailable)

    response = await jp1ao.get(f"{TASKS}/2026", headers=SEED_AUTH)

    body = jp1_error(response, 412, "ONWARD-E412")
    assert body["message"] == "The server is not available."


@pytest.mark.usefixtures("system")
async def test_preflight_is_answered_with_cors_headers(
    jp1ao: httpx.AsyncClient,
) -> None:
    """OPTIONS on a JP1/AO path answers 200 with the CORS headers."""
    response = await jp1ao.options(TASKS)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    "hql",
    [
        "[status] eq 'failed'",
        "status not in ['completed', 'canceled']",
        "(name starts 'marker_') and serviceName ends 'ker'",
        "submitTime ge '2000-01-01T00:00:00Z' and status = 'failed'",
        "instanceID eq {number}",
        "submitter = 'operator' AND status <> 'completed'",
    ],
)
async def test_hql_filters_select_the_halted_task(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path, hql: str
) -> None:
    """Each supported comparison form selects the failed (halted) task only."""
    run = await halted_marker_run(runtime, tmp_path)
    await finished_quick_run(runtime)
    number = await run_number(runtime, run)
    text = hql.format(number=number)

    response = await jp1ao.get(TASKS, params={"HQL::filter": text}, headers=SEED_AUTH)

    assert response.status_code == 200, response.text
    assert [t["instanceID"] for t in response.json()["data"]] == [number]
