"""
Statements for leases: a named duty held by one owner until it expires.

Each function runs inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from onward.storage.tables import leases


def acquire_lease(
    conn: Connection, *, name: str, owner: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew a lease unless another owner holds it unexpired; tell who won.

    One statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE), so two servers
    racing for a free or expired lease cannot both win it.
    """
    values = {"name": name, "owner": owner, "expires_at": now + ttl, "now": now}
    result = conn.execute(_acquire(conn.dialect.name), values)
    return result.rowcount == 1


def release_lease(conn: Connection, *, name: str, owner: str) -> None:
    """Give a lease up at once if ``owner`` holds it (no error otherwise)."""
    conn.execute(
        sa.delete(leases).where(leases.c.name == name, leases.c.owner == owner)
    )


@functools.cache
def _acquire(dialect: str) -> sa.Insert:
    insert = (
        postgresql.insert(leases) if dialect == "postgresql" else sqlite.insert(leases)
    )
    statement = insert.values(
        name=sa.bindparam("name"),
        owner=sa.bindparam("owner"),
        expires_at=sa.bindparam("expires_at", type_=leases.c.expires_at.type),
    ).on_conflict_do_update(
        index_elements=["name"],
        set_={"owner": insert.excluded.owner, "expires_at": insert.excluded.expires_at},
        where=sa.or_(
            leases.c.owner == insert.excluded.owner,
            leases.c.expires_at <= sa.bindparam("now", type_=leases.c.expires_at.type),
        ),
    )
    # drivers need not report the row count of an INSERT unless asked to keep it
    return statement.execution_options(preserve_rowcount=True)
