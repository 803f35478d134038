"""The SecMaster dialect: playbook instances are runs; token and AK/SK auth; errors.

The seed's replay and the golden bodies are in ``test_secmaster_golden.py``, the
refusals row by row in ``test_secmaster_errors.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    QUICK_PLAN,
    SM_REQUEST_ID,
    add_token,
    apply,
    finished_quick_run,
    halted_event_run,
    running_slow_run,
    sm_error,
    sm_operate,
    start,
    store_user,
    wait_for,
)
from dialect_support import sm_instances as instances
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from onward.api.dialects.secmaster.schemas import status_of
from onward.domain.access import Principal, Role
from onward.domain.runs import Run, RunStatus, Trigger
from onward.runtime import Runtime
from onward.service.access_keys import AccessKeys, IssuedAccessKey
from onward.service.commands import Caller

WORKSPACE: Final = "soc"
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


# --- list and show ------------------------------------------------------------------


async def test_list_pages_and_counts(
    runtime: Runtime, secmaster: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """limit and offset page the instances, newest first; count is the total."""
    await apply(runtime, QUICK_PLAN, workspace=WORKSPACE)
    runs = [await start(runtime, "quick", workspace=WORKSPACE) for _ in range(3)]
    for run in runs:
        await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    response = await secmaster.get(
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
    assert SM_REQUEST_ID.match(response.headers["x-request-id"])


async def test_list_filters(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """status, playbook_name, trigger_type, data class and object names filter."""
    event = await halted_event_run(runtime, tmp_path / "marker")
    quick = await finished_quick_run(runtime, workspace=WORKSPACE)
    page = {"limit": 10, "offset": 0}

    async def ids(**params: str) -> list[str]:
        response = await secmaster.get(
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
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
) -> None:
    """Show answers the instance of the path's workspace."""
    run = await halted_event_run(runtime, tmp_path / "marker")

    response = await secmaster.get(f"{instances()}/{run.run_id}", headers=operator)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == INSTANCE_KEYS
    assert body["status"] == "FAILED"
    assert body["name"].startswith("respond_")


# --- operations ---------------------------------------------------------------------


async def test_terminate_cancels_a_running_instance(
    runtime: Runtime, secmaster: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """TERMINATE cancels the run gracefully: TERMINATING, then TERMINATED."""
    run = await running_slow_run(runtime, workspace=WORKSPACE)

    response = await sm_operate(secmaster, operator, run.run_id, "TERMINATE")
    # hurry the sleep along
    await runtime.commands.cancel_run(
        run.run_id, force=True, caller=Caller(workspace=WORKSPACE)
    )
    await wait_for(runtime, run.run_id, RunStatus.CANCELLED)
    shown = await secmaster.get(f"{instances()}/{run.run_id}", headers=operator)

    assert response.status_code == 200
    assert response.json()["status"] == "TERMINATING"
    assert shown.json()["status"] == "TERMINATED"


async def test_retry_of_a_finished_instance_is_refused(
    runtime: Runtime, secmaster: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """An operation the status does not allow is a 400 with its own code."""
    run = await finished_quick_run(runtime, workspace=WORKSPACE)

    response = await sm_operate(secmaster, operator, run.run_id, "RETRY")

    message = sm_error(response, 400, "SecMaster.00040009")
    assert message == (
        f"Cannot RETRY playbook instance {run.run_id}: it is FINISHED; "
        "only a FAILED playbook instance can be retried."
    )


def test_a_retried_run_that_runs_again_is_retrying() -> None:
    """RETRYING is a running run on its second attempt or later, or one retried."""
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
    assert status_of(run, retried=True) == "RETRYING"
    assert status_of(Run(**{**_fields(run), "status": RunStatus.HALTED})) == "FAILED"


def _fields(run: Run) -> dict[str, Any]:
    return {name: getattr(run, name) for name in run.__dataclass_fields__}


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{oops", b"[]", b"{}", b'{"operation": "PAUSE"}', b'{"operation": 1}', b""],
)
async def test_malformed_operation_bodies_are_400(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    body: bytes,
) -> None:
    """A body that is not {"operation": RETRY|TERMINATE} is refused."""
    run = await halted_event_run(runtime, tmp_path / "marker")

    response = await secmaster.post(
        f"{instances()}/{run.run_id}/operation",
        content=body,
        headers={**operator, "content-type": "application/json"},
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
    secmaster: httpx.AsyncClient, operator: dict[str, str], params: dict[str, Any]
) -> None:
    """Missing or invalid paging and filters answer 400, never 500."""
    response = await secmaster.get(instances(), params=params, headers=operator)

    sm_error(response, 400, "SecMaster.00040001")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            f"{instances()}/run_unknown",
            "Playbook instance run_unknown does not exist in workspace soc",
        ),
        (
            f"{instances(workspace='nowhere')}/x",
            "Workspace nowhere does not exist, or you have no role in it",
        ),
        ("/v1/p/workspaces/soc/soc/playbooks", "The requested API does not exist"),
    ],
)
async def test_unknown_instances_workspaces_and_paths_are_404(
    secmaster: httpx.AsyncClient, operator: dict[str, str], path: str, message: str
) -> None:
    """Unknown ids and paths answer 404 in SecMaster's body and words."""
    response = await secmaster.get(path, headers=operator)

    assert sm_error(response, 404, "SecMaster.00040401") == message


