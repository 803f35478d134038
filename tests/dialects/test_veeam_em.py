"""The Enterprise Manager dialect: the seed example replayed, golden answers, errors."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import httpx
import pytest
import uvicorn
from dialect_support import (
    EM_BASE,
    GATED,
    JSON,
    NS,
    SEED_JOB,
    SEED_SESSION,
    SESSION,
    add_user,
    apply_as,
    backup_plan,
    basic,
    em_session,
    fail_the_job,
    log_on,
    operation_ids,
    settle,
    xml,
)

from onward.api.app import create_app
from onward.cli.listeners import https_config
from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.ports import RunFilter
from processes import free_port, self_signed

# --- the seed example, replayed literally -------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
async def test_the_retry_example_retries_the_failed_job_with_task_1(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """POST /api/jobs/78c3919c-...?action=retry: 202 Task task-1; then it finishes."""
    await fail_the_job(runtime, em)

    async with operation_ids("op_1"):
        answer = await em.post(
            "https://localhost:9398/api/jobs/78c3919c-54d7-43fe-b047-485d3566f11f"
            "?action=retry",
            headers={"X-RestSvcSessionId": SEED_SESSION},
        )
    await settle(runtime)
    tracked = await em.get(
        "https://localhost:9398/api/tasks/task-1",
        headers={"X-RestSvcSessionId": SEED_SESSION},
    )

    # the seed's response body, as the page writes it: the namespace as default
    seed_task = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Task xmlns="http://www.veeam.com/ent/v1.0" Type="Task" '
        'Href="https://localhost:9398/api/tasks/task-1">'
    )
    assert answer.status_code == 202
    assert answer.headers["content-length"] == str(len(answer.content))
    task = xml(answer)
    assert answer.text.startswith(seed_task)
    assert task.tag == f"{NS}Task"
    assert task.attrib == {
        "Type": "Task",
        "Href": "https://localhost:9398/api/tasks/task-1",
    }
    assert task.findtext(f"{NS}TaskId") == "task-1"
    assert task.findtext(f"{NS}State") == "Running"
    assert task.findtext(f"{NS}Operation") == "RetryJob"
    assert answer.headers["location"] == "https://localhost:9398/api/tasks/task-1"
    assert tracked.status_code == 200
    assert tracked.headers["content-length"] == str(len(tracked.content))
    done = xml(tracked)
    assert tracked.text.startswith(seed_task)
    assert done.tag == f"{NS}Task"
    assert done.attrib == {
        "Type": "Task",
        "Href": "https://localhost:9398/api/tasks/task-1",
    }
    assert done.findtext(f"{NS}TaskId") == "task-1"
    assert done.findtext(f"{NS}State") == "Finished"
    assert done.findtext(f"{NS}Operation") == "RetryJob"
    result = done.find(f"{NS}Result")
    assert result is not None
    assert result.attrib == {"Success": "true"}
    assert result.findtext(f"{NS}Message") == (
        'Job "oracle-backup" finished successfully.'
    )
    delete = done.find(f"{NS}Links/{NS}Link")
    assert delete is not None
    assert delete.attrib == {
        "Rel": "Delete",
        "Type": "Task",
        "Href": "https://localhost:9398/api/tasks/task-1",
    }


# --- logon and logout -------------------------------------------------------------


async def test_the_root_tells_how_to_log_on_without_credentials(
    em: httpx.AsyncClient,
) -> None:
    """GET /api/ lists the logon links, absolute to the host asked."""
    answer = await em.get("/api/")

    root = xml(answer)
    hrefs = [link.attrib["Href"] for link in root.iter(f"{NS}Link")]
    assert answer.status_code == 200
    assert root.tag == f"{NS}EnterpriseManager"
    assert f"{EM_BASE}/api/sessionMngr/?v=latest" in hrefs
    assert f"{EM_BASE}/api/sessionMngr/?v=v1_5" in hrefs


@pytest.mark.parametrize("version", ["latest", "v1_2", "v1_4", "v1_8", None])
async def test_a_logon_gives_201_a_session_header_and_a_logon_session(
    runtime: Runtime, em: httpx.AsyncClient, version: str | None
) -> None:
    """POST /api/sessionMngr/?v=... with Basic (DOMAIN\\user works) opens a session."""
    await add_user(runtime, "ann")
    query = f"?v={version}" if version else ""

    answer = await em.post(f"/api/sessionMngr/{query}", headers=basic("TECH\\ann"))

    assert answer.status_code == 201
    token = answer.headers["x-restsvcsessionid"]
    session = xml(answer)
    assert session.tag == f"{NS}LogonSession"
    assert session.findtext(f"{NS}UserName") == "ann"
    session_id = session.findtext(f"{NS}SessionId")
    assert answer.headers["location"] == f"{EM_BASE}/api/logonSessions/{session_id}"
    assert f"X-RestSvcSessionId={token}" in answer.headers["set-cookie"]
    em.cookies.clear()
    jobs = await em.get("/api/jobs", headers={"X-RestSvcSessionId": token})
    assert jobs.status_code == 200


async def test_the_session_cookie_wins_over_the_header(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A valid cookie with a bad header signs in, as the vendor does."""
    await add_user(runtime, "ann")
    logon = await log_on(em)
    token = logon.headers["x-restsvcsessionid"]

    answer = await em.get(
        "/api/jobs",
        headers={
            "X-RestSvcSessionId": "onw_bad",
            "Cookie": f"X-RestSvcSessionId={token}",
        },
    )

    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({}, "?v=latest"),
        ({"Authorization": "Basic bm90LWJhc2U2NA"}, "?v=latest"),
        ({"Authorization": "Bearer x"}, "?v=latest"),
        ({"Authorization": b"Basic \xe9t\xe9"}, "?v=latest"),
    ],
    ids=["none", "malformed", "not-basic", "not-ascii"],
)
async def test_a_logon_without_basic_credentials_is_challenged(
    em: httpx.AsyncClient, headers: dict[str, str | bytes], query: str
) -> None:
    """401 with the vendor's Basic challenge and Error."""
    answer = await em.post(f"/api/sessionMngr/{query}", headers=headers)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Basic Realm=RestSvc"
    assert xml(answer).tag == f"{NS}Error"
    assert xml(answer).attrib["StatusCode"] == "401"
    assert xml(answer).attrib["Message"] == (
        "Authentication required: send Basic credentials"
    )


