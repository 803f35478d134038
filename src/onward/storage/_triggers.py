"""
Statements for triggers: timer fire times (compare-and-set) and posted data objects.

Each function runs inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from onward import errors
from onward.domain.triggers import DataObject
from onward.storage import rows
from onward.storage._upsert import insert_ignoring_conflicts
from onward.storage.tables import data_objects, trigger_fires


def last_fire(
    conn: Connection, *, workspace: str, plan: str, trigger: str
) -> datetime | None:
    """Return the time a timer trigger last fired for, if it ever did."""
    query = sa.select(trigger_fires.c.last_fire_at).where(
        trigger_fires.c.workspace == workspace,
        trigger_fires.c.plan_name == plan,
        trigger_fires.c.trigger == trigger,
    )
    value: datetime | None = conn.execute(query).scalar_one_or_none()
    return value


def record_fire(
    conn: Connection,
    *,
    workspace: str,
    plan: str,
    trigger: str,
    fire_at: datetime,
    previous: datetime | None,
) -> bool:
    """Move a trigger's last fire from ``previous`` to ``fire_at``; tell who won."""
    if previous is None:
        row = {
            "workspace": workspace,
            "plan_name": plan,
            "trigger": trigger,
            "last_fire_at": fire_at,
        }
        return insert_ignoring_conflicts(
            conn, trigger_fires, row, keys=("workspace", "plan_name", "trigger")
        )
    statement = (
        sa.update(trigger_fires)
        .where(
            trigger_fires.c.workspace == workspace,
            trigger_fires.c.plan_name == plan,
            trigger_fires.c.trigger == trigger,
            trigger_fires.c.last_fire_at == previous,
        )
        .values(last_fire_at=fire_at)
    )
    return conn.execute(statement).rowcount == 1


def add_data_object(conn: Connection, data_object: DataObject) -> None:
    """Store a posted data object."""
    conn.execute(data_objects.insert(), rows.data_object_to_row(data_object))


def get_data_object(conn: Connection, object_id: str) -> DataObject:
    """Return a data object; raise DataObjectNotFoundError."""
    query = sa.select(data_objects).where(data_objects.c.object_id == object_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise errors.DataObjectNotFoundError(object_id=object_id)
    return rows.data_object_from_row(row)


def list_data_objects(
    conn: Connection, *, workspace: str, dataclass: str | None, limit: int
) -> list[DataObject]:
    """Return a workspace's data objects, newest first."""
    query = sa.select(data_objects).where(data_objects.c.workspace == workspace)
    if dataclass is not None:
        query = query.where(data_objects.c.dataclass == dataclass)
    query = query.order_by(
        data_objects.c.created_at.desc(), data_objects.c.object_id.desc()
    ).limit(max(limit, 0))
    return [rows.data_object_from_row(row) for row in conn.execute(query).mappings()]
