"""The Enterprise Manager dialect's representations, whole, in XML and in JSON."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    EM_BASE,
    GATED,
    JSON,
    SEED_JOB,
    SESSION,
    add_user,
    apply_as,
    backup_plan,
    basic,
    log_on,
    operation_ids,
    settle,
)

from onward.runtime import Runtime

#: the start of every XML answer, up to the root element
PROLOG: Final = '<?xml version="1.0" encoding="utf-8"?>\n'
XMLNS: Final = 'xmlns="http://www.veeam.com/ent/v1.0"'
API: Final = f"{EM_BASE}/api/"
JOB: Final = f"{API}jobs/{SEED_JOB}"
TASK: Final = f"{API}tasks/task-1"
XML_MEDIA: Final = "application/xml; charset=utf-8"
JSON_MEDIA: Final = "application/json; charset=utf-8"
#: the seed job's objects: the GUIDs of its targets (name-based, so stable)
ORA1: Final = "d1bae5a2-c42f-5bd1-a2f0-017416e1099c"
ORA2: Final = "2cfdbefb-5a0a-53d7-b274-25c9ea41ec86"


@pytest.fixture
async def succeeding_job(runtime: Runtime, tmp_path: Path) -> None:
    """Store the seed page's job; here its check succeeds (the marker is there)."""
    marker = tmp_path / "marker"
    marker.touch()
    await apply_as(runtime, backup_plan(marker), SEED_JOB)


def xml_of(answer: httpx.Response) -> str:
    """Return an XML answer's text, after checking its media type."""
    assert answer.headers["content-type"] == XML_MEDIA
    return answer.text


def json_of(answer: httpx.Response) -> Any:
    """Return a JSON answer's value, after checking its media type."""
    assert answer.headers["content-type"] == JSON_MEDIA
    return answer.json()


def link_xml(rel: str, href: str, type_: str = "", name: str = "") -> str:
    """Return a ``Link`` element as the dialect writes it."""
    more = (f' Type="{type_}"' if type_ else "") + (f' Name="{name}"' if name else "")
    return f'<Link Rel="{rel}" Href="{href}"{more} />'


def link_json(rel: str, href: str, type_: str = "", name: str = "") -> dict[str, str]:
    """Return a ``Link`` as the dialect writes it in JSON."""
    value = {"Rel": rel, "Href": href}
    value.update({"Type": type_} if type_ else {})
    value.update({"Name": name} if name else {})
    return value


# --- the API root -------------------------------------------------------------------

VERSIONS: Final = [f"v1_{minor}" for minor in range(9)]


async def test_the_root_is_the_enterprise_manager_with_every_logon_link_in_xml(
    em: httpx.AsyncClient,
) -> None:
    """GET /api/ answers the whole EnterpriseManager element, in the namespace."""
    answer = await em.get("/api/")

    assert answer.status_code == 200
    assert xml_of(answer) == (
        f"{PROLOG}<EnterpriseManager {XMLNS}><Links>"
        + link_xml("Down", f"{API}logonSessions", "LogonSessionList")
        + link_xml("Create", f"{API}sessionMngr/?v=latest", "LogonSession")
        + "</Links><SupportedVersions>"
        + "".join(
            f'<SupportedVersion Name="{version}"><Links>'
            + link_xml("Create", f"{API}sessionMngr/?v={version}", "LogonSession")
            + "</Links></SupportedVersion>"
            for version in VERSIONS
        )
        + "</SupportedVersions></EnterpriseManager>"
    )


async def test_the_root_in_json_has_the_same_links(em: httpx.AsyncClient) -> None:
    """GET /api/ with Accept JSON: Links and SupportedVersions as arrays."""
    answer = await em.get("/api/", headers={"Accept": "application/json"})

    assert answer.status_code == 200
    assert json_of(answer) == {
        "Links": [
            link_json("Down", f"{API}logonSessions", "LogonSessionList"),
            link_json("Create", f"{API}sessionMngr/?v=latest", "LogonSession"),
        ],
        "SupportedVersions": [
            {
                "Name": version,
                "Links": [
                    link_json(
                        "Create", f"{API}sessionMngr/?v={version}", "LogonSession"
                    )
                ],
            }
            for version in VERSIONS
        ],
    }


# --- the logon session --------------------------------------------------------------


def session_of(answer: httpx.Response) -> str:
    """Return the logon session GUID an answer's Location names."""
    found = answer.headers["location"].removeprefix(f"{API}logonSessions/")
    return str(uuid.UUID(found))