async def test_an_instance_of_another_workspace_is_not_found(
    runtime: Runtime, secmaster: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """workspace_id scopes the instances: another workspace's run is a 404."""
    await apply(runtime, QUICK_PLAN)
    run = await start(runtime, "quick")

    response = await secmaster.get(f"{instances()}/{run.run_id}", headers=operator)

    message = sm_error(response, 404, "SecMaster.00040401")
    assert message == f"Playbook instance {run.run_id} does not exist in workspace soc"


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
    secmaster: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No valid token or signature: 401 in SecMaster's body."""
    response = await secmaster.get(
        instances(), params={"limit": 1, "offset": 0}, headers=headers
    )

    sm_error(response, 401, "SecMaster.00040101")


async def test_a_viewer_may_list_but_not_operate(
    runtime: Runtime, secmaster: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Operating needs the operate permission: a viewer gets 403."""
    user = await store_user(runtime, "val", roles={WORKSPACE: Role.VIEWER})
    headers = {"X-Auth-Token": await add_token(runtime, user)}
    run = await halted_event_run(runtime, tmp_path / "marker")

    listed = await secmaster.get(
        instances(), params={"limit": 5, "offset": 0}, headers=headers
    )
    operated = await sm_operate(secmaster, headers, run.run_id, "RETRY")

    assert listed.status_code == 200
    assert sm_error(operated, 403, "SecMaster.00040301") == (
        "Your role in workspace soc does not allow operating playbook instances "
        "(RETRY, TERMINATE)"
    )


# --- AK/SK signing ------------------------------------------------------------------


async def access_key(runtime: Runtime, role: Role = Role.OPERATOR) -> IssuedAccessKey:
    """Make a user with a role in ``soc`` and an access key of theirs."""
    user = await store_user(runtime, "sig", roles={WORKSPACE: role})
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
    runtime: Runtime, secmaster: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A request signed by the SDK's signer with the key's AK/SK is let in."""
    key = await access_key(runtime)
    run = await halted_event_run(runtime, tmp_path / "marker")
    (tmp_path / "marker").touch()

    uri, headers, _ = signed(
        "GET",
        instances(),
        key.access_key_id,
        key.secret_key,
        query=[("offset", 0), ("limit", 5), ("name", "respond a~b")],
    )
    listed = await secmaster.get(uri, headers=headers)
    uri, headers, body = signed(
        "POST",
        f"{instances()}/{run.run_id}/operation",
        key.access_key_id,
        key.secret_key,
        body='{"operation": "RETRY"}',
    )
    operated = await secmaster.post(uri, headers=headers, content=body)

    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 0
    assert operated.status_code == 200, operated.text
    await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)


@pytest.mark.parametrize("flaw", ["secret", "body", "date", "revoked", "path"])
async def test_bad_signatures_are_401(
    runtime: Runtime, secmaster: httpx.AsyncClient, tmp_path: Path, flaw: str
) -> None:
    """A wrong secret, changed body or path, stale date or revoked key: 401."""
    key = await access_key(runtime)
    run = await halted_event_run(runtime, tmp_path / "marker")
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

    response = await secmaster.post(uri, headers=headers, content=body)

    sm_error(response, 401, "SecMaster.00040101")
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


async def test_an_access_key_id_is_no_token(
    runtime: Runtime, secmaster: httpx.AsyncClient
) -> None:
    """The public access key id never works as X-Auth-Token."""
    key = await access_key(runtime)

    response = await secmaster.get(
        instances(),
        params={"limit": 1, "offset": 0},
        headers={"X-Auth-Token": key.access_key_id},
    )

    sm_error(response, 401, "SecMaster.00040101")
