"""Helpers of the JP1/AO and SecMaster dialect tests: runtimes, users, plans, runs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Final

import argon2
import pytest

from onward.config import Settings
from onward.domain.access import (
    Credential,
    CredentialKind,
    Role,
    RoleBinding,
    User,
)
from onward.domain.runs import Run, RunStatus
from onward.ids import new_id
from onward.runtime import Runtime
from onward.service import auth as auth_module
from onward.service import commands as commands_module
from onward.service.auth import SECRET_PREFIX, hash_secret
from onward.service.commands import Caller
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
