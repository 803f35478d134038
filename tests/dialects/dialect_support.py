"""Helpers of the dialect tests: runtimes, apps, users, sessions, plans and runs.

One section serves every dialect (the runtime, its app, sessions, Basic
credentials); then VAO and Enterprise Manager, which make users through the
auth service and stand plans in under a vendor's example id; then JP1/AO and
SecMaster, which store users straight away (any password) and start runs
themselves. The fixtures built on these are in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from xml.etree import ElementTree as ET

import httpx
import pytest

from onward.api.app import create_app
from onward.clock import Clock
from onward.config import Settings
from onward.domain.access import Credential, CredentialKind, Role, RoleBinding, User
from onward.domain.runs import Run, RunStatus
from onward.ids import PlanId, new_id, new_run_id
from onward.runtime import Runtime
from onward.service import auth as auth_module
from onward.service import commands as commands_module
from onward.service import operations as operations_module
from onward.service.auth import SECRET_PREFIX, hash_secret
from onward.service.commands import Caller
from onward.service.plan_status import latest_run
from onward.service.plan_uuids import plan_id_of
from onward.service.ports import RunCommit
from onward.storage import memory as memory_module
from onward.storage.memory import MemoryStore

# --- every dialect ------------------------------------------------------------------

#: a master secret for access keys in tests
MASTER: Final = "test-master-secret-0123456789abcdef"
#: the password of users made by ``add_user``
PASSWORD: Final = "correct horse battery"  # noqa: S105 - test data


def make_runtime(
    *, clock: Clock | None = None, max_request_body: int | None = None
) -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here, access keys on.

    Args:
        clock: the runtime's clock (None: the system's).
        max_request_body: the app's request body limit (None: the default).
    """
    limit = {} if max_request_body is None else {"max_request_body": max_request_body}
    settings = Settings(
        concurrency=4,
        heartbeat_timeout=60,
        shutdown_grace=1,
        access_key_master=MASTER,
        **limit,
    )
    return Runtime.open(settings, executes=True, store=MemoryStore(), clock=clock)


