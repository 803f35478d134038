"""
Plan statements: save, read, list and delete plan versions on one open connection.

Each function runs inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from onward import errors
from onward.ids import new_plan_id
from onward.service.ports import PlanSummary, PlanVersion
from onward.storage import _numbers, rows
from onward.storage._upsert import insert_ignoring_conflicts
from onward.storage.tables import plan_versions, plans, runs

_VERSION_COLUMNS = (
    plans.c.workspace,
    plans.c.name,
    *(column for column in plan_versions.c),
)


def save_plan_version(
    conn: Connection,
    *,
    workspace: str,
    name: str,
    source: str,
    format: str,
    document: Mapping[str, Any],
    digest: str,
    created_by: str,
    now: datetime,
) -> PlanVersion:
    """Store a new version (1 for a new plan); return the latest if identical."""
    plan_id = _lock_plan(conn, workspace=workspace, name=name, now=now)
    latest = _latest_version(conn, plan_id)
    if latest is not None and latest.digest == digest:
        return latest
    row: dict[str, Any] = {
        "plan_id": plan_id,
        "version": latest.version + 1 if latest is not None else 1,
        "source": source,
        "format": format,
        "document": dict(document),
        "digest": digest,
        "created_at": now,
        "created_by": created_by,
    }
    conn.execute(plan_versions.insert(), row)
    return PlanVersion(workspace=workspace, name=name, **row)


def get_plan_version(
    conn: Connection, *, workspace: str, name: str, version: int | None
) -> PlanVersion:
    """Return a version (the latest by default); raise PlanNotFoundError."""
    query = _versions_query(workspace, name)
    if version is None:
        query = query.order_by(plan_versions.c.version.desc()).limit(1)
    else:
        query = query.where(plan_versions.c.version == version)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise errors.PlanNotFoundError(plan=name, version=version)
    return rows.plan_version_from_row(row)


def list_plans(
    conn: Connection, *, workspace: str, name: str | None = None
) -> list[PlanSummary]:
    """Return the workspace's plans by name (only the named one, if given)."""
    other = plan_versions.alias("other")
    latest = (
        sa.select(sa.func.max(other.c.version))
        .where(other.c.plan_id == plans.c.plan_id)
        .scalar_subquery()
    )
    query = (
        sa.select(
            plans.c.plan_id,
            plans.c.workspace,
            plans.c.name,
            plans.c.created_at,
            plans.c.enabled,
            plan_versions.c.version.label("latest_version"),
            plan_versions.c.created_at.label("updated_at"),
        )
        .join(plan_versions, plan_versions.c.plan_id == plans.c.plan_id)
        .where(plans.c.workspace == workspace, plan_versions.c.version == latest)
    )
    if name is not None:
        query = query.where(plans.c.name == name)
    summaries = [
        rows.plan_summary_from_row(row) for row in conn.execute(query).mappings()
    ]
    # sorted here, not in SQL: a database collation may order names differently
    return sorted(summaries, key=lambda summary: summary.name)


def get_plan_summary(conn: Connection, *, workspace: str, name: str) -> PlanSummary:
    """Return one plan as listed; raise PlanNotFoundError."""
    for summary in list_plans(conn, workspace=workspace, name=name):
        return summary
    raise errors.PlanNotFoundError(plan=name)


def set_plan_enabled(
    conn: Connection, *, workspace: str, name: str, enabled: bool
) -> None:
    """Enable or disable a plan; raise PlanNotFoundError."""
    statement = (
        sa.update(plans)
        .where(plans.c.workspace == workspace, plans.c.name == name)
        .values(enabled=enabled)
    )
    if conn.execute(statement).rowcount != 1:
        raise errors.PlanNotFoundError(plan=name)


def list_plan_versions(
    conn: Connection, *, workspace: str, name: str
) -> list[PlanVersion]:
    """Return every version of a plan, oldest first; raise PlanNotFoundError."""
    query = _versions_query(workspace, name).order_by(plan_versions.c.version)
    versions = [
        rows.plan_version_from_row(row) for row in conn.execute(query).mappings()
    ]
    if not versions:
        raise errors.PlanNotFoundError(plan=name)
    return versions


def delete_plan(conn: Connection, *, workspace: str, name: str) -> None:
    """Delete a plan and its versions; raise PlanInUseError if runs use it."""
    plan_id = conn.execute(
        sa.select(plans.c.plan_id)
        .where(plans.c.workspace == workspace, plans.c.name == name)
        .with_for_update()
    ).scalar()
    if plan_id is None:
        raise errors.PlanNotFoundError(plan=name)
    used = conn.execute(
        sa.select(runs.c.run_id).where(runs.c.plan_id == plan_id).limit(1)
    )
    if used.first() is not None:
        raise errors.PlanInUseError(plan=name)
    conn.execute(plan_versions.delete().where(plan_versions.c.plan_id == plan_id))
    _numbers.forget_plan(conn, plan_id)
    conn.execute(plans.delete().where(plans.c.plan_id == plan_id))


def _lock_plan(conn: Connection, *, workspace: str, name: str, now: datetime) -> str:
    """Return the plan's id, creating the plan; lock its row until the end."""
    created = new_plan_id()
    if insert_ignoring_conflicts(
        conn,
        plans,
        {
            "plan_id": created,
            "workspace": workspace,
            "name": name,
            "created_at": now,
            "enabled": True,
        },
        keys=("workspace", "name"),
    ):
        _numbers.number_plan(conn, created)
    plan_id: str = conn.execute(
        sa.select(plans.c.plan_id)
        .where(plans.c.workspace == workspace, plans.c.name == name)
        .with_for_update()
    ).scalar_one()
    return plan_id


def _latest_version(conn: Connection, plan_id: str) -> PlanVersion | None:
    query = (
        sa.select(*_VERSION_COLUMNS)
        .join(plans, plans.c.plan_id == plan_versions.c.plan_id)
        .where(plan_versions.c.plan_id == plan_id)
        .order_by(plan_versions.c.version.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return rows.plan_version_from_row(row) if row is not None else None


def _versions_query(workspace: str, name: str) -> sa.Select[Any]:
    return (
        sa.select(*_VERSION_COLUMNS)
        .join(plans, plans.c.plan_id == plan_versions.c.plan_id)
        .where(plans.c.workspace == workspace, plans.c.name == name)
    )
