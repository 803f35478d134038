"""
Runs and plans get numbers: small integers, counted up, never reused.

Existing runs and plans are numbered in the order they were created
(``created_at``, then id), 1, 2, 3 ...; the counters then go on after them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-04-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported, so that later changes to tables.py
# never change what this revision does
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: (numbers table, id column, numbered table)
_NUMBERED = (("run_numbers", "run_id", "runs"), ("plan_numbers", "plan_id", "plans"))


def upgrade() -> None:
    """Create run_numbers and plan_numbers; number the existing runs and plans."""
    for table, key, numbered in _NUMBERED:
        op.create_table(
            table,
            sa.Column("number", _SERIAL, autoincrement=True, nullable=False),
            sa.Column(key, sa.String(), nullable=False),
            sa.ForeignKeyConstraint(
                [key], [f"{numbered}.{key}"], name=f"fk_{table}_{key}_{numbered}"
            ),
            sa.PrimaryKeyConstraint("number", name=f"pk_{table}"),
            sa.UniqueConstraint(key, name=f"uq_{table}_{key}"),
            sqlite_autoincrement=True,
        )
        _backfill(table, key, numbered)


def downgrade() -> None:
    """Drop the numbers (the runs and plans keep everything else)."""
    for table, _, _ in reversed(_NUMBERED):
        op.drop_table(table)


def _backfill(table: str, key: str, numbered: str) -> None:
    """Number the existing rows in creation order, then move the counter past them."""
    source = sa.table(numbered, sa.column(key), sa.column("created_at"))
    target = sa.table(table, sa.column("number"), sa.column(key))
    order = sa.func.row_number().over(order_by=(source.c.created_at, source.c[key]))
    op.execute(
        target.insert().from_select(["number", key], sa.select(order, source.c[key]))
    )
    if op.get_bind().dialect.name == "postgresql":
        # explicit numbers do not move the serial's sequence (SQLite's
        # AUTOINCREMENT counter follows the largest number by itself)
        sequence = f"pg_get_serial_sequence('{table}', 'number')"
        largest = f"(SELECT COALESCE(MAX(number), 0) FROM {table})"  # noqa: S608 - a constant name
        op.execute(f"SELECT setval({sequence}, {largest} + 1, false)")
