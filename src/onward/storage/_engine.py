"""
Database URLs and engines: normalises a URL and creates a tuned sync Engine for it.

SQLite connections get WAL journaling, ``synchronous=NORMAL``, foreign keys
and a busy timeout when they connect. Python's sqlite3 module is put in
autocommit mode so that SQLAlchemy's ``begin`` event can emit the ``BEGIN``
itself: ``BEGIN IMMEDIATE`` for a connection marked :data:`WRITE`, so that two
processes writing the same file wait for each other (``busy_timeout``) instead
of failing when the first one commits.

On every database, JSON is written by :func:`json_dumps` (its strings made
storable, see :mod:`onward.text`), which stores a :class:`JsonText` (a value
it has encoded already) as it is, and a value the driver itself could not
send (a ``TypeError``, ``ValueError`` or ``OverflowError`` it raises, which
SQLAlchemy lets through as it is) is raised as the ``StatementError`` of a
value that could not be prepared for the database.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from onward.text import storable_json

#: execution option that marks a connection whose transaction will write
WRITE: Final = "onward_write"
#: how long a SQLite writer waits for another one, in milliseconds
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000

_POSTGRES_SCHEMES: Final = ("postgres", "postgresql", "postgresql+psycopg")
#: in the text of json.dumps: the escape of a NUL or of a surrogate
_ESCAPED_UNSTORABLE: Final = re.compile(r"\\u(?:0000|d[89a-f])")
#: what a driver raises, unwrapped, for a value it cannot send
_DRIVER_REFUSALS: Final = (TypeError, ValueError, OverflowError)


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
        engine = _sqlite_engine(parsed)
    else:
        engine = sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            json_serializer=json_dumps,
        )
    event.listen(engine, "handle_error", _driver_refusal)
    return engine


class JsonText(str):
    """JSON text put together from the texts of :func:`json_dumps`: stored as it is."""

    __slots__ = ()


def json_dumps(value: Any) -> str:
    """Return the JSON text of ``value``, its strings storable (:mod:`onward.text`).

    A :class:`JsonText` is returned as it is. ``json.dumps`` writes every
    character that is not ASCII as a ``\\u`` escape, and most JSON holds no
    backslash at all: a search for one (the fastest there is), then for the
    escape of a NUL or of a surrogate, tells whether the strings must be made
    storable and the text written again.
    """
    if type(value) is JsonText:
        return value
    text = json.dumps(value)
    if "\\" in text and _ESCAPED_UNSTORABLE.search(text) is not None:
        return json.dumps(storable_json(value))
    return text


def error_detail(error: BaseException) -> str:
    """Return the first line of what the database (or driver) said about an error."""
    orig = error.orig if isinstance(error, exc.StatementError) else None
    cause = orig if orig is not None else error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _sqlite_engine(url: URL) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False},
        "json_serializer": json_dumps,
    }
    if in_memory:
        # one shared connection, or every thread would see its own empty database
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _driver_refusal(context: ExceptionContext) -> exc.StatementError | None:
    """Raise a value the driver could not send as one that could not be prepared."""
    error = context.original_exception
    if context.sqlalchemy_exception is not None or not isinstance(
        error, _DRIVER_REFUSALS
    ):
        return None
    message = str(error) or type(error).__name__
    return exc.StatementError(message, context.statement, context.parameters, error)


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
