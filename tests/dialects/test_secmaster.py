"""The SecMaster dialect: playbook instances are runs; token and AK/SK auth; errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from fastapi import FastAPI
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from jp1_secmaster_support import (
    QUICK_PLAN,
    SLOW_PLAN,
    add_token,
    add_user,
    apply,
    cheap_hashes,
    make_runtime,
    start,
    wait_for,
)

from onward.api.app import create_app
from onward.api.dialects.secmaster.schemas import status_of
from onward.domain.access import Principal, Role
from onward.domain.runs import Run, RunStatus, Trigger
from onward.runtime import Runtime
from onward.service import commands as commands_module
from onward.service.access_keys import AccessKeys, IssuedAccessKey
from onward.service.commands import Caller

SEED_ID: Final = "909494e3-558e-46b6-a9eb-07a8e18ca62f"
PROJECT: Final = SEED_ID
WORKSPACE: Final = "soc"
REQUEST_ID: Final = re.compile(r"^[0-9a-f]{32}-\d{13}-\S+$")
INSTANCE_KEYS: Final = {
    "id",
    "name",
    "project_id",
    "playbook",
    "dataclass",
    "dataobject",
    "status",
    "trigger_type",
    "start_time",
    "end_time",
}


def instances(workspace: str = WORKSPACE, project: str = PROJECT) -> str:
    """Return the path of a workspace's playbook instances."""
    return f"/v1/{project}/workspaces/{workspace}/soc/playbooks/instances"


def event_plan(tmp_path: Path) -> str:
    """Return a plan started by ``alert`` objects that halts until a marker exists."""
    return f"""
name: respond
triggers:
  - {{name: on-alert, type: event, dataclass: alert}}
groups:
  - name: g
    targets: [a]
    steps:
      - {{name: check, action: shell, with: {{command: "test -f {tmp_path}/marker"}}}}
"""


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords cheaply."""
    cheap_hashes(monkeypatch)


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime that executes steps, with access keys on."""
    return make_runtime()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app."""
    app: FastAPI = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sm") as c:
            yield c


@pytest.fixture
async def operator(runtime: Runtime) -> dict[str, str]:
    """Return the X-Auth-Token header of an operator of the ``soc`` workspace."""
    user = await add_user(runtime, "olga", roles={WORKSPACE: Role.OPERATOR})
    return {"X-Auth-Token": await add_token(runtime, user)}


async def event_run(runtime: Runtime, tmp_path: Path, run_id: str | None = None) -> Run:
    """Post an alert that starts the event plan; return its run, halted."""
    await apply(runtime, event_plan(tmp_path), workspace=WORKSPACE)
    with pytest.MonkeyPatch.context() as patch:
        if run_id is not None:
            patch.setattr(commands_module, "new_run_id", lambda: run_id)
        _, runs = await runtime.triggers.post_event(
            workspace=WORKSPACE,
            dataclass="alert",
            content={"name": "disk full", "severity": "high"},
            actor="sensor",
        )
    return await wait_for(runtime, runs[0].run_id, RunStatus.HALTED)


def sm_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a SecMaster error answer and return its body."""
    body = response.json()

    assert response.status_code == status
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert REQUEST_ID.match(response.headers["x-request-id"])
    return dict(body)


# --- the seed -----------------------------------------------------------------------


