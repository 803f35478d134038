"""The Enterprise Manager dialect's errors: a test for each row of its error table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Final, NoReturn

import httpx
import pytest
from dialect_support import (
    BODY_LIMIT,
    EM_BASE,
    GATED,
    JSON,
    NOBODY,
    NS,
    SEED_JOB,
    SEED_SESSION,
    SESSION,
    add_session,
    add_user,
    apply_as,
    basic,
    em_session,
    fail_the_job,
    log_on,
    sent,
    serve,
    settle,
    too_large,
    vendor_error,
    vendor_json_error,
    xml,
)
from structlog.testing import capture_logs

from onward import errors
from onward.api.dialects.veeam_em import errors as em_errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.plan_status import PlanStatuses, latest_run
from onward.storage.memory import MemoryStore

#: the 401 of a logon session that is not (or no longer) valid
SESSION_REFUSED: Final = (
    "The logon session is unknown, has expired or was logged out, "
    "or its account is disabled"
)
#: the 403 of a role that may not start, stop or retry
MAY_NOT_OPERATE: Final = (
    "Access denied: your role does not allow starting, stopping or retrying jobs, "
    "or stopping tasks"
)
#: why retry, stop and start are refused, after the session's state
RETRY_NEEDS: Final = (
    "the retry action can be performed only for jobs that have been finished "
    "with the Failed status"
)
STOP_NEEDS: Final = "only a Starting, Working or Halted session can be stopped"
START_NEEDS: Final = "a job runs one session at a time"

HALTING: Final = """
name: halting
groups:
  - name: g
    targets: [a]
    steps: [{name: broken, action: shell, with: {command: "exit 1"}}]
"""
WARNING: Final = """
name: warned
groups:
  - name: g
    targets: [a]
    steps:
      - {name: optional, action: shell, critical: false, with: {command: "exit 1"}}
      - {name: ok, action: noop}
"""
RECOVERY: Final = """
name: web-dr
kind: replica
procedures:
  failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: boot, action: noop}]}]
"""
WITH_PARAMS: Final = """
name: dated
params: {restore_point: {type: datetime, required: true}}
groups:
  - name: g
    targets: [a]
    steps: [{name: ok, action: noop}]
"""


@pytest.fixture
def clock() -> FrozenClock:
    """Return a clock that moves only when told to."""
    return FrozenClock()


@pytest.fixture
async def frozen(
    clock: FrozenClock,
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """Yield a runtime on the frozen clock (no steps run) and a client of its app."""
    settings = Settings(concurrency=1, heartbeat_timeout=60, shutdown_grace=1)
    runtime = Runtime.open(settings, executes=False, store=MemoryStore(), clock=clock)
    async with serve(runtime, EM_BASE) as http:
        yield runtime, http


def break_job_listing(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    """Make listing the jobs raise ``error``, as a bug or a failing store would."""

    async def broken(*_: object, **__: object) -> NoReturn:
        raise error

    monkeypatch.setattr(PlanStatuses, "list_statuses", broken)


async def act_on_seed_job(em: httpx.AsyncClient, action: str) -> httpx.Response:
    """Start, stop or retry the seed page's job, as ann."""
    return await em.post(f"/api/jobs/{SEED_JOB}?action={action}", headers=SESSION)


# --- 500: whatever goes wrong, the vendor's Error -----------------------------------


