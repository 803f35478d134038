"""Logins with names no user can have, through the API over real databases."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from native_helpers import API

from onward.api.app import create_app
from onward.config import Settings
from onward.runtime import Runtime
from onward.storage import open_store


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def db_client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of an app whose runtime keeps everything in a real database."""
    url = request.getfixturevalue(f"migrated_{request.param}_url")
    runtime = Runtime.open(
        Settings(), executes=False, store=open_store(url, migrate=False)
    )
    application = create_app(runtime)
    async with application.router.lifespan_context(application):
        await runtime.auth.create_user("alice", "a long password")
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://onward"
        ) as client:
            yield client


async def test_a_username_with_a_nul_is_refused_as_wrong_credentials(
    db_client: httpx.AsyncClient,
) -> None:
    """A NUL in the username answers 401, as a wrong password does, not 503."""
    nul = {"username": "ali\x00ce", "password": "a long password"}
    wrong = {"username": "alice", "password": "not the password"}

    with_nul = await db_client.post(f"{API}/auth/login", json=nul)
    with_wrong = await db_client.post(f"{API}/auth/login", json=wrong)

    assert with_nul.status_code == 401
    assert with_nul.json() == with_wrong.json()
