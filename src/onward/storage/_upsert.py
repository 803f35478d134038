"""
Dialect INSERT ... ON CONFLICT statements (SQLite and PostgreSQL share the syntax).

The statements are built once per dialect and table and take their values as
execution parameters: building an ON CONFLICT statement costs more than
running it on SQLite.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_ignoring_conflicts(
    conn: Connection, table: sa.Table, row: Mapping[str, Any], *, keys: tuple[str, ...]
) -> bool:
    """Insert a row unless one with the same ``keys`` exists; tell if inserted."""
    statement = _insert_or_ignore(conn.dialect.name, table, keys)
    return conn.execute(statement, dict(row)).rowcount == 1


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    keep: tuple[str, ...] = (),
) -> None:
    """Insert rows, updating those whose ``keys`` exist (but not ``keep`` columns)."""
    if rows:
        statement = _insert_or_update(conn.dialect.name, table, keys, keep)
        conn.execute(statement, [dict(row) for row in rows])


@functools.cache
def _insert_or_ignore(
    dialect: str, table: sa.Table, keys: tuple[str, ...]
) -> sa.Insert:
    statement = _insert(dialect, table).on_conflict_do_nothing(
        index_elements=list(keys)
    )
    # drivers need not report the row count of an INSERT unless asked to keep it
    return statement.execution_options(preserve_rowcount=True)


@functools.cache
def _insert_or_update(
    dialect: str, table: sa.Table, keys: tuple[str, ...], keep: tuple[str, ...]
) -> sa.Insert:
    statement = _insert(dialect, table)
    updates = {
        column.name: statement.excluded[column.name]
        for column in table.columns
        if column.name not in keys and column.name not in keep
    }
    return statement.on_conflict_do_update(index_elements=list(keys), set_=updates)


def _insert(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