@pytest.mark.usefixtures("seed_session", "job")
async def test_an_unexpected_failure_is_the_vendors_500_with_its_traceback_logged(
    em: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug answers 500 in the vendor's Error (XML, JSON); the traceback is logged."""
    break_job_listing(monkeypatch, RuntimeError("secret internals"))
    with capture_logs() as logs:
        in_xml = await em.get("/api/jobs", headers=SESSION)
        in_json = await em.get("/api/jobs", headers=JSON)

    assert in_xml.text == (
        '<?xml version="1.0" encoding="utf-8"?>\n<Error '
        'xmlns="http://www.veeam.com/ent/v1.0" Message="Internal server error" '
        'StatusCode="500" />'
    )
    assert vendor_error(in_xml, 500) == "Internal server error"
    assert vendor_json_error(in_json, 500) == "Internal server error"
    assert [(log["event"], log["log_level"], log["exc_info"]) for log in logs] == [
        ("veeam_em.request_failed", "error", True),
        ("veeam_em.request_failed", "error", True),
    ]
    assert logs[0]["path"] == "/api/jobs"
    assert "secret internals" not in in_xml.text + in_json.text


@pytest.mark.usefixtures("seed_session", "job")
async def test_an_onward_error_without_a_vendor_status_is_a_logged_500(
    em: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Onward error the table does not name answers 500; its message is logged."""
    break_job_listing(monkeypatch, errors.ActionError("secret internals"))
    with capture_logs() as logs:
        answer = await em.get("/api/jobs", headers=SESSION)

    assert vendor_error(answer, 500) == "Internal server error"
    assert [(log["event"], log["error"]) for log in logs] == [
        ("veeam_em.request_failed", "secret internals")
    ]


@pytest.mark.usefixtures("seed_session", "job")
async def test_storage_unavailable_is_a_503_with_retry_after_and_no_details(
    em: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store failing answers 503, Retry-After: 1; the database's words are kept."""
    detail = "The database could not list plans: disk I/O error"
    break_job_listing(monkeypatch, errors.StorageError(detail))
    answer = await em.get("/api/jobs", headers=JSON)

    assert vendor_json_error(answer, 503) == (
        "The service is unavailable for a moment; try again"
    )
    assert answer.headers["retry-after"] == "1"
    assert "disk I/O" not in answer.text


# --- 400: a start the job cannot make ----------------------------------------------


@pytest.mark.usefixtures("seed_session")
@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (
            RECOVERY,
            'Cannot start job "web-dr": it has no steps to start',
        ),
        (
            WITH_PARAMS,
            'Cannot start job "dated": it needs parameters Enterprise Manager '
            "cannot send: restore_point",
        ),
    ],
    ids=["no-run-procedure", "required-parameter"],
)
async def test_a_job_a_start_cannot_make_is_a_400_in_em_words(
    runtime: Runtime, em: httpx.AsyncClient, plan: str, message: str
) -> None:
    """A recovery-only plan, or one needing parameters: 400, and no run starts."""
    await apply_as(runtime, plan, SEED_JOB)

    answer = await act_on_seed_job(em, "start")

    assert vendor_error(answer, 400) == message
    assert await runtime.store.list_operations(workspace="default") == []


# --- 401 ----------------------------------------------------------------------------


async def test_no_session_is_asked_for_by_its_header(em: httpx.AsyncClient) -> None:
    """No X-RestSvcSessionId (or a blank one): 401 naming the header."""
    missing = await em.get("/api/jobs")
    blank = await em.get("/api/jobs", headers={"X-RestSvcSessionId": "  "})

    message = "Authentication required: send the X-RestSvcSessionId header"
    assert vendor_error(missing, 401) == message
    assert vendor_error(blank, 401) == message


async def test_an_unknown_session_is_refused(em: httpx.AsyncClient) -> None:
    """A token nobody was given, even of odd bytes: 401."""
    unknown = await em.get("/api/jobs", headers={"X-RestSvcSessionId": "onw_x"})
    odd = await em.get("/api/jobs", headers={"X-RestSvcSessionId": b"\xff\x00"})

    assert vendor_error(unknown, 401) == SESSION_REFUSED
    assert vendor_error(odd, 401) == SESSION_REFUSED


async def test_an_expired_session_is_refused(
    frozen: tuple[Runtime, httpx.AsyncClient], clock: FrozenClock
) -> None:
    """A session past its lifetime: 401."""
    runtime, em = frozen
    await em_session(runtime, "ann", SEED_SESSION)
    clock.advance(timedelta(hours=2))

    answer = await em.get("/api/jobs", headers=SESSION)

    assert vendor_error(answer, 401) == SESSION_REFUSED


