"""
Fixtures of the console tests: an app over a runtime that runs steps, signed-in users.

The runtime keeps everything in a MemoryStore and runs steps in this process.
Users sign in through the login form, as a browser does; passwords are hashed
at argon2id's lowest costs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from console_helpers import PASSWORD, Browser, log_in
from fastapi import FastAPI

from onward.api.app import create_app
from onward.config import Settings
from onward.domain.access import Role
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore


@pytest.fixture(autouse=True)
def _cheap_hashes(cheap_hashes: None) -> None:
    """Hash passwords cheaply in every test here."""


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here."""
    settings = Settings(concurrency=4, heartbeat_timeout=60, shutdown_grace=1)
    return Runtime.open(settings, executes=True, store=MemoryStore())


@pytest.fixture
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    """Yield the app over the runtime, started (and closed afterwards)."""
    application = create_app(runtime)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def browser_factory(
    app: FastAPI, runtime: Runtime
) -> AsyncIterator[Callable[..., Awaitable[Browser]]]:
    """Yield a factory of browsers signed in as new users with the given roles."""
    clients: list[httpx.AsyncClient] = []

    async def make(
        username: str,
        role: Role | None = Role.ADMIN,
        *,
        workspace: str = "default",
        superuser: bool = False,
    ) -> Browser:
        await runtime.auth.create_user(username, PASSWORD, superuser=superuser)
        if role is not None:
            await runtime.auth.ensure_workspace(workspace)
            await runtime.auth.grant(username, workspace, role)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://onward"
        )
        clients.append(client)
        return Browser(client, await log_in(client, username, PASSWORD))

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client that has not signed in."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onward") as c:
        yield c
