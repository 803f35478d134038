"""
Plans can be disabled: a disabled plan starts no run.

Revision ID: 0005
Revises: 0004
Create Date: 2026-03-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add plans.enabled, true for every existing plan."""
    with op.batch_alter_table("plans") as plans:
        plans.add_column(
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("plans") as plans:
        plans.alter_column("enabled", server_default=None)


def downgrade() -> None:
    """Drop plans.enabled."""
    with op.batch_alter_table("plans") as plans:
        plans.drop_column("enabled")
