"""
Runs remember what follows them (chain, protect after failover); timer fire times;
posted data objects.

Revision ID: 0003
Revises: 0002
Create Date: 2026-03-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported, so that later changes to tables.py
# never change what this revision does
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the run columns and the trigger tables."""
    with op.batch_alter_table("runs") as runs:
        runs.add_column(
            sa.Column("chain_rest", sa.JSON(), nullable=False, server_default="[]")
        )
        runs.add_column(sa.Column("then_procedure", sa.String(), nullable=True))
    with op.batch_alter_table("runs") as runs:
        runs.alter_column("chain_rest", server_default=None)
    op.create_table(
        "trigger_fires",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("plan_name", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("last_fire_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace", "plan_name", "trigger", name="pk_trigger_fires"
        ),
    )
    op.create_table(
        "data_objects",
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("dataclass", sa.String(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name="pk_data_objects"),
    )
    op.create_index(
        "ix_data_objects_workspace_dataclass",
        "data_objects",
        ["workspace", "dataclass", "created_at"],
    )


def downgrade() -> None:
    """Drop the trigger tables and the run columns."""
    op.drop_index("ix_data_objects_workspace_dataclass", table_name="data_objects")
    op.drop_table("data_objects")
    op.drop_table("trigger_fires")
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("then_procedure")
        runs.drop_column("chain_rest")
