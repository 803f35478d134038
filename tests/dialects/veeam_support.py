"""Helpers of the VAO and Enterprise Manager dialect tests: apps, users, plans, runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Final

import argon2
import httpx
import pytest
from fastapi import FastAPI

from onward.api.app import create_app
from onward.config import Settings
from onward.domain.access import Credential, CredentialKind, Role, RoleBinding, User
from onward.ids import PlanId, new_id
from onward.runtime import Runtime
from onward.service import auth as auth_module
from onward.service import operations as operations_module
from onward.service.auth import hash_secret
from onward.service.plan_uuids import plan_id_of
from onward.storage import memory as memory_module
from onward.storage.memory import MemoryStore

PASSWORD: Final = "correct horse battery"  # noqa: S105 - test data


def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with argon2id at its lowest costs: the same format, quickly."""
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth_module, "_HASHER", hasher)
    monkeypatch.setattr(auth_module, "_DUMMY_HASH", hasher.hash("dummy password"))


def make_runtime() -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here."""
    settings = Settings(concurrency=4, heartbeat_timeout=60, shutdown_grace=1)
    return Runtime.open(settings, executes=True, store=MemoryStore())


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[FastAPI]:
    """Yield the app over the runtime, started (and closed afterwards)."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        yield app


def client(app: FastAPI, base_url: str) -> httpx.AsyncClient:
    """Return an in-process HTTP client of the app, as if it were at ``base_url``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


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


async def add_session(runtime: Runtime, user: User, secret: str) -> None:
    """Give a user a session whose token is ``secret`` (a vendor's example token)."""
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


@asynccontextmanager
async def vao_client(
    runtime: Runtime, base_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app over the runtime, as VAO clients reach it."""
    async with serving(runtime) as app, client(app, base_url) as http:
        yield http


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
