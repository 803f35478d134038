"""
Fixtures of the native API tests: a runtime that really runs steps, its app, clients.

The runtime keeps everything in a MemoryStore, runs steps in this process and
has access keys on (a master secret is set); ``settle`` waits until nothing is
left to run. Users are signed in with sessions issued straight into the store,
except where a test logs in through the API on purpose; passwords are hashed at
argon2id's lowest costs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from native_helpers import ACCESS_KEY_MASTER

from onward.api.app import create_app
from onward.config import Settings
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore


@pytest.fixture(autouse=True)
def _cheap_hashes(cheap_hashes: None) -> None:
    """Hash passwords cheaply in every test here."""


@pytest.fixture
def max_request_body() -> int:
    """Return the app's request body limit: the default (a module may override it)."""
    return Settings().max_request_body


@pytest.fixture
def runtime(max_request_body: int) -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here, keys on."""
    settings = Settings(
        concurrency=4,
        heartbeat_timeout=60,
        shutdown_grace=1,
        access_key_master=ACCESS_KEY_MASTER,
        max_request_body=max_request_body,
    )
    return Runtime.open(settings, executes=True, store=MemoryStore())


@pytest.fixture
async def app(runtime: Runtime) -> AsyncIterator[FastAPI]:
    """Yield the app over the runtime, started (and closed afterwards)."""
    application = create_app(runtime)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Yield an HTTP client of the app, in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onward") as c:
        yield c
