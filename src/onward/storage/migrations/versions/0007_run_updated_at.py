"""
Runs record when they were last written.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported, so that later changes to tables.py
# never change what this revision does
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add runs.updated_at: an existing run's latest known time."""
    with op.batch_alter_table("runs") as runs:
        runs.add_column(sa.Column("updated_at", _AT, nullable=True))
    op.execute(
        "UPDATE runs SET updated_at = COALESCE(finished_at, started_at, created_at)"
    )


def downgrade() -> None:
    """Drop runs.updated_at."""
    with op.batch_alter_table("runs") as runs:
        runs.drop_column("updated_at")