async def test_seed_retry_operation_is_answered_as_documented(
    runtime: Runtime,
    client: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """The seed's example request gets the documented instance and X-request-id."""
    run = await event_run(runtime, tmp_path, run_id=SEED_ID)
    (tmp_path / "marker").touch()

    response = await client.post(
        f"{instances()}/{SEED_ID}/operation",
        content=b'{ "operation" : "RETRY" }',
        headers={**operator, "content-type": "application/json;charset=UTF-8"},
    )
    done = await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    body = response.json()
    assert response.status_code == 200
    assert REQUEST_ID.match(response.headers["x-request-id"])
    assert set(body) == INSTANCE_KEYS
    assert body["id"] == SEED_ID
    assert body["project_id"] == PROJECT
    assert body["status"] in ("RUNNING", "FINISHED")
    assert body["trigger_type"] == "EVENT"
    assert body["playbook"] == {
        "id": run.plan_id,
        "version_id": f"{run.plan_id}-v1",
        "name": "respond",
        "version": "v1",
    }
    assert body["dataclass"] == {"id": "alert", "name": "alert"}
    assert body["dataobject"]["id"] == run.triggered_by
    assert body["dataobject"]["name"] == "disk full"
    assert body["dataobject"]["dataclass_id"] == "alert"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\+0000$", body["start_time"])
    assert done.run_id == SEED_ID


# --- list and show ------------------------------------------------------------------


async def test_list_pages_and_counts(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """limit and offset page the instances, newest first; count is the total."""
    await apply(runtime, QUICK_PLAN, workspace=WORKSPACE)
    runs = [await start(runtime, "quick", workspace=WORKSPACE) for _ in range(3)]
    for run in runs:
        await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    response = await client.get(
        instances(), params={"limit": 2, "offset": 1}, headers=operator
    )

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 3
    # newest first: ids sort in creation order (to the millisecond)
    newest_first = sorted((run.run_id for run in runs), reverse=True)
    assert [i["id"] for i in body["instances"]] == newest_first[1:]
    assert {i["status"] for i in body["instances"]} == {"FINISHED"}
    assert body["instances"][0]["trigger_type"] == "MANUAL"
    assert body["instances"][0]["dataobject"] is None
    assert REQUEST_ID.match(response.headers["x-request-id"])


async def test_list_filters(
    runtime: Runtime,
    client: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """status, playbook_name, trigger_type, data class and object names filter."""
    event = await event_run(runtime, tmp_path)
    await apply(runtime, QUICK_PLAN, workspace=WORKSPACE)
    quick = await start(runtime, "quick", workspace=WORKSPACE)
    await wait_for(runtime, quick.run_id, RunStatus.SUCCEEDED)
    page = {"limit": 10, "offset": 0}

    async def ids(**params: str) -> list[str]:
        response = await client.get(
            instances(), params={**page, **params}, headers=operator
        )
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["instances"]]

    assert await ids(status="FAILED") == [event.run_id]
    assert await ids(status="FINISHED") == [quick.run_id]
    assert await ids(status="RUNNING") == []
    assert await ids(playbook_name="quick") == [quick.run_id]
    assert await ids(trigger_type="EVENT") == [event.run_id]
    assert await ids(dataclass_name="alert") == [event.run_id]
    assert await ids(dataobject_name="disk full") == [event.run_id]
    assert await ids(dataobject_name="other") == []
    assert await ids(name="respond_") == [event.run_id]
    assert await ids(from_date="2000-01-01T00:00:00Z+0800") == [
        quick.run_id,
        event.run_id,
    ]
    assert await ids(to_date="2000-01-01T00:00:00Z") == []
    assert await ids(date_type="END", from_date="2000-01-01T00:00:00+00:00") == [
        quick.run_id
    ]


async def test_show_returns_one_instance(
    runtime: Runtime,
    client: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """Show answers the instance of the path's workspace."""
    run = await event_run(runtime, tmp_path)

    response = await client.get(f"{instances()}/{run.run_id}", headers=operator)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == INSTANCE_KEYS
    assert body["status"] == "FAILED"
    assert body["name"].startswith("respond_")


# --- operations ---------------------------------------------------------------------


async def test_terminate_cancels_a_running_instance(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """TERMINATE cancels the run gracefully: TERMINATING, then TERMINATED."""
    await apply(runtime, SLOW_PLAN, workspace=WORKSPACE)
    run = await start(runtime, "slow", workspace=WORKSPACE)
    await wait_for(runtime, run.run_id, RunStatus.RUNNING)

    response = await client.post(
        f"{instances()}/{run.run_id}/operation",
        json={"operation": "TERMINATE"},
        headers=operator,
    )
    # hurry the sleep along
    await runtime.commands.cancel_run(
        run.run_id, force=True, caller=Caller(workspace=WORKSPACE)
    )
    await wait_for(runtime, run.run_id, RunStatus.CANCELLED)
    shown = await client.get(f"{instances()}/{run.run_id}", headers=operator)

    assert response.status_code == 200
    assert response.json()["status"] == "TERMINATING"
    assert shown.json()["status"] == "TERMINATED"


async def test_retry_of_a_finished_instance_is_refused(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """An operation the status does not allow is a 400 with its own code."""
    await apply(runtime, QUICK_PLAN, workspace=WORKSPACE)
    run = await start(runtime, "quick", workspace=WORKSPACE)
    await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    response = await client.post(
        f"{instances()}/{run.run_id}/operation",
        json={"operation": "RETRY"},
        headers=operator,
    )

    sm_error(response, 400, "SecMaster.00040009")


def test_a_retried_run_that_runs_again_is_retrying() -> None:
    """RETRYING is a running run on its second attempt or later."""
    run = Run(
        run_id="r",
        plan_id="p",
        plan_name="n",
        plan_version=1,
        created_at=datetime.now(UTC),
        status=RunStatus.RUNNING,
        trigger=Trigger.MANUAL,
    )

    assert status_of(run) == "RUNNING"
    assert status_of(Run(**{**_fields(run), "run_attempt": 2})) == "RETRYING"


def _fields(run: Run) -> dict[str, Any]:
    return {name: getattr(run, name) for name in run.__dataclass_fields__}


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{oops", b"[]", b"{}", b'{"operation": "PAUSE"}', b'{"operation": 1}', b""],
)
async def test_malformed_operation_bodies_are_400(
    runtime: Runtime,
    client: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    body: bytes,
) -> None:
    """A body that is not {"operation": RETRY|TERMINATE} is refused."""
    run = await event_run(runtime, tmp_path)

    response = await client.post(
        f"{instances()}/{run.run_id}/operation", content=body, headers=operator
    )

    sm_error(response, 400, "SecMaster.00040001")
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 10},
        {"offset": 0},
        {"limit": 0, "offset": 0},
        {"limit": "ten", "offset": 0},
        {"limit": 10, "offset": -1},
        {"limit": 9000, "offset": 1001},
        {"limit": 10, "offset": 0, "status": "SLEEPING"},
        {"limit": 10, "offset": 0, "trigger_type": "MANUAL"},
        {"limit": 10, "offset": 0, "date_type": "MIDDLE"},
        {"limit": 10, "offset": 0, "from_date": "yesterday"},
    ],
)
async def test_invalid_list_queries_are_400(
    client: httpx.AsyncClient, operator: dict[str, str], params: dict[str, Any]
) -> None:
    """Missing or invalid paging and filters answer 400, never 500."""
    response = await client.get(instances(), params=params, headers=operator)

    sm_error(response, 400, "SecMaster.00040001")


@pytest.mark.parametrize(
    "path",
    [
        f"{instances()}/run_unknown",
        f"{instances(workspace='nowhere')}/x",
        "/v1/p/workspaces/soc/soc/playbooks",
    ],
)
async def test_unknown_instances_workspaces_and_paths_are_404(
    client: httpx.AsyncClient, operator: dict[str, str], path: str
) -> None:
    """Unknown ids and paths answer 404 in SecMaster's body."""
    response = await client.get(path, headers=operator)

    sm_error(response, 404, "SecMaster.00040401")


async def test_an_instance_of_another_workspace_is_not_found(
    runtime: Runtime, client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """workspace_id scopes the instances: another workspace's run is a 404."""
    await apply(runtime, QUICK_PLAN)
    run = await start(runtime, "quick")

    response = await client.get(f"{instances()}/{run.run_id}", headers=operator)

    sm_error(response, 404, "SecMaster.00040401")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Auth-Token": "onw_nope"},
        {"Authorization": "SDK-HMAC-SHA256 nonsense"},
        {"Authorization": "Bearer something"},
    ],
)
async def test_missing_or_bad_credentials_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No valid token or signature: 401 in SecMaster's body."""
    response = await client.get(
        instances(), params={"limit": 1, "offset": 0}, headers=headers
    )

    sm_error(response, 401, "SecMaster.00040101")


async def test_a_viewer_may_list_but_not_operate(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Operating needs the operate permission: a viewer gets 403."""
    user = await add_user(runtime, "val", roles={WORKSPACE: Role.VIEWER})
    headers = {"X-Auth-Token": await add_token(runtime, user)}
    run = await event_run(runtime, tmp_path)

    listed = await client.get(
        instances(), params={"limit": 5, "offset": 0}, headers=headers
    )
    operated = await client.post(
        f"{instances()}/{run.run_id}/operation",
        json={"operation": "RETRY"},
        headers=headers,
    )

    assert listed.status_code == 200
    sm_error(operated, 403, "SecMaster.00040301")


# --- AK/SK signing ------------------------------------------------------------------


async def access_key(runtime: Runtime, role: Role = Role.OPERATOR) -> IssuedAccessKey:
    """Make a user with a role in ``soc`` and an access key of theirs."""
    user = await add_user(runtime, "sig", roles={WORKSPACE: role})
    keys = AccessKeys(
        store=runtime.store,
        auth=runtime.auth,
        clock=runtime.engine.clock,
        master=runtime.settings.access_key_master,
    )
    principal = Principal(user_id=user.user_id, username=user.username)
    return await keys.create(principal, name="sdk")


def signed(
    method: str,
    path: str,
    ak: str,
    sk: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: str = "",
    date: str | None = None,
) -> tuple[str, dict[str, str], bytes]:
    """Sign a request as the official SDK does; return its URI, headers and body."""
    headers = {"Content-Type": "application/json"}
    if date is not None:
        headers["X-Sdk-Date"] = date
    request = SdkRequest(
        method=method,
        schema="http",
        host="sm",
        resource_path=path,
        query_params=query or [],
        header_params=headers,
        body=body,
    )
    done = Signer(BasicCredentials(ak, sk)).sign(request)
    return done.uri, dict(done.header_params), done.body or b""


async def test_sdk_signed_requests_are_accepted(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A request signed by the SDK's signer with the key's AK/SK is let in."""
    key = await access_key(runtime)
    run = await event_run(runtime, tmp_path)
    (tmp_path / "marker").touch()

    uri, headers, _ = signed(
        "GET",
        instances(),
        key.access_key_id,
        key.secret_key,
        query=[("offset", 0), ("limit", 5), ("name", "respond a~b")],
    )
    listed = await client.get(uri, headers=headers)
    uri, headers, body = signed(
        "POST",
        f"{instances()}/{run.run_id}/operation",
        key.access_key_id,
        key.secret_key,
        body='{"operation": "RETRY"}',
    )
    operated = await client.post(uri, headers=headers, content=body)

    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 0
    assert operated.status_code == 200, operated.text
    await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)


@pytest.mark.parametrize("flaw", ["secret", "body", "date", "revoked", "path"])
async def test_bad_signatures_are_401(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path, flaw: str
) -> None:
    """A wrong secret, changed body or path, stale date or revoked key: 401."""
    key = await access_key(runtime)
    run = await event_run(runtime, tmp_path)
    secret = "X" * 40 if flaw == "secret" else key.secret_key
    date = "20200101T000000Z" if flaw == "date" else None
    uri, headers, body = signed(
        "POST",
        f"{instances()}/{run.run_id}/operation",
        key.access_key_id,
        secret,
        body='{"operation": "RETRY"}',
        date=date,
    )
    if flaw == "body":
        body = b'{"operation": "TERMINATE"}'
    if flaw == "path":
        uri = uri.replace(WORKSPACE, "default", 1)
    if flaw == "revoked":
        await runtime.store.revoke_credential(
            key.access_key_id, at=runtime.engine.clock.now()
        )

    response = await client.post(uri, headers=headers, content=body)

    sm_error(response, 401, "SecMaster.00040101")
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


async def test_an_access_key_id_is_no_token(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """The public access key id never works as X-Auth-Token."""
    key = await access_key(runtime)

    response = await client.get(
        instances(),
        params={"limit": 1, "offset": 0},
        headers={"X-Auth-Token": key.access_key_id},
    )

    sm_error(response, 401, "SecMaster.00040101")
