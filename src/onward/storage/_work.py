"""
Statements across runs: log lines, queued attempts, worker heartbeats and expiries.

Each function runs inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from onward.domain.runs import Attempt, AttemptStatus
from onward.service.ports import LogEntry
from onward.storage import rows
from onward.storage._upsert import upsert
from onward.storage.tables import attempts, logs, workers

_RUNNING = AttemptStatus.RUNNING.value


def append_logs(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Append lines to run logs, numbered in the order given."""
    if entries:
        conn.execute(logs.insert(), [rows.log_to_row(entry) for entry in entries])


def read_logs(
    conn: Connection, run_id: str, *, after_seq: int, attempt_id: str | None, limit: int
) -> list[LogEntry]:
    """Return log lines after ``after_seq`` in order."""
    query = sa.select(logs).where(logs.c.run_id == run_id, logs.c.seq > after_seq)
    if attempt_id is not None:
        query = query.where(logs.c.attempt_id == attempt_id)
    query = query.order_by(logs.c.seq).limit(max(limit, 0))
    return [rows.log_from_row(row) for row in conn.execute(query).mappings()]


def queued_attempts(conn: Connection, *, limit: int) -> list[Attempt]:
    """Return attempts waiting for a worker, oldest first."""
    query = (
        sa.select(attempts)
        .where(attempts.c.status == AttemptStatus.QUEUED.value)
        .order_by(attempts.c.queued_at, attempts.c.attempt_id)
        .limit(max(limit, 0))
    )
    return [rows.attempt_from_row(row) for row in conn.execute(query).mappings()]


def beat(conn: Connection, *, worker_id: str, name: str, now: datetime) -> None:
    """Record that a worker is alive."""
    upsert(
        conn,
        workers,
        [{"worker_id": worker_id, "name": name, "heartbeat_at": now}],
        keys=("worker_id",),
    )


def stale_attempts(conn: Connection, *, heartbeat_before: datetime) -> list[Attempt]:
    """Return running attempts whose worker is unknown or silent since the cutoff."""
    query = (
        sa.select(attempts)
        .outerjoin(workers, workers.c.worker_id == attempts.c.worker_id)
        .where(
            attempts.c.status == _RUNNING,
            attempts.c.approval.is_(False),
            sa.or_(
                workers.c.worker_id.is_(None),
                workers.c.heartbeat_at < heartbeat_before,
            ),
        )
        .order_by(attempts.c.queued_at, attempts.c.attempt_id)
    )
    return [rows.attempt_from_row(row) for row in conn.execute(query).mappings()]


def expired_approvals(conn: Connection, *, now: datetime) -> list[Attempt]:
    """Return approval attempts waiting past their deadline."""
    query = (
        sa.select(attempts)
        .where(
            attempts.c.status == _RUNNING,
            attempts.c.approval.is_(True),
            attempts.c.deadline_at.is_not(None),
            attempts.c.deadline_at <= now,
        )
        .order_by(attempts.c.queued_at, attempts.c.attempt_id)
    )
    return [rows.attempt_from_row(row) for row in conn.execute(query).mappings()]
