"""
Create the access tables: workspaces, users, role_bindings, credentials,
operations; add the ``default`` workspace, where earlier plans and runs live.

Revision ID: 0002
Revises: 0001
Create Date: 2026-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# written out here rather than imported, so that later changes to tables.py
# never change what this revision does
_AT = sa.DateTime(timezone=True)
#: the workspace every installation starts with (service.auth.DEFAULT_WORKSPACE)
_DEFAULT_WORKSPACE = "default"


def upgrade() -> None:
    """Create the access tables and indexes, and the default workspace."""
    _create_workspaces_and_users()
    _create_role_bindings()
    _create_credentials()
    _create_operations()
    _insert_default_workspace()


def downgrade() -> None:
    """Drop the access tables (the default workspace with them)."""
    for table in ("operations", "credentials", "role_bindings", "users", "workspaces"):
        op.drop_table(table)


def _create_workspaces_and_users() -> None:
    op.create_table(
        "workspaces",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_workspaces"),
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("superuser", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )


def _create_role_bindings() -> None:
    op.create_table(
        "role_bindings",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace"],
            ["workspaces.name"],
            name="fk_role_bindings_workspace_workspaces",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_role_bindings_user_id_users"
        ),
        sa.PrimaryKeyConstraint("workspace", "user_id", name="pk_role_bindings"),
    )
    op.create_index("ix_role_bindings_user_id", "role_bindings", ["user_id"])


def _create_credentials() -> None:
    op.create_table(
        "credentials",
        sa.Column("credential_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=True),
        sa.Column("revoked_at", _AT, nullable=True),
        sa.Column("workspace", sa.String(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_credentials_user_id_users"
        ),
        sa.PrimaryKeyConstraint("credential_id", name="pk_credentials"),
    )
    op.create_index(
        "ix_credentials_secret_hash", "credentials", ["secret_hash"], unique=True
    )
    op.create_index("ix_credentials_user_id", "credentials", ["user_id"])


def _create_operations() -> None:
    op.create_table(
        "operations",
        sa.Column("operation_id", sa.String(), nullable=False),
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("run_version", sa.Integer(), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_operations_run_id_runs"
        ),
        sa.PrimaryKeyConstraint("operation_id", name="pk_operations"),
    )
    op.create_index(
        "ix_operations_workspace_created_at",
        "operations",
        ["workspace", "created_at"],
    )
    op.create_index("ix_operations_run_id", "operations", ["run_id"])


def _insert_default_workspace() -> None:
    workspaces = sa.table(
        "workspaces",
        sa.column("name", sa.String()),
        sa.column("description", sa.Text()),
        sa.column("created_at", _AT),
    )
    # the database's clock, in UTC: SQLite's CURRENT_TIMESTAMP is UTC text in the
    # format SQLAlchemy reads back, PostgreSQL's is a timestamptz
    op.execute(
        workspaces.insert().values(
            name=_DEFAULT_WORKSPACE,
            description="",
            created_at=sa.func.current_timestamp(),
        )
    )
