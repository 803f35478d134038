"""
Run statements: the compare-and-set commit of a decision and the reads of one run.

Each function runs inside the caller's transaction; SqlStore opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from onward import errors
from onward.domain.runs import Attempt, AttemptStatus, Lane, LaneKey, Run
from onward.service.ports import (
    AuditEntry,
    IdempotencyRecord,
    LoadedRun,
    RunCommit,
    RunFilter,
    RunPage,
)
from onward.storage import _numbers, rows
from onward.storage._upsert import insert_ignoring_conflicts, upsert
from onward.storage.tables import attempts, audit, idempotency, lanes, runs

_IN_FLIGHT = tuple(status.value for status in AttemptStatus if status.is_in_flight)

#: the compare-and-set; the columns to set are the other parameters given
_UPDATE_RUN = runs.update().where(
    runs.c.run_id == sa.bindparam("where_run_id"),
    runs.c.version == sa.bindparam("where_version"),
)
# the statements of the hot paths are built once; each takes the parameter "of_run_id"
_OF_RUN: sa.BindParameter[str] = sa.bindparam("of_run_id")
_LAST_SEQ = sa.select(sa.func.max(attempts.c.seq)).where(attempts.c.run_id == _OF_RUN)
_GET_RUN = sa.select(runs).where(runs.c.run_id == _OF_RUN)
_LANES_OF = (
    sa.select(lanes)
    .where(lanes.c.run_id == _OF_RUN)
    .order_by(lanes.c.stage, lanes.c.target)
)
_ATTEMPTS_OF = (
    sa.select(attempts).where(attempts.c.run_id == _OF_RUN).order_by(attempts.c.seq)
)
# not ordered in SQL, so that SQLite looks them up by status rather than scan in order
_IN_FLIGHT_OF = sa.select(attempts).where(
    attempts.c.run_id == _OF_RUN, attempts.c.status.in_(_IN_FLIGHT)
)


def commit_run(conn: Connection, commit: RunCommit) -> None:
    """Save a decision, compare-and-set on the run's version; raise StaleStateError.

    The caller's transaction rolls back everything when this raises.
    """
    run_id = commit.run.run_id
    if not _write_run(conn, commit):
        raise errors.StaleStateError(
            subject=f"Run {run_id}", expected_version=commit.expected_version
        )
    if commit.idempotency is not None and not insert_ignoring_conflicts(
        conn,
        idempotency,
        rows.idempotency_to_row(commit.idempotency),
        keys=("workspace", "key"),
    ):
        raise errors.StaleStateError(
            subject=f"Idempotency key {commit.idempotency.key}", expected_version=0
        )
    upsert(
        conn,
        lanes,
        [rows.lane_to_row(run_id, key, lane) for key, lane in commit.lanes.items()],
        keys=("run_id", "stage", "target"),
    )
    _upsert_attempts(conn, run_id, commit.attempts)
    if commit.audit:
        conn.execute(
            audit.insert(), [rows.audit_to_row(entry) for entry in commit.audit]
        )


def load_run(conn: Connection, run_id: str) -> LoadedRun:
    """Return the run's decision state; raise RunNotFoundError."""
    # the run is read first: a later commit changes its version, so a decision
    # made on lanes newer than the run fails its compare-and-set
    run = get_run(conn, run_id)
    found = conn.execute(_IN_FLIGHT_OF, {"of_run_id": run_id}).mappings()
    in_flight = sorted(found, key=lambda row: row["seq"])
    return LoadedRun(
        run=run,
        lanes={lane.key: lane for lane in _lanes_of(conn, run_id)},
        attempts={row["attempt_id"]: rows.attempt_from_row(row) for row in in_flight},
    )


def get_run(conn: Connection, run_id: str) -> Run:
    """Return the run record; raise RunNotFoundError."""
    row = conn.execute(_GET_RUN, {"of_run_id": run_id}).mappings().first()
    if row is None:
        raise errors.RunNotFoundError(run_id=run_id)
    return rows.run_from_row(row)


def list_runs(conn: Connection, run_filter: RunFilter) -> RunPage:
    """Return one page of runs, newest first (run ids sort in creation order)."""
    limit = max(run_filter.limit, 0)
    query = (
        sa.select(runs)
        .where(*_run_conditions(run_filter))
        .order_by(runs.c.run_id.desc())
        .limit(limit + 1)
    )
    found = [rows.run_from_row(row) for row in conn.execute(query).mappings()]
    page = found[:limit]
    more = len(found) > limit and bool(page)
    return RunPage(runs=tuple(page), next_cursor=page[-1].run_id if more else None)


def list_lanes(conn: Connection, run_id: str) -> list[Lane]:
    """Return the run's started lanes by (stage, target); raise RunNotFoundError."""
    _check_run(conn, run_id)
    return _lanes_of(conn, run_id)


