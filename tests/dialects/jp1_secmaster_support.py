"""Helpers of the JP1/AO and SecMaster dialect tests: runtimes, users, plans, runs."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import argon2
import httpx
import pytest

from onward.api.app import create_app
from onward.config import Settings
from onward.domain.access import (
    Credential,
    CredentialKind,
    Role,
    RoleBinding,
    User,
)
from onward.domain.runs import Run, RunStatus
from onward.ids import new_id, new_run_id
from onward.runtime import Runtime
from onward.service import auth as auth_module
from onward.service import commands as commands_module
from onward.service.auth import SECRET_PREFIX, hash_secret
from onward.service.commands import Caller
from onward.service.ports import RunCommit
from onward.storage.memory import MemoryStore

#: a master secret for access keys in tests
MASTER: Final = "test-master-secret-0123456789abcdef"

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
#: started by posted data objects of data class ``alert``
EVENT_PLAN: Final = """
name: respond
triggers:
  - {name: on-alert, type: event, dataclass: alert}
groups:
  - name: g
    targets: [a]
    steps:
      - {name: one, action: noop}
"""


def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> argon2.PasswordHasher:
    """Hash passwords with argon2id at its lowest costs; return the hasher."""
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth_module, "_HASHER", hasher)
    monkeypatch.setattr(auth_module, "_DUMMY_HASH", hasher.hash("dummy password"))
    return hasher


def make_runtime(*, master: str | None = MASTER) -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here."""
    settings = Settings(
        concurrency=4,
        heartbeat_timeout=60,
        shutdown_grace=1,
        access_key_master=master,
    )
    return Runtime.open(settings, executes=True, store=MemoryStore())


async def add_user(
    runtime: Runtime,
    username: str,
    *,
    password: str = "",
    roles: dict[str, Role] | None = None,
) -> User:
    """Create a user (any password, even a short one) with roles."""
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
    now = runtime.engine.clock.now()
    await runtime.store.add_credential(
        Credential(
            credential_id=new_id("ses"),
            kind=CredentialKind.SESSION,
            user_id=user.user_id,
            secret_hash=hash_secret(secret),
            created_at=now,
            expires_at=now + timedelta(hours=1),
        )
    )
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


def run_id_with_number(number: int) -> str:
    """Return a run id whose number (onward.service.numbers) is ``number``."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

    def encode(value: int, length: int) -> str:
        chars = []
        for _ in range(length):
            value, digit = divmod(value, 32)
            chars.append(alphabet[digit])
        return "".join(reversed(chars))

    millis, rest = divmod(number, 1_000_000)
    return f"run_{encode(millis, 10)}{encode(rest, 16)}"


@contextlib.asynccontextmanager
async def serve(runtime: Runtime, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app of a runtime and yield a client of it at ``base_url``."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


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

#: SecMaster's ``X-request-id``: request_uuid-timestamp-hostname (no spaces)
SM_REQUEST_ID: Final = re.compile(r"^[0-9a-f]{32}-\d{13}-\S+$")
#: the seed's project id (the dialect echoes any)
SM_PROJECT: Final = "909494e3-558e-46b6-a9eb-07a8e18ca62f"


def sm_instances(workspace: str = "soc", project: str = SM_PROJECT) -> str:
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
    runtime: Runtime, marker: Path, *, workspace: str = "soc", run_id: str | None = None
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


async def finished_quick_run(runtime: Runtime, *, workspace: str = "soc") -> Run:
    """Start the quick plan in a workspace; return its run, succeeded."""
    await apply(runtime, QUICK_PLAN, workspace=workspace)
    run = await start(runtime, "quick", workspace=workspace)
    return await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)