@asynccontextmanager
async def serve(runtime: Runtime, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app of a runtime and yield a client of it at ``base_url``."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


#: a request body limit small enough to pass in tests (``max_request_body``)
BODY_LIMIT: Final = 4096


def too_large(limit: int = BODY_LIMIT) -> str:
    """Return the message of a refused body: it names the limit."""
    return f"The request body is larger than the limit of {limit} bytes."


def padded_json(document: object, size: int) -> bytes:
    """Return a JSON document written in exactly ``size`` bytes (spaces after it)."""
    text = json.dumps(document).encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


async def in_chunks(body: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    """Yield a body in chunks: httpx sends it without Content-Length (chunked)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def sent(body: bytes, *, chunked: bool) -> bytes | AsyncIterator[bytes]:
    """Return a body to send with Content-Length, or chunked."""
    return in_chunks(body) if chunked else body


async def add_session(
    runtime: Runtime, user: User, secret: str, *, age: timedelta = timedelta(0)
) -> None:
    """Give a user an hour's session whose token is ``secret``, issued ``age`` ago."""
    issued = runtime.engine.clock.now() - age
    await runtime.store.add_credential(
        Credential(
            credential_id=new_id("ses"),
            kind=CredentialKind.SESSION,
            user_id=user.user_id,
            secret_hash=hash_secret(secret),
            created_at=issued,
            expires_at=issued + timedelta(hours=1),
        )
    )


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    """Return a Basic Authorization header of a user's credentials."""
    return basic_raw(f"{username}:{password}".encode())


def basic_raw(raw: bytes) -> dict[str, str]:
    """Return a Basic Authorization header of raw bytes (not always a valid pair)."""
    return {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}


# --- VAO and Enterprise Manager: users, plans under vendor ids, runs ----------------

#: a plan whose run waits for an approval, so it keeps running
GATED: Final = """
name: gated
groups:
  - name: g
    targets: [a]
    steps: [{name: ok, action: approval, with: {message: go}}]
"""
#: an id no plan, job or logon session has
NOBODY: Final = "00000000-0000-0000-0000-000000000001"


async def add_user(
    runtime: Runtime, username: str, *, role: Role | None = Role.OPERATOR
) -> User:
    """Create a user with PASSWORD and a role in the default workspace."""
    user = await runtime.auth.create_user(username, PASSWORD)
    if role is not None:
        await runtime.auth.ensure_workspace()
        await runtime.store.put_binding(
            RoleBinding(workspace="default", user_id=user.user_id, role=role)
        )
    return user


async def apply_as(runtime: Runtime, text: str, plan_uuid: str) -> None:
    """Store a plan whose UUID is the given one (a vendor's example id)."""
    with pytest.MonkeyPatch.context() as patch:
        plan_id = PlanId(plan_id_of(uuid.UUID(plan_uuid)))
        patch.setattr(memory_module, "new_plan_id", lambda: plan_id)
        await runtime.commands.apply_plan(text)


@asynccontextmanager
async def operation_ids(*ids: str) -> AsyncIterator[None]:
    """Give the next operations these ids (a vendor's example task ids)."""
    queue = list(ids)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(operations_module, "new_id", lambda prefix: queue.pop(0))
        yield


async def settle(runtime: Runtime) -> None:
    """Wait until the runtime has no step left to run."""
    assert runtime.executor is not None
    await runtime.executor.drain()


def flaky_check(marker: Path) -> str:
    """Return a shell command that fails once, then succeeds (a marker remembers)."""
    return f"test -f {marker} || {{ touch {marker}; exit 1; }}"


# --- VAO ----------------------------------------------------------------------------

VAO_BASE: Final = "https://vao.example:9898"
#: the plan id of the seed pages' examples
SEED_PLAN: Final = "b8517d70-028d-4740-a130-787e164a3d83"
PLANS: Final = "/api/v3/Plans"
PLAN: Final = f"{PLANS}/{SEED_PLAN}"
INVALID: Final = "The request is invalid."
DENIED: Final = "Authorization has been denied for this request."
#: a plan of one step that succeeds
SIMPLE: Final = """
name: web
groups: [{name: g, targets: [a], steps: [{name: one, action: noop}]}]
"""


async def vao_token(
    http: httpx.AsyncClient, username: str = "ann", password: str = PASSWORD
) -> dict[str, str]:
    """Sign in through the VAO token endpoint; return the Authorization header."""
    answer = await http.post(
        "/api/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def vao_halting_plan(marker: Path, *, name: str = "web") -> str:
    """Return a VAO test plan whose check of target b fails once: its run halts."""
    return f"""
name: {name}
description: the web tier
params: {{restore_point: {{type: datetime, required: false}}}}
groups:
  - name: g
    targets: [a, b]
    steps:
      - {{name: greet, action: noop}}
      - name: check
        action: shell
        with: {{command: "test {{{{ target.name }}}} != b || {flaky_check(marker)}"}}
"""


async def halted_seed_plan(
    runtime: Runtime, vao: httpx.AsyncClient, auth: dict[str, str], marker: Path
) -> None:
    """Store the halting plan as the seed plan and Restore it: its run halts."""
    await apply_as(runtime, vao_halting_plan(marker), SEED_PLAN)
    await vao.post(f"{PLAN}/Restore", headers=auth)
    await settle(runtime)


async def newest_run(runtime: Runtime, plan: str) -> Run:
    """Return a plan's newest run."""
    run = await latest_run(runtime.store, workspace="default", plan=plan)
    assert run is not None
    return run


def parse_xml(content: bytes) -> ET.Element:
    """Return the root element of one of the app's XML answers (it must parse)."""
    return ET.fromstring(content)  # noqa: S314 - the app's own answer


def invalid(model_state: dict[str, list[str]]) -> dict[str, Any]:
    """Return Web API's body of an invalid request with this ModelState."""
    return {"Message": INVALID, "ModelState": model_state}


async def continue_with(
    vao: httpx.AsyncClient, auth: dict[str, str], option: str, path: str = PLAN
) -> httpx.Response:
    """POST Continue with a continue option."""
    return await vao.post(
        f"{path}/Continue", headers=auth, json={"executionContinueOptions": option}
    )


# --- Enterprise Manager -------------------------------------------------------------

EM_BASE: Final = "https://localhost:9398"
NS: Final = "{http://www.veeam.com/ent/v1.0}"
#: the job id and session token of the seed page's example
SEED_JOB: Final = "78c3919c-54d7-43fe-b047-485d3566f11f"
SEED_SESSION: Final = "NDRjZmJkYmUtNWE5NS00MTU2LTg4NjctOTFmMDY5YjdjMmNj"
SESSION: Final = {"X-RestSvcSessionId": SEED_SESSION}
JSON: Final = {**SESSION, "Accept": "application/json"}


def backup_plan(marker: Path) -> str:
    """Return a job's plan whose check fails once: its first run ends failed."""
    return f"""
name: oracle-backup
description: Backup of the Oracle database
on_critical_failure: fail
triggers:
  - {{name: nightly, type: timer, cron: "0 2 * * *"}}
groups:
  - name: db
    targets: [ora1, ora2]
    steps:
      - {{name: check, action: shell, with: {{command: "{flaky_check(marker)}"}}}}
"""


def xml(answer: httpx.Response) -> ET.Element:
    """Return an XML answer's root element."""
    assert answer.headers["content-type"] == "application/xml; charset=utf-8"
    return ET.fromstring(answer.content)  # noqa: S314 - the app's own answer


def vendor_error(answer: httpx.Response, status: int) -> str:
    """Return the Message of the vendor's XML Error, after checking its shape."""
    assert answer.status_code == status, answer.text
    error = xml(answer)
    assert error.tag == f"{NS}Error"
    assert set(error.attrib) == {"Message", "StatusCode"}
    assert error.attrib["StatusCode"] == str(status)
    return error.attrib["Message"]


def vendor_json_error(answer: httpx.Response, status: int) -> Any:
    """Return the Message of the vendor's JSON Error, after checking its shape."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    body = answer.json()
    assert body == {
        "FirstChanceExceptionMessage": None,
        "Message": body["Message"],
        "StackTrace": None,
        "Status": None,
        "StatusCode": status,
    }
    return body["Message"]


async def fail_the_job(runtime: Runtime, em: httpx.AsyncClient) -> None:
    """Start the job and let its run end failed."""
    answer = await em.post(f"/api/jobs/{SEED_JOB}?action=start", headers=SESSION)
    assert answer.status_code == 202, answer.text
    await settle(runtime)


async def log_on(em: httpx.AsyncClient, username: str = "ann") -> httpx.Response:
    """Log on with Basic credentials; forget the cookie, so only the header signs in."""
    answer = await em.post("/api/sessionMngr/?v=latest", headers=basic(username))
    em.cookies.clear()
    return answer


async def em_session(
    runtime: Runtime, username: str, secret: str, *, role: Role | None = Role.OPERATOR
) -> dict[str, str]:
    """Create a user with a role and a session; return its X-RestSvcSessionId."""
    user = await add_user(runtime, username, role=role)
    await add_session(runtime, user, secret)
    return {"X-RestSvcSessionId": secret}


# --- JP1/AO and SecMaster: users, plans and runs ------------------------------------

#: a step fails until its marker file exists: the run halts, a retry can pass
MARKER_PLAN: Final = """
name: marker
params: {marker: {type: string}}
groups:
  - name: g
    targets: [a]
    steps:
      - {name: prepare, action: noop}
      - {name: check, action: shell, with: {command: "test -f {{ run.params.marker }}"}}
      - {name: finish, action: noop}
"""
#: the same, but a critical failure ends the run failed
FAILING_MARKER_PLAN: Final = MARKER_PLAN.replace(
    "name: marker\n", "name: failing-marker\non_critical_failure: fail\n"
)
#: every step succeeds at once
QUICK_PLAN: Final = """
name: quick
groups:
  - name: g
    targets: [a]
    steps:
      - {name: one, action: noop}
"""
#: a long step keeps the run running until it is cancelled
SLOW_PLAN: Final = """
name: slow
groups:
  - name: g
    targets: [a]
    steps:
      - {name: wait, action: sleep, with: {seconds: 60}}
"""


async def store_user(
    runtime: Runtime,
    username: str,
    *,
    password: str = "",
    roles: dict[str, Role] | None = None,
) -> User:
    """Store a user (any password, even a short one) with roles in workspaces."""
    user = User(
        user_id=new_id("usr"),
        username=username,
        password_hash=auth_module._HASHER.hash(password) if password else "",
        created_at=runtime.engine.clock.now(),
    )
    await runtime.store.create_user(user)
    for workspace, role in (roles or {}).items():
        await runtime.auth.ensure_workspace(workspace)
        await runtime.store.put_binding(
            RoleBinding(workspace=workspace, user_id=user.user_id, role=role)
        )
    return user


async def add_token(runtime: Runtime, user: User) -> str:
    """Return a session token of the user."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(16)
    await add_session(runtime, user, secret)
    return secret


async def apply(runtime: Runtime, text: str, *, workspace: str = "default") -> None:
    """Store a plan in a workspace."""
    await runtime.auth.ensure_workspace(workspace)
    await runtime.commands.apply_plan(text, caller=Caller(workspace=workspace))


async def start(
    runtime: Runtime,
    plan: str,
    *,
    params: dict[str, str] | None = None,
    workspace: str = "default",
    run_id: str | None = None,
) -> Run:
    """Start a run (with a chosen run id, if given)."""
    with pytest.MonkeyPatch.context() as patch:
        if run_id is not None:
            patch.setattr(commands_module, "new_run_id", lambda: run_id)
        return await runtime.commands.start_run(
            plan, params=params, caller=Caller(workspace=workspace)
        )


async def wait_for(
    runtime: Runtime, run_id: str, done: Callable[[Run], bool] | RunStatus
) -> Run:
    """Wait until the run satisfies ``done`` (or is in that status); return it."""
    test = (lambda run: run.status is done) if isinstance(done, RunStatus) else done
    for _ in range(500):
        run = await runtime.store.get_run(run_id)
        if test(run):
            return run
        await asyncio.sleep(0.01)
    run = await runtime.store.get_run(run_id)
    msg = f"run {run_id} is {run.status.value}"
    raise AssertionError(msg)


async def halted_marker_run(runtime: Runtime, tmp_path: Path) -> Run:
    """Start the marker plan (its marker in ``tmp_path``); return its run, halted."""
    await apply(runtime, MARKER_PLAN)
    run = await start(runtime, "marker", params={"marker": str(tmp_path / "marker")})
    return await wait_for(runtime, run.run_id, RunStatus.HALTED)


async def failed_marker_run(
    runtime: Runtime, tmp_path: Path, *, workspace: str = "default"
) -> Run:
    """Start the failing marker plan (its marker in ``tmp_path``); return it failed."""
    await apply(runtime, FAILING_MARKER_PLAN, workspace=workspace)
    params = {"marker": str(tmp_path / "marker")}
    run = await start(runtime, "failing-marker", params=params, workspace=workspace)
    return await wait_for(runtime, run.run_id, RunStatus.FAILED)


async def finished_quick_run(runtime: Runtime, *, workspace: str = "default") -> Run:
    """Start the quick plan in a workspace; return its run, succeeded."""
    await apply(runtime, QUICK_PLAN, workspace=workspace)
    run = await start(runtime, "quick", workspace=workspace)
    return await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)


async def running_slow_run(runtime: Runtime, *, workspace: str = "default") -> Run:
    """Start the slow plan in a workspace; return its run once it runs."""
    await apply(runtime, SLOW_PLAN, workspace=workspace)
    run = await start(runtime, "slow", workspace=workspace)
    return await wait_for(runtime, run.run_id, RunStatus.RUNNING)


# --- JP1/AO -------------------------------------------------------------------------

JP1_HOST: Final = "10.196.184.238:22015"
TASKS: Final = "/Automation/v1/objects/Tasks"
#: "system:manager", the seed's credentials
SEED_AUTH: Final = {"Authorization": "Basic c3lzdGVtOm1hbmFnZXI="}
SEED_PASSWORD: Final = "manager"  # noqa: S105 - the seed's test account
OTHER_PASSWORD: Final = "secret"  # noqa: S105 - test data


async def run_number(runtime: Runtime, run: Run) -> int:
    """Return the number the store gave a run (a JP1/AO task's instanceID)."""
    return (await runtime.store.get_run_numbers([run.run_id]))[run.run_id]


async def plan_number(runtime: Runtime, plan_id: str) -> int:
    """Return the number the store gave a plan (a JP1/AO service's serviceID)."""
    return (await runtime.store.get_plan_numbers([plan_id]))[plan_id]


async def use_up_run_numbers(runtime: Runtime, count: int) -> None:
    """Store ``count`` finished runs elsewhere: the next run gets number count + 1."""
    await apply(runtime, QUICK_PLAN, workspace="elsewhere")
    plan = await runtime.store.get_plan_version(workspace="elsewhere", name="quick")
    now = runtime.engine.clock.now()
    for _ in range(count):
        run = Run(
            run_id=new_run_id(),
            plan_id=plan.plan_id,
            plan_name=plan.name,
            plan_version=plan.version,
            workspace="elsewhere",
            status=RunStatus.SUCCEEDED,
            version=1,
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        await runtime.store.commit_run(RunCommit(run=run, expected_version=0))


def jp1_error(response: httpx.Response, status: int, message_id: str) -> dict[str, Any]:
    """Check a JP1/AO error answer (its body and headers) and return its body."""
    body = response.json()

    assert response.status_code == status
    assert body["messageID"] == message_id
    assert body["application"] == "Automation"
    assert body["errorSource"] == str(response.request.url)
    assert set(body) == {"errorSource", "message", "messageID", "application"}
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["access-control-allow-origin"] == "*"
    return dict(body)


# --- SecMaster ----------------------------------------------------------------------

SM_BASE: Final = "http://sm"
#: SecMaster's ``X-request-id``: request_uuid-timestamp-hostname (no spaces)
SM_REQUEST_ID: Final = re.compile(r"^[0-9a-f]{32}-\d{13}-\S+$")
#: the seed's project id (the dialect echoes any)
SM_PROJECT: Final = "909494e3-558e-46b6-a9eb-07a8e18ca62f"
#: the workspace of SecMaster's tests
SM_WORKSPACE: Final = "soc"


def sm_instances(workspace: str = SM_WORKSPACE, project: str = SM_PROJECT) -> str:
    """Return the SecMaster path of a workspace's playbook instances."""
    return f"/v1/{project}/workspaces/{workspace}/soc/playbooks/instances"


def sm_answer(response: httpx.Response, status: int = 200) -> Any:
    """Check a SecMaster answer's status and X-request-id; return its JSON body."""
    assert response.status_code == status, response.text
    assert SM_REQUEST_ID.match(response.headers["x-request-id"])
    return response.json()


def sm_error(response: httpx.Response, status: int, code: str) -> str:
    """Check a SecMaster error answer (body, X-request-id) and return its message."""
    body = sm_answer(response, status)

    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    return body["message"]


async def sm_operate(
    http: httpx.AsyncClient, headers: dict[str, str], instance_id: str, operation: str
) -> httpx.Response:
    """POST an operation (RETRY or TERMINATE) of a playbook instance of ``soc``."""
    return await http.post(
        f"{sm_instances()}/{instance_id}/operation",
        json={"operation": operation},
        headers=headers,
    )


def halting_event_plan(marker: Path) -> str:
    """Return a plan started by ``alert`` objects whose step fails until ``marker``."""
    return f"""
name: respond
triggers:
  - {{name: on-alert, type: event, dataclass: alert}}
groups:
  - name: g
    targets: [a]
    steps:
      - {{name: check, action: shell, with: {{command: "test -f {marker}"}}}}
"""


async def halted_event_run(
    runtime: Runtime,
    marker: Path,
    *,
    workspace: str = SM_WORKSPACE,
    run_id: str | None = None,
) -> Run:
    """Post a ``disk full`` alert starting the halting event plan; return it halted."""
    await apply(runtime, halting_event_plan(marker), workspace=workspace)
    with pytest.MonkeyPatch.context() as patch:
        if run_id is not None:
            patch.setattr(commands_module, "new_run_id", lambda: run_id)
        _, runs = await runtime.triggers.post_event(
            workspace=workspace,
            dataclass="alert",
            content={"name": "disk full", "severity": "high"},
            actor="sensor",
        )
    return await wait_for(runtime, runs[0].run_id, RunStatus.HALTED)