async def test_a_wrong_password_and_an_unknown_version_are_refused(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A wrong password: 401; a version that is not served: 400."""
    await add_user(runtime, "ann")

    wrong = await em.post("/api/sessionMngr/?v=latest", headers=basic("ann", "nope"))
    version = await em.post("/api/sessionMngr/?v=v9_9", headers=basic("ann"))

    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == "Basic Realm=RestSvc"
    assert version.status_code == 400
    assert "v9_9" in xml(version).attrib["Message"]


async def test_logout_deletes_the_own_session_only(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """GET /logonSessions shows this session; DELETE it logs out (204)."""
    await add_user(runtime, "ann")
    logon = await log_on(em)
    headers = {"X-RestSvcSessionId": logon.headers["x-restsvcsessionid"]}
    listed = xml(await em.get("/api/logonSessions", headers=headers))
    delete = listed.find(f"{NS}LogonSession/{NS}Links/{NS}Link[@Rel='Delete']")
    assert delete is not None

    other = await em.delete(
        "/api/logonSessions/00000000-0000-0000-0000-000000000000", headers=headers
    )
    out = await em.delete(delete.attrib["Href"], headers=headers)
    after = await em.get("/api/jobs", headers=headers)

    assert other.status_code == 404
    assert out.status_code == 204
    assert after.status_code == 401


# --- jobs -------------------------------------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
async def test_jobs_are_listed_as_references_and_entities(
    em: httpx.AsyncClient,
) -> None:
    """GET /api/jobs gives EntityReferences; ?format=Entity the Job entities."""
    refs = xml(await em.get("/api/jobs", headers=SESSION))
    entities = xml(await em.get("/api/jobs?format=Entity", headers=SESSION))

    ref = refs.find(f"{NS}Ref")
    assert refs.tag == f"{NS}EntityReferences"
    assert ref is not None
    assert ref.attrib == {
        "Type": "JobReference",
        "Href": f"{EM_BASE}/api/jobs/{SEED_JOB}",
        "Name": "oracle-backup",
        "UID": f"urn:veeam:Job:{SEED_JOB}",
    }
    assert entities.tag == f"{NS}Jobs"
    assert [j.attrib["Name"] for j in entities.iter(f"{NS}Job")] == ["oracle-backup"]


@pytest.mark.usefixtures("seed_session", "job")
async def test_a_job_entity_has_the_vendors_fields(em: httpx.AsyncClient) -> None:
    """GET /api/jobs/{ID}?format=Entity: links, type, schedule and objects."""
    answer = await em.get(f"/api/jobs/{SEED_JOB}?format=Entity", headers=SESSION)
    reference = await em.get(f"/api/jobs/{SEED_JOB}", headers=SESSION)

    entity = xml(answer)
    rels = {
        link.attrib["Rel"]: link.attrib["Href"] for link in entity.iter(f"{NS}Link")
    }
    assert entity.attrib["Href"] == f"{EM_BASE}/api/jobs/{SEED_JOB}?format=Entity"
    assert rels["Retry"] == f"{EM_BASE}/api/jobs/{SEED_JOB}?action=retry"
    assert rels["Start"] == f"{EM_BASE}/api/jobs/{SEED_JOB}?action=start"
    assert entity.findtext(f"{NS}JobType") == "Backup"
    assert entity.findtext(f"{NS}Platform") == "CustomPlatform"
    assert entity.findtext(f"{NS}Description") == "Backup of the Oracle database"
    assert entity.findtext(f"{NS}ScheduleConfigured") == "true"
    assert entity.findtext(f"{NS}ScheduleEnabled") == "true"
    names = [o.findtext(f"{NS}Name") for o in entity.iter(f"{NS}ObjectInJob")]
    assert names == ["ora1", "ora2"]
    assert xml(reference).tag == f"{NS}EntityRef"


@pytest.mark.usefixtures("seed_session", "job")
async def test_json_is_answered_when_accept_asks_for_it(em: httpx.AsyncClient) -> None:
    """application/json anywhere in Accept (at least as high as XML) gives JSON."""
    refs = await em.get("/api/jobs", headers=JSON)
    mixed = await em.get(
        "/api/jobs", headers={**SESSION, "Accept": "application/xml, application/json"}
    )
    lower = await em.get(
        "/api/jobs",
        headers={**SESSION, "Accept": "application/json;q=0.5, application/xml"},
    )
    wildcard = await em.get("/api/jobs", headers={**SESSION, "Accept": "*/*"})

    assert refs.headers["content-type"] == "application/json; charset=utf-8"
    ref = refs.json()["Refs"][0]
    assert ref["UID"] == f"urn:veeam:Job:{SEED_JOB}"
    assert ref["Links"][0] == {
        "Rel": "Alternate",
        "Href": f"{EM_BASE}/api/jobs/{SEED_JOB}?format=Entity",
        "Type": "Job",
        "Name": "oracle-backup",
    }
    assert mixed.headers["content-type"].startswith("application/json")
    assert lower.headers["content-type"].startswith("application/xml")
    assert wildcard.headers["content-type"].startswith("application/xml")


@pytest.mark.usefixtures("seed_session", "job")
async def test_start_answers_a_running_task_that_finishes_with_the_run(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A start's task is Running, then Finished with the failure of its run."""
    answer = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=JSON)
    await settle(runtime)
    done = await em.get(answer.headers["location"], headers=JSON)

    assert answer.status_code == 202
    assert answer.json()["State"] == "Running"
    assert answer.json()["Operation"] == "StartJob"
    assert answer.json()["Links"] == [
        {"Rel": "Delete", "Type": "Task", "Href": answer.json()["Href"]}
    ]
    assert done.json()["State"] == "Finished"
    assert done.json()["Result"] == {
        "Success": False,
        "Message": 'Job "oracle-backup" failed.',
    }


