"""
Fixtures of the dialect tests: a runtime that runs steps, each vendor's client, users.

The runtime keeps everything in a MemoryStore, runs steps in this process and has
access keys on; passwords are hashed at argon2id's lowest costs. Each dialect's
client (``vao``, ``em``, ``jp1ao``, ``secmaster``) reaches the started app at the
address the vendor's examples use, and each dialect has the signed-in user of its
seed examples (``ann``, ``seed_session``, ``system``, ``operator``).

A test of the request body limit parametrizes ``max_request_body``, the
runtime's limit (the default otherwise). A module whose runtime differs on
purpose says so with fixtures of its own: the SecMaster golden answers and
JP1/AO's HSSO tokens run on a frozen clock (``runtime`` there), the Enterprise
Manager errors use a frozen runtime that runs no steps (``frozen``), the
SecMaster requests a SQLite store (``sql_client``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from dialect_support import (
    EM_BASE,
    JP1_HOST,
    SEED_JOB,
    SEED_PASSWORD,
    SEED_SESSION,
    SM_BASE,
    SM_WORKSPACE,
    VAO_BASE,
    add_token,
    add_user,
    apply_as,
    backup_plan,
    em_session,
    make_runtime,
    serve,
    store_user,
    vao_token,
)

from onward.domain.access import Role
from onward.runtime import Runtime


@pytest.fixture(autouse=True)
def _cheap(cheap_hashes: None) -> None:
    """Hash passwords cheaply in every test here."""


@pytest.fixture
def max_request_body() -> int | None:
    """Return the app's request body limit: the default (a test may parametrize it)."""
    return None


@pytest.fixture
def runtime(max_request_body: int | None) -> Runtime:
    """Return a runtime over a MemoryStore that executes steps here, access keys on."""
    return make_runtime(max_request_body=max_request_body)


# --- VAO ----------------------------------------------------------------------------


@pytest.fixture
async def vao(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, as a VAO client reaches it."""
    async with serve(runtime, VAO_BASE) as http:
        yield http


@pytest.fixture
async def ann(runtime: Runtime, vao: httpx.AsyncClient) -> dict[str, str]:
    """Return the VAO bearer header of ann, an operator."""
    await add_user(runtime, "ann", role=Role.OPERATOR)
    return await vao_token(vao, "ann")


# --- Enterprise Manager -------------------------------------------------------------


@pytest.fixture
async def em(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, as an EM client reaches it."""
    async with serve(runtime, EM_BASE) as http:
        yield http


@pytest.fixture
async def seed_session(runtime: Runtime) -> None:
    """Create ann, an operator, signed in with the seed page's session token."""
    await em_session(runtime, "ann", SEED_SESSION, role=Role.OPERATOR)


@pytest.fixture
async def job(runtime: Runtime, tmp_path: Path) -> None:
    """Store the seed page's job (a plan whose first run fails)."""
    await apply_as(runtime, backup_plan(tmp_path / "marker"), SEED_JOB)


# --- JP1/AO -------------------------------------------------------------------------


@pytest.fixture
async def jp1ao(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, at the JP1/AO seed's host."""
    async with serve(runtime, f"http://{JP1_HOST}") as http:
        yield http


@pytest.fixture
async def system(runtime: Runtime) -> None:
    """Create the seed's user ``system`` (password ``manager``), an operator."""
    await store_user(
        runtime, "system", password=SEED_PASSWORD, roles={"default": Role.OPERATOR}
    )


# --- SecMaster ----------------------------------------------------------------------


@pytest.fixture
async def secmaster(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, as SecMaster clients reach it."""
    async with serve(runtime, SM_BASE) as http:
        yield http


@pytest.fixture
async def operator(runtime: Runtime) -> dict[str, str]:
    """Return the X-Auth-Token header of an operator of the ``soc`` workspace."""
    user = await store_user(runtime, "olga", roles={SM_WORKSPACE: Role.OPERATOR})
    return {"X-Auth-Token": await add_token(runtime, user)}