async def test_a_logged_out_session_and_a_disabled_account_are_refused(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """After the logout, or once the account is disabled: 401."""
    user = await add_user(runtime, "ann")
    logon = await log_on(em)
    await add_session(runtime, user, SEED_SESSION)
    token = {"X-RestSvcSessionId": logon.headers["x-restsvcsessionid"]}
    await em.delete(logon.headers["location"], headers=token)
    logged_out = await em.get("/api/jobs", headers=token)
    await runtime.store.update_user(replace(user, disabled=True))
    disabled = await em.get("/api/jobs", headers=SESSION)

    assert vendor_error(logged_out, 401) == SESSION_REFUSED
    assert vendor_error(disabled, 401) == SESSION_REFUSED


async def test_a_wrong_password_is_challenged(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A wrong password, or an unknown user: 401 with the Basic challenge."""
    await add_user(runtime, "ann")

    wrong = await em.post("/api/sessionMngr/", headers=basic("ann", "nope"))
    unknown = await em.post("/api/sessionMngr/", headers=basic("bob"))

    assert vendor_error(wrong, 401) == "Invalid username or password"
    assert vendor_error(unknown, 401) == "Invalid username or password"
    assert wrong.headers["www-authenticate"] == "Basic Realm=RestSvc"


# --- 413 ----------------------------------------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_limit_is_a_413_and_starts_nothing(
    runtime: Runtime, em: httpx.AsyncClient, chunked: bool
) -> None:
    """A start with a body a byte over the limit: 413 in XML and JSON, no session."""
    with capture_logs() as logs:
        answers = [
            await em.post(
                f"/api/jobs/{SEED_JOB}?action=start",
                headers=headers,
                content=sent(b"x" * (BODY_LIMIT + 1), chunked=chunked),
            )
            for headers in (SESSION, JSON)
        ]

    assert vendor_error(answers[0], 413) == too_large()
    assert vendor_json_error(answers[1], 413) == too_large()
    assert (
        await latest_run(runtime.store, workspace="default", plan="oracle-backup")
        is None
    )
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_the_limits_size_is_ignored_as_before(
    em: httpx.AsyncClient, chunked: bool
) -> None:
    """A start whose body is exactly the limit is taken: 202 with its task."""
    answer = await em.post(
        f"/api/jobs/{SEED_JOB}?action=start",
        headers=SESSION,
        content=sent(b"x" * BODY_LIMIT, chunked=chunked),
    )

    assert answer.status_code == 202, answer.text
    assert xml(answer).findtext(f"{NS}Operation") == "StartJob"


# --- 429 ----------------------------------------------------------------------------


async def test_too_many_failed_logons_are_a_429_with_retry_after(
    frozen: tuple[Runtime, httpx.AsyncClient],
) -> None:
    """After five wrong passwords the sixth logon waits: 429, Retry-After in s."""
    runtime, em = frozen
    await add_user(runtime, "ann")
    for _ in range(5):
        await em.post("/api/sessionMngr/", headers=basic("ann", "nope"))

    answer = await em.post("/api/sessionMngr/", headers=basic("ann"))

    assert vendor_error(answer, 429) == "Too many failed logons; try again in 300 s"
    assert answer.headers["retry-after"] == "300"


# --- 403 ----------------------------------------------------------------------------


@pytest.mark.usefixtures("job")
async def test_a_role_too_low_is_access_denied_in_the_vendors_words(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A viewer may not start a job nor stop a task: 403 Access denied."""
    viewer = await em_session(runtime, "vic", "onw_viewer-token", role=Role.VIEWER)

    started = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=viewer)
    stopped = await em.delete("/api/tasks/task-1", headers=viewer)

    assert vendor_error(started, 403) == MAY_NOT_OPERATE
    assert vendor_error(stopped, 403) == MAY_NOT_OPERATE


async def test_an_account_without_a_role_is_access_denied(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """Signed in, but no role: 403 for reading too."""
    no_role = await em_session(runtime, "nora", "onw_no-role", role=None)

    answer = await em.get("/api/jobs", headers=no_role)

    assert vendor_error(answer, 403) == "Access denied: your account has no role"


# --- 404 ----------------------------------------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", f"/api/jobs/{NOBODY}", f"Job not found: {NOBODY}"),
        ("GET", f"/api/jobs/{NOBODY}?format=Entity", f"Job not found: {NOBODY}"),
        ("POST", f"/api/jobs/{NOBODY}?action=start", f"Job not found: {NOBODY}"),
        ("GET", "/api/tasks/task-nothing", "Task not found: task-nothing"),
        ("DELETE", "/api/tasks/task-nothing", "Task not found: task-nothing"),
        ("GET", "/api/tasks/42", "Task not found: 42"),
        ("GET", "/api/tasks/task-", "Task not found: task-"),
        ("GET", "/api/tasks/task-a.b", "Task not found: task-a.b"),
        (
            "GET",
            f"/api/logonSessions/{NOBODY}",
            f"Logon session not found: {NOBODY}",
        ),
        (
            "DELETE",
            f"/api/logonSessions/{NOBODY}",
            f"Logon session not found: {NOBODY}",
        ),
    ],
)
async def test_an_unknown_job_task_or_session_is_not_found_in_the_vendors_words(
    em: httpx.AsyncClient, method: str, path: str, message: str
) -> None:
    """404 naming the job, task or logon session as the client did."""
    answer = await em.request(method, path, headers=SESSION)

    assert vendor_error(answer, 404) == message