def list_attempts(conn: Connection, run_id: str) -> list[Attempt]:
    """Return every attempt of the run in the order they were queued."""
    _check_run(conn, run_id)
    found = conn.execute(_ATTEMPTS_OF, {"of_run_id": run_id}).mappings()
    return [rows.attempt_from_row(row) for row in found]


def get_attempt(conn: Connection, attempt_id: str) -> Attempt:
    """Return one attempt; raise AttemptNotFoundError."""
    query = sa.select(attempts).where(attempts.c.attempt_id == attempt_id)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise errors.AttemptNotFoundError(attempt_id=attempt_id)
    return rows.attempt_from_row(row)


def step_outputs(
    conn: Connection, run_id: str, lane: LaneKey
) -> dict[int, Mapping[str, Any]]:
    """Return the output of the latest succeeded attempt of each step of a lane."""
    query = (
        sa.select(attempts.c.step, attempts.c.output)
        .where(
            attempts.c.run_id == run_id,
            attempts.c.stage == lane.stage,
            attempts.c.target == lane.target,
            attempts.c.status == AttemptStatus.SUCCEEDED.value,
        )
        .order_by(attempts.c.seq)
    )
    # later attempts overwrite earlier ones
    return {row.step: row.output for row in conn.execute(query)}


def list_audit(conn: Connection, run_id: str) -> list[AuditEntry]:
    """Return the run's audit trail, oldest first."""
    query = sa.select(audit).where(audit.c.run_id == run_id).order_by(audit.c.id)
    return [rows.audit_from_row(row) for row in conn.execute(query).mappings()]


def find_idempotency(
    conn: Connection, *, workspace: str, key: str
) -> IdempotencyRecord | None:
    """Return the record kept for an idempotency key, if any."""
    query = sa.select(idempotency).where(
        idempotency.c.workspace == workspace, idempotency.c.key == key
    )
    row = conn.execute(query).mappings().first()
    return rows.idempotency_from_row(row) if row is not None else None


def save_idempotency(conn: Connection, record: IdempotencyRecord) -> None:
    """Store a record, or replace the record with the same key."""
    upsert(
        conn, idempotency, [rows.idempotency_to_row(record)], keys=("workspace", "key")
    )


def _write_run(conn: Connection, commit: RunCommit) -> bool:
    """Insert (expected version 0) or compare-and-set the run; tell if written."""
    row = rows.run_to_row(commit.run)
    if commit.expected_version == 0:
        if not insert_ignoring_conflicts(conn, runs, row, keys=("run_id",)):
            return False
        # only a new run gets a number: later commits of the run never touch it
        _numbers.number_run(conn, commit.run.run_id)
        return True
    row["where_run_id"] = row.pop("run_id")
    row["where_version"] = commit.expected_version
    return conn.execute(_UPDATE_RUN, row).rowcount == 1


def _upsert_attempts(conn: Connection, run_id: str, new: Mapping[str, Attempt]) -> None:
    """Upsert attempts; new ones are numbered after the run's last, in order."""
    if not new:
        return
    last = conn.execute(_LAST_SEQ, {"of_run_id": run_id}).scalar()
    first = (last or 0) + 1
    upsert(
        conn,
        attempts,
        [
            rows.attempt_to_row(attempt_id, attempt, seq=first + index)
            for index, (attempt_id, attempt) in enumerate(new.items())
        ],
        keys=("attempt_id",),
        keep=("seq",),
    )


def _run_conditions(run_filter: RunFilter) -> list[sa.ColumnElement[bool]]:
    conditions = [runs.c.workspace == run_filter.workspace]
    if run_filter.plan_name is not None:
        conditions.append(runs.c.plan_name == run_filter.plan_name)
    if run_filter.statuses:
        conditions.append(
            runs.c.status.in_([status.value for status in run_filter.statuses])
        )
    if run_filter.created_after is not None:
        conditions.append(runs.c.created_at >= run_filter.created_after)
    if run_filter.created_before is not None:
        conditions.append(runs.c.created_at < run_filter.created_before)
    if run_filter.cursor is not None:
        conditions.append(runs.c.run_id < run_filter.cursor)
    return conditions


def _check_run(conn: Connection, run_id: str) -> None:
    found = conn.execute(
        sa.select(runs.c.run_id).where(runs.c.run_id == run_id)
    ).first()
    if found is None:
        raise errors.RunNotFoundError(run_id=run_id)


def _lanes_of(conn: Connection, run_id: str) -> list[Lane]:
    found = conn.execute(_LANES_OF, {"of_run_id": run_id}).mappings()
    return [rows.lane_from_row(row) for row in found]