@pytest.mark.usefixtures("seed_session", "job")
async def test_retry_is_refused_unless_the_last_session_failed(
    runtime: Runtime, em: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Never run, or succeeded: 409 in the vendor's Error; no run is started."""
    never = await em.post(f"/api/jobs/{SEED_JOB}?action=retry", headers=SESSION)
    (tmp_path / "marker").touch()
    await fail_the_job(runtime, em)
    succeeded = await em.post(f"/api/jobs/{SEED_JOB}?action=retry", headers=JSON)

    needs = (
        "the retry action can be performed only for jobs that have been finished "
        "with the Failed status"
    )
    assert never.status_code == 409
    assert xml(never).tag == f"{NS}Error"
    assert xml(never).attrib["Message"] == (
        f'Cannot retry job "oracle-backup": it has no session yet; {needs}'
    )
    assert succeeded.status_code == 409
    assert succeeded.json() == {
        "FirstChanceExceptionMessage": None,
        "Message": succeeded.json()["Message"],
        "StackTrace": None,
        "Status": None,
        "StatusCode": 409,
    }
    assert succeeded.json()["Message"] == (
        f'Cannot retry job "oracle-backup": its last session is Success; {needs}'
    )


@pytest.mark.usefixtures("seed_session")
async def test_stop_cancels_the_running_job_and_delete_stops_a_task(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """action=stop cancels the newest run; DELETE of a running task stops its run."""
    await apply_as(runtime, GATED, SEED_JOB)
    started = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=JSON)
    await settle(runtime)

    stopped = await em.post(f"/api/jobs/{SEED_JOB}?action=stop", headers=JSON)
    await settle(runtime)
    again = await em.post(f"/api/jobs/{SEED_JOB}?action=stop", headers=JSON)
    restarted = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=JSON)
    deleted = await em.delete(restarted.headers["location"], headers=SESSION)
    await settle(runtime)
    first = await em.get(started.headers["location"], headers=JSON)
    finished_delete = await em.delete(started.headers["location"], headers=SESSION)

    assert stopped.status_code == 202
    assert stopped.json()["Operation"] == "StopJob"
    assert again.status_code == 409
    assert deleted.status_code == 204
    assert finished_delete.status_code == 204
    assert first.json()["Result"]["Success"] is False
    statuses = [run.status for run in (await runtime.store.list_runs(RunFilter())).runs]
    assert statuses == [RunStatus.CANCELLED, RunStatus.CANCELLED]


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/jobs/00000000-0000-0000-0000-000000000001", 404),
        ("GET", "/api/jobs/not-a-guid", 400),
        ("GET", f"/api/jobs/{SEED_JOB}?format=Xml", 400),
        ("POST", f"/api/jobs/{SEED_JOB}?action=clone", 400),
        ("POST", f"/api/jobs/{SEED_JOB}", 400),
        ("POST", "/api/jobs/00000000-0000-0000-0000-000000000001?action=start", 404),
        ("GET", "/api/tasks/task-nothing", 404),
        ("GET", "/api/tasks/42", 404),
        ("DELETE", "/api/tasks/task-nothing", 404),
        ("GET", f"/api/jobs/{SEED_JOB}/backupSessions", 404),
        ("GET", "/api/tasks", 404),
    ],
)
async def test_unknown_ids_and_malformed_requests_get_the_vendors_error(
    em: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    """Each is answered with the vendor's Error and status; never a 500."""
    answer = await em.request(method, path, headers=SESSION)

    assert answer.status_code == status
    error = xml(answer)
    assert error.tag == f"{NS}Error"
    assert error.attrib["StatusCode"] == str(status)
    assert error.attrib["Message"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-RestSvcSessionId": "onw_unknown"}],
    ids=["none", "unknown"],
)
async def test_requests_without_a_valid_session_are_401(
    em: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No or an unknown session: 401 with the vendor's Error."""
    answer = await em.get("/api/jobs", headers=headers)

    assert answer.status_code == 401
    assert xml(answer).attrib["StatusCode"] == "401"


@pytest.mark.usefixtures("job")
async def test_a_role_too_low_is_access_denied(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A viewer lists jobs but may not start one: 403."""
    headers = await em_session(runtime, "vic", "onw_viewer-token", role=Role.VIEWER)

    listed = await em.get("/api/jobs", headers=headers)
    started = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=headers)

    assert listed.status_code == 200
    assert started.status_code == 403
    assert xml(started).attrib["Message"].startswith("Access denied")


# --- HTTPS on the vendor's port ----------------------------------------------------


async def test_the_api_is_served_over_https_with_the_vendors_links(
    runtime: Runtime, tmp_path: Path
) -> None:
    """Served by uvicorn with TLS; a client trusting the certificate logs on."""
    cert, key = self_signed(tmp_path)
    await add_user(runtime, "ann")
    await apply_as(runtime, backup_plan(tmp_path / "marker"), SEED_JOB)
    port = free_port()
    config = https_config(
        create_app(runtime),
        certfile=str(cert),
        keyfile=str(key),
        host="127.0.0.1",
        port=port,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving_task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        trusted = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(
            base_url=f"https://localhost:{port}", verify=trusted
        ) as https:
            logon = await https.post("/api/sessionMngr/?v=latest", headers=basic("ann"))
            jobs = await https.get(
                "/api/jobs",
                headers={"X-RestSvcSessionId": logon.headers["x-restsvcsessionid"]},
            )
    finally:
        server.should_exit = True
        await serving_task

    assert logon.status_code == 201
    assert "Secure" in logon.headers["set-cookie"]
    ref = xml(jobs).find(f"{NS}Ref")
    assert ref is not None
    assert ref.attrib["Href"] == f"https://localhost:{port}/api/jobs/{SEED_JOB}"