# --- 409 ----------------------------------------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
async def test_retry_stop_and_start_refusals_name_the_last_session_in_em_words(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """Never run, then Failed, then Success: each refusal says which, and why."""
    never_retry = await act_on_seed_job(em, "retry")
    never_stop = await act_on_seed_job(em, "stop")
    await fail_the_job(runtime, em)
    failed_stop = await act_on_seed_job(em, "stop")
    await act_on_seed_job(em, "start")
    await settle(runtime)
    success_retry = await act_on_seed_job(em, "retry")

    job = 'Cannot {} job "oracle-backup": {}; {}'
    assert vendor_error(never_retry, 409) == job.format(
        "retry", "it has no session yet", RETRY_NEEDS
    )
    assert vendor_error(never_stop, 409) == job.format(
        "stop", "it has no session yet", STOP_NEEDS
    )
    assert vendor_error(failed_stop, 409) == job.format(
        "stop", "its last session is Failed", STOP_NEEDS
    )
    assert vendor_error(success_retry, 409) == job.format(
        "retry", "its last session is Success", RETRY_NEEDS
    )


@pytest.mark.usefixtures("seed_session")
@pytest.mark.parametrize(
    ("plan", "before", "action", "message"),
    [
        (
            GATED,
            ["start"],
            "start",
            f'Cannot start job "gated": its last session is Working; {START_NEEDS}',
        ),
        (
            HALTING,
            ["start"],
            "start",
            'Cannot start job "halting": its last session is Halted (a critical '
            f"step failed and it waits for an operator); {START_NEEDS}",
        ),
        (
            WARNING,
            ["start"],
            "retry",
            f'Cannot retry job "warned": its last session is Warning; {RETRY_NEEDS}',
        ),
        (
            GATED,
            ["start", "stop"],
            "stop",
            f'Cannot stop job "gated": its last session is Stopped; {STOP_NEEDS}',
        ),
    ],
    ids=["working", "halted", "success-with-warnings", "stopped"],
)
async def test_a_refusal_names_the_last_session_as_em_does(
    runtime: Runtime,
    em: httpx.AsyncClient,
    plan: str,
    before: list[str],
    action: str,
    message: str,
) -> None:
    """Working and Halted refuse a start, Warning a retry, Stopped a stop: 409."""
    await apply_as(runtime, plan, SEED_JOB)
    for earlier in before:
        await act_on_seed_job(em, earlier)
        await settle(runtime)

    answer = await act_on_seed_job(em, action)

    assert vendor_error(answer, 409) == message


def test_a_refused_task_stop_names_its_job_session_in_em_words() -> None:
    """A task whose run is cancelling (a race the API cannot stage) is Stopping."""
    message = em_errors.task_refused("task-1", RunStatus.CANCELLING.value)

    assert message == "Cannot stop task task-1: its job session is Stopping"


# --- disabled jobs ------------------------------------------------------------------


async def disable(runtime: Runtime, plan: str) -> None:
    """Disable a plan of the default workspace."""
    await runtime.store.set_plan_enabled(workspace="default", name=plan, enabled=False)


@pytest.mark.usefixtures("seed_session", "job")
async def test_a_disabled_job_is_not_started_and_says_why(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """Start of a disabled job: 409 in EM's words; no session is started."""
    await disable(runtime, "oracle-backup")

    answer = await act_on_seed_job(em, "start")

    assert vendor_error(answer, 409) == (
        'Cannot start job "oracle-backup": the job is disabled; enable it first'
    )
    assert await runtime.store.list_operations(workspace="default") == []


@pytest.mark.usefixtures("seed_session", "job")
async def test_a_disabled_job_has_its_schedule_disabled(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """ScheduleEnabled is false while the plan is disabled, though its timer is on."""
    await disable(runtime, "oracle-backup")

    entity = xml(await em.get(f"/api/jobs/{SEED_JOB}?format=Entity", headers=SESSION))

    assert entity.findtext(f"{NS}ScheduleConfigured") == "true"
    assert entity.findtext(f"{NS}ScheduleEnabled") == "false"


# --- logout with an API key ---------------------------------------------------------


@pytest.mark.usefixtures("seed_session")
async def test_logout_with_an_api_key_is_refused_in_the_vendors_words(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """An API key signs in as a logon session would, but cannot be logged out: 409."""
    principal = await runtime.auth.authenticate(SEED_SESSION)
    issued = await runtime.auth.create_api_key(principal, name="em-client")
    key = {"X-RestSvcSessionId": issued.secret}
    listed = xml(await em.get("/api/logonSessions", headers=key))
    delete = listed.find(f"{NS}LogonSession/{NS}Links/{NS}Link[@Rel='Delete']")
    assert delete is not None

    answer = await em.delete(delete.attrib["Href"], headers=key)

    assert vendor_error(answer, 409) == (
        "Logging out ends a logon session; this request used an API key"
    )