async def test_a_logon_answers_the_whole_logon_session_in_xml(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """POST /api/sessionMngr/ answers 201 and the LogonSession, every element."""
    await add_user(runtime, "ann")

    answer = await em.post("/api/sessionMngr/?v=latest", headers=basic("ann"))

    session = session_of(answer)
    href = f"{API}logonSessions/{session}"
    assert answer.status_code == 201
    assert xml_of(answer) == (
        f'{PROLOG}<LogonSession {XMLNS} Type="LogonSession" Href="{href}"><Links>'
        + link_xml("Up", API, "EnterpriseManager")
        + link_xml("Down", f"{API}jobs", "JobReferenceList")
        + link_xml("Down", f"{API}jobs?format=Entity", "JobList")
        + link_xml("Delete", href, "LogonSession")
        + f"</Links><UserName>ann</UserName><SessionId>{session}</SessionId>"
        + "</LogonSession>"
    )


async def test_a_logon_session_in_json_has_the_same_properties(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """The LogonSession in JSON: Type, Href, Links, UserName, SessionId."""
    await add_user(runtime, "ann")
    logon = await log_on(em)
    token = logon.headers["x-restsvcsessionid"]

    answer = await em.get(
        logon.headers["location"],
        headers={"X-RestSvcSessionId": token, "Accept": "application/json"},
    )

    session = session_of(logon)
    href = f"{API}logonSessions/{session}"
    assert answer.status_code == 200
    assert json_of(answer) == {
        "Type": "LogonSession",
        "Href": href,
        "Links": [
            link_json("Up", API, "EnterpriseManager"),
            link_json("Down", f"{API}jobs", "JobReferenceList"),
            link_json("Down", f"{API}jobs?format=Entity", "JobList"),
            link_json("Delete", href, "LogonSession"),
        ],
        "UserName": "ann",
        "SessionId": session,
    }


# --- jobs ---------------------------------------------------------------------------

REF_XML: Final = (
    f'<Ref Type="JobReference" Href="{JOB}" Name="oracle-backup" '
    f'UID="urn:veeam:Job:{SEED_JOB}"><Links>'
    + link_xml("Alternate", f"{JOB}?format=Entity", "Job", "oracle-backup")
    + "</Links></Ref>"
)
REF_JSON: Final = {
    "Type": "JobReference",
    "Href": JOB,
    "Name": "oracle-backup",
    "UID": f"urn:veeam:Job:{SEED_JOB}",
    "Links": [link_json("Alternate", f"{JOB}?format=Entity", "Job", "oracle-backup")],
}


@pytest.mark.usefixtures("seed_session", "succeeding_job")
async def test_the_jobs_are_entity_references_in_xml_and_json(
    em: httpx.AsyncClient,
) -> None:
    """GET /api/jobs: EntityReferences of Ref in XML, {"Refs": [...]} in JSON."""
    in_xml = await em.get("/api/jobs", headers=SESSION)
    in_json = await em.get("/api/jobs", headers=JSON)

    assert in_xml.status_code == 200
    assert xml_of(in_xml) == (
        f"{PROLOG}<EntityReferences {XMLNS}>{REF_XML}</EntityReferences>"
    )
    assert in_json.status_code == 200
    assert json_of(in_json) == {"Refs": [REF_JSON]}


def object_xml(uid: str, name: str) -> str:
    """Return an ObjectInJob of the seed job's group ``db``."""
    return (
        f'<ObjectInJob Type="ObjectInJob"><ObjectInJobId>{uid}</ObjectInJobId>'
        f"<Name>{name}</Name><DisplayName>db/{name}</DisplayName></ObjectInJob>"
    )


@pytest.mark.usefixtures("seed_session", "succeeding_job")
async def test_a_job_entity_is_answered_whole_in_xml(em: httpx.AsyncClient) -> None:
    """GET /api/jobs/{ID}?format=Entity: every attribute and element of the Job."""
    answer = await em.get(f"/api/jobs/{SEED_JOB}?format=Entity", headers=SESSION)

    assert answer.status_code == 200
    assert xml_of(answer) == (
        f'{PROLOG}<Job {XMLNS} Type="Job" Href="{JOB}?format=Entity" '
        f'Name="oracle-backup" UID="urn:veeam:Job:{SEED_JOB}"><Links>'
        + link_xml("Alternate", JOB, "JobReference", "oracle-backup")
        + link_xml("Start", f"{JOB}?action=start")
        + link_xml("Stop", f"{JOB}?action=stop")
        + link_xml("Retry", f"{JOB}?action=retry")
        + "</Links><JobType>Backup</JobType><Platform>CustomPlatform</Platform>"
        "<Description>Backup of the Oracle database</Description>"
        "<ScheduleConfigured>true</ScheduleConfigured>"
        "<ScheduleEnabled>true</ScheduleEnabled>"
        "<JobInfo><BackupJobInfo><Includes>"
        + object_xml(ORA1, "ora1")
        + object_xml(ORA2, "ora2")
        + "</Includes></BackupJobInfo></JobInfo></Job>"
    )


@pytest.mark.usefixtures("seed_session", "succeeding_job")
async def test_a_job_entity_in_json_has_the_same_properties(
    em: httpx.AsyncClient,
) -> None:
    """The Job in JSON: booleans as booleans, Links and Includes as arrays."""
    answer = await em.get(f"/api/jobs/{SEED_JOB}?format=Entity", headers=JSON)

    assert answer.status_code == 200
    assert json_of(answer) == {
        "Type": "Job",
        "Href": f"{JOB}?format=Entity",
        "Name": "oracle-backup",
        "UID": f"urn:veeam:Job:{SEED_JOB}",
        "Links": [
            link_json("Alternate", JOB, "JobReference", "oracle-backup"),
            link_json("Start", f"{JOB}?action=start"),
            link_json("Stop", f"{JOB}?action=stop"),
            link_json("Retry", f"{JOB}?action=retry"),
        ],
        "JobType": "Backup",
        "Platform": "CustomPlatform",
        "Description": "Backup of the Oracle database",
        "ScheduleConfigured": True,
        "ScheduleEnabled": True,
        "JobInfo": {
            "BackupJobInfo": {
                "Includes": [
                    {
                        "Type": "ObjectInJob",
                        "ObjectInJobId": uid,
                        "Name": name,
                        "DisplayName": f"db/{name}",
                    }
                    for uid, name in ((ORA1, "ora1"), (ORA2, "ora2"))
                ]
            }
        },
    }


# --- tasks --------------------------------------------------------------------------

TASK_HEAD_XML: Final = (
    f'{PROLOG}<Task {XMLNS} Type="Task" Href="{TASK}"><Links>'
    + link_xml("Delete", TASK, "Task")
    + "</Links><TaskId>task-1</TaskId>"
)
TASK_HEAD_JSON: Final = {
    "Type": "Task",
    "Href": TASK,
    "Links": [link_json("Delete", TASK, "Task")],
    "TaskId": "task-1",
}


@pytest.mark.usefixtures("seed_session")
async def test_a_running_task_is_answered_whole_in_xml_and_json(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A start whose run waits: 202 Task Running, and GET answers the same."""
    await apply_as(runtime, GATED, SEED_JOB)

    async with operation_ids("op_1"):
        started = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=SESSION)
    await settle(runtime)
    in_xml = await em.get("/api/tasks/task-1", headers=SESSION)
    in_json = await em.get("/api/tasks/task-1", headers=JSON)

    running = (
        f"{TASK_HEAD_XML}<State>Running</State><Operation>StartJob</Operation></Task>"
    )
    assert started.status_code == 202
    assert started.headers["location"] == TASK
    assert xml_of(started) == running
    assert in_xml.status_code == 200
    assert xml_of(in_xml) == running
    assert in_json.status_code == 200
    assert json_of(in_json) == {
        **TASK_HEAD_JSON,
        "State": "Running",
        "Operation": "StartJob",
    }


@pytest.mark.usefixtures("seed_session", "succeeding_job")
async def test_a_finished_task_is_answered_whole_in_xml_and_json(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A start whose run succeeded: Finished, with Result Success and its Message."""
    async with operation_ids("op_1"):
        await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=SESSION)
    await settle(runtime)

    in_xml = await em.get("/api/tasks/task-1", headers=SESSION)
    in_json = await em.get("/api/tasks/task-1", headers=JSON)

    assert in_xml.status_code == 200
    assert xml_of(in_xml) == (
        f"{TASK_HEAD_XML}<State>Finished</State><Operation>StartJob</Operation>"
        '<Result Success="true">'
        '<Message>Job "oracle-backup" finished successfully.</Message>'
        "</Result></Task>"
    )
    assert in_json.status_code == 200
    assert json_of(in_json) == {
        **TASK_HEAD_JSON,
        "State": "Finished",
        "Operation": "StartJob",
        "Result": {
            "Success": True,
            "Message": 'Job "oracle-backup" finished successfully.',
        },
    }
