"""
Shared fixtures for every test package.

Databases
    ``sqlite_url`` and ``postgres_url`` name fresh, empty databases (not
    migrated); ``migrated_sqlite_url`` and ``migrated_postgres_url`` name fresh
    databases at the latest schema, cloned from a template migrated once per
    session (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for
    PostgreSQL), so that a test never pays for the migrations.

    PostgreSQL is the server at ``$ONWARD_TEST_POSTGRES_URL`` (default
    ``postgresql://postgres@127.0.0.1:5432/postgres``; the user must be allowed
    to create databases). When it is unreachable, tests that need it are
    skipped, or fail when ``CI=true``. Tests that need it carry the
    ``postgres`` marker, so ``-m "not postgres"`` leaves them out.

Stores
    ``store`` is one Store adapter per parameter: ``memory``, ``sqlite`` and
    ``postgres``; a contract suite that uses it runs against all three.

Passwords
    ``cheap_hashes`` makes the service hash passwords with argon2id at its
    lowest costs: the same format, in microseconds. Packages whose tests sign
    in use it for every test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import argon2
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from onward import storage
from onward.service import auth as auth_module
from onward.service.ports import Store
from onward.storage.memory import MemoryStore

POSTGRES_URL_ENV = "ONWARD_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# --- SQLite -------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'onward.db'}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite file migrated to the latest schema, made once per session."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    storage.upgrade(str(path))
    return path


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """Return the URL of a fresh SQLite file at the latest schema."""
    path = tmp_path / "migrated.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


# --- PostgreSQL ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """Return the test PostgreSQL server's URL; skip (fail under CI) if unreachable."""
    url = os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=3):
            pass
    except psycopg.Error as error:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = f"PostgreSQL is unreachable at {POSTGRES_URL_ENV}={shown}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def _postgres_admin(
    postgres_server_url: str,
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Yield an autocommit connection that creates and drops the test databases."""
    with psycopg.connect(_libpq_url(postgres_server_url), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def _postgres_template(
    postgres_server_url: str, _postgres_admin: psycopg.Connection[tuple[object, ...]]
) -> Iterator[str]:
    """Yield the name of a database at the latest schema, made once per session."""
    name = _new_database(_postgres_admin, prefix="onward_template")
    try:
        storage.upgrade(_database_url(postgres_server_url, name))
        yield name
    finally:
        _drop_database(_postgres_admin, name)


@pytest.fixture
def postgres_url(
    postgres_server_url: str, _postgres_admin: psycopg.Connection[tuple[object, ...]]
) -> Iterator[str]:
    """Yield the URL of a fresh, empty PostgreSQL database, dropped afterwards."""
    name = _new_database(_postgres_admin, prefix="onward_test")
    yield _database_url(postgres_server_url, name)
    _drop_database(_postgres_admin, name)


@pytest.fixture
def migrated_postgres_url(
    postgres_server_url: str,
    _postgres_admin: psycopg.Connection[tuple[object, ...]],
    _postgres_template: str,
) -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL database at the latest schema."""
    name = _new_database(
        _postgres_admin, prefix="onward_test", template=_postgres_template
    )
    yield _database_url(postgres_server_url, name)
    _drop_database(_postgres_admin, name)


def _libpq_url(url: str) -> str:
    """Return a URL psycopg understands (without SQLAlchemy's ``+driver``)."""
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _new_database(
    admin: psycopg.Connection[tuple[object, ...]],
    *,
    prefix: str,
    template: str | None = None,
) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(
            statement, sql.Identifier(template)
        )
    admin.execute(statement)
    return name


def _drop_database(admin: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    admin.execute(statement.format(sql.Identifier(name)))


# --- Stores -------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Yield an empty store of each adapter: memory, sqlite (a file), postgres."""
    if request.param == "memory":
        adapter: Store = MemoryStore()
    else:
        url = request.getfixturevalue(f"migrated_{request.param}_url")
        adapter = storage.open_store(url, migrate=False)
    yield adapter
    await adapter.close()


@pytest.fixture
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords with argon2id at its lowest costs: the same format, quickly."""
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth_module, "_HASHER", hasher)
    monkeypatch.setattr(auth_module, "_DUMMY_HASH", hasher.hash("dummy password"))
