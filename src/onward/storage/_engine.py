"""
Database URLs and engines: normalises a URL and creates a tuned sync Engine for it.

SQLite connections get WAL journaling, ``synchronous=NORMAL``, foreign keys
and a busy timeout when they connect. Python's sqlite3 module is put in
autocommit mode so that SQLAlchemy's ``begin`` event can emit the ``BEGIN``
itself: ``BEGIN IMMEDIATE`` for a connection marked :data:`WRITE`, so that two
processes writing the same file wait for each other (``busy_timeout``) instead
of failing when the first one commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

#: execution option that marks a connection whose transaction will write
WRITE: Final = "onward_write"
#: how long a SQLite writer waits for another one, in milliseconds
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000

_POSTGRES_SCHEMES: Final = ("postgres", "postgresql", "postgresql+psycopg")


def normalise_url(url: str) -> str:
    """Return a SQLAlchemy URL for a database URL or a bare filesystem path.

    Args:
        url: ``sqlite:///path``, a filesystem path (a SQLite file), or
            ``postgresql://...`` / ``postgres://...`` (PostgreSQL through psycopg 3).

    Returns:
        The URL with the driver SQLAlchemy should use, e.g. ``postgresql+psycopg://``.
    """
    if "://" not in url:
        path = Path(url).expanduser().resolve()
        return f"sqlite:///{path}"
    scheme, rest = url.split("://", 1)
    if scheme in _POSTGRES_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    return url


def is_sqlite(url: str) -> bool:
    """Tell whether a URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """Return a SQLite URL's file; None for in-memory SQLite or another database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (
        None,
        "",
        ":memory:",
    ):
        return None
    return Path(parsed.database)


def create_engine(url: str, *, pool_size: int = 4) -> Engine:
    """Return an engine for a normalised URL, tuned for its dialect.

    Args:
        url: a URL as :func:`normalise_url` returns it.
        pool_size: connections kept open (PostgreSQL; SQLite keeps what it needs).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(
        parsed, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def error_detail(error: BaseException) -> str:
    """Return the first line of what the database (or driver) said about an error."""
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        # one shared connection, or every thread would see its own empty database
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # autocommit in the driver: transactions are begun by _on_sqlite_begin
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
