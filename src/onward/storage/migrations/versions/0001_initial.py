"""
Create the tables: plans, plan_versions, runs, lanes, attempts, audit, logs,
idempotency, workers.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported, so that later changes to tables.py
# never change what this revision does
_AT = sa.DateTime(timezone=True)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create every table and index."""
    _create_plans()
    _create_runs()
    _create_lanes()
    _create_attempts()
    _create_audit()
    _create_logs()
    _create_idempotency_and_workers()


def downgrade() -> None:
    """Drop every table."""
    for table in (
        "workers",
        "idempotency",
        "logs",
        "audit",
        "attempts",
        "lanes",
        "runs",
        "plan_versions",
        "plans",
    ):
        op.drop_table(table)


def _create_plans() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("plan_id", name="pk_plans"),
        sa.UniqueConstraint("workspace", "name", name="uq_plans_workspace_name"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.plan_id"], name="fk_plan_versions_plan_id_plans"
        ),
        sa.PrimaryKeyConstraint("plan_id", "version", name="pk_plan_versions"),
    )


def _create_runs() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("plan_id", sa.String(), nullable=False),
        sa.Column("plan_name", sa.String(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("run_attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("started_at", _AT, nullable=True),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("halt_points", sa.JSON(), nullable=False),
        sa.Column("holding", sa.Boolean(), nullable=False),
        sa.Column("failing", sa.Boolean(), nullable=False),
        sa.Column("cancel_mode", sa.String(), nullable=True),
        sa.Column("ready", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("triggered_by", sa.String(), nullable=False),
        sa.Column("chain", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.plan_id"], name="fk_runs_plan_id_plans"
        ),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    _create_run_indexes()


def _create_run_indexes() -> None:
    op.create_index("ix_runs_workspace_run_id", "runs", ["workspace", "run_id"])
    op.create_index(
        "ix_runs_workspace_status_run_id", "runs", ["workspace", "status", "run_id"]
    )
    op.create_index(
        "ix_runs_workspace_plan_name_run_id",
        "runs",
        ["workspace", "plan_name", "run_id"],
    )
    op.create_index("ix_runs_workspace_created_at", "runs", ["workspace", "created_at"])
    op.create_index("ix_runs_plan_id", "runs", ["plan_id"])


def _create_lanes() -> None:
    op.create_table(
        "lanes",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_lanes_run_id_runs"
        ),
        sa.PrimaryKeyConstraint("run_id", "stage", "target", name="pk_lanes"),
    )


def _create_attempts() -> None:
    op.create_table(
        "attempts",
        sa.Column("attempt_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("run_attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("queued_at", _AT, nullable=False),
        sa.Column("not_before", _AT, nullable=True),
        sa.Column("started_at", _AT, nullable=True),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("worker_id", sa.String(), nullable=True),
        sa.Column("approval", sa.Boolean(), nullable=False),
        sa.Column("deadline_at", _AT, nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("input_overrides", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_attempts_run_id_runs"
        ),
        sa.PrimaryKeyConstraint("attempt_id", name="pk_attempts"),
    )
    op.create_index("ix_attempts_run_id_seq", "attempts", ["run_id", "seq"])
    op.create_index("ix_attempts_run_id_status", "attempts", ["run_id", "status"])
    op.create_index("ix_attempts_status_queued_at", "attempts", ["status", "queued_at"])
    op.create_index(
        "ix_attempts_run_id_stage_target_step",
        "attempts",
        ["run_id", "stage", "target", "step"],
    )


def _create_audit() -> None:
    op.create_table(
        "audit",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status_before", sa.String(), nullable=False),
        sa.Column("status_after", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_audit_run_id_runs"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
    )
    op.create_index("ix_audit_run_id_id", "audit", ["run_id", "id"])


def _create_logs() -> None:
    op.create_table(
        "logs",
        sa.Column("seq", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("attempt_id", sa.String(), nullable=True),
        sa.Column("at", _AT, nullable=False),
        sa.Column("stream", sa.String(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_logs"),
    )
    op.create_index("ix_logs_run_id_seq", "logs", ["run_id", "seq"])


def _create_idempotency_and_workers() -> None:
    op.create_table(
        "idempotency",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("request_digest", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("workspace", "key", name="pk_idempotency"),
    )
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("heartbeat_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_workers"),
    )
