"""
MetaData and Table definitions (SQLAlchemy Core), with a constraint naming convention.

The migrations (``migrations/versions/``) create exactly these tables:
``0001_initial`` the plans and runs, ``0002_access`` the access records,
``0003_triggers`` the trigger records, ``0004_leases`` the leases,
``0005_plan_enabled`` a plan's switch, ``0006_numbers`` the numbers of runs
and plans, ``0007_run_updated_at`` when a run was last written;
``tests/integration/test_migrations.py`` checks that they agree.
Enum values are stored as their lower-case strings; nested records
(step states, halt points, stage progress, lane keys) are stored as JSON.

Every store holds text alike (:mod:`onward.text`): string columns bind their
values, in writes and in comparisons, with NUL and lone surrogates replaced by
U+FFFD, and the engine's JSON serializer does the same to the strings of JSON
data (``_engine.json_dumps``). A lookup by a key with a NUL then finds what a
write with it stores, rather than failing on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from onward.text import storable_text

#: names for constraints and indexes, so that migrations can refer to them
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata: Final = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime that always comes back in UTC.

    SQLite has no timezone-aware type: values are stored there as naive UTC
    (SQLAlchemy's fixed-width text, which sorts in time order) and given their
    UTC timezone back when read. PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC on SQLite); refuse naive."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            msg = f"naive datetime {value.isoformat()} cannot be stored: give it a tz"
            raise ValueError(msg)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StorableString(sa.TypeDecorator[str]):
    """A string bound with NUL and lone surrogates replaced by U+FFFD.

    The column's type is the type of what it is compared with, so the
    parameters of ``column == value`` and ``column.in_(values)`` are bound
    through it too.
    """

    impl = sa.String()
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Return the text as every store holds it (see :mod:`onward.text`)."""
        return storable_text(value) if isinstance(value, str) else value


class StorableText(StorableString):
    """A long text bound as :class:`StorableString` binds a string."""

    impl = sa.Text()
    cache_ok = True


#: an integer primary key that counts up (SQLite needs INTEGER for its rowid alias)
_Serial: Final = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

plans: Final = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", StorableString(), primary_key=True),
    sa.Column("workspace", StorableString(), nullable=False),
    sa.Column("name", StorableString(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.UniqueConstraint("workspace", "name"),
)

plan_versions: Final = sa.Table(
    "plan_versions",
    metadata,
    sa.Column(
        "plan_id", StorableString(), sa.ForeignKey("plans.plan_id"), primary_key=True
    ),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("source", StorableText(), nullable=False),
    sa.Column("format", StorableString(), nullable=False),
    sa.Column("document", sa.JSON(), nullable=False),
    sa.Column("digest", StorableString(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", StorableString(), nullable=False),
)

runs: Final = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", StorableString(), primary_key=True),
    sa.Column("workspace", StorableString(), nullable=False),
    sa.Column(
        "plan_id", StorableString(), sa.ForeignKey("plans.plan_id"), nullable=False
    ),
    sa.Column("plan_name", StorableString(), nullable=False),
    sa.Column("plan_version", sa.Integer(), nullable=False),
    sa.Column("procedure", StorableString(), nullable=False),
    sa.Column("status", StorableString(), nullable=False),
    sa.Column("params", sa.JSON(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("run_attempt", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=True),
    #: list of {next_target, active}
    sa.Column("stages", sa.JSON(), nullable=False),
    #: list of {stage, target, step, error}
    sa.Column("halt_points", sa.JSON(), nullable=False),
    sa.Column("holding", sa.Boolean(), nullable=False),
    sa.Column("failing", sa.Boolean(), nullable=False),
    sa.Column("cancel_mode", StorableString(), nullable=True),
    #: list of [stage, target]
    sa.Column("ready", sa.JSON(), nullable=False),
    sa.Column("warnings", sa.Integer(), nullable=False),
    sa.Column("trigger", StorableString(), nullable=False),
    sa.Column("triggered_by", StorableString(), nullable=False),
    sa.Column("chain", sa.Boolean(), nullable=False),
    sa.Column("chain_rest", sa.JSON(), nullable=False),
    sa.Column("then_procedure", StorableString(), nullable=True),
    # listing is newest first (run ids sort in creation order) within a workspace
    sa.Index("ix_runs_workspace_run_id", "workspace", "run_id"),
    sa.Index("ix_runs_workspace_status_run_id", "workspace", "status", "run_id"),
    sa.Index("ix_runs_workspace_plan_name_run_id", "workspace", "plan_name", "run_id"),
    sa.Index("ix_runs_workspace_created_at", "workspace", "created_at"),
    sa.Index("ix_runs_plan_id", "plan_id"),
)

lanes: Final = sa.Table(
    "lanes",
    metadata,
    sa.Column(
        "run_id", StorableString(), sa.ForeignKey("runs.run_id"), primary_key=True
    ),
    sa.Column("stage", sa.Integer(), primary_key=True),
    sa.Column("target", sa.Integer(), primary_key=True),
    sa.Column("status", StorableString(), nullable=False),
    sa.Column("cursor", sa.Integer(), nullable=False),
    #: list of {status, tries, attempts, error}
    sa.Column("steps", sa.JSON(), nullable=False),
    sa.Column("halted", sa.Boolean(), nullable=False),
)

attempts: Final = sa.Table(
    "attempts",
    metadata,
    sa.Column("attempt_id", StorableString(), primary_key=True),
    sa.Column("run_id", StorableString(), sa.ForeignKey("runs.run_id"), nullable=False),
    #: the attempt's place among its run's attempts, in the order they were first stored
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("stage", sa.Integer(), nullable=False),
    sa.Column("target", sa.Integer(), nullable=False),
    sa.Column("step", sa.Integer(), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("run_attempt", sa.Integer(), nullable=False),
    sa.Column("status", StorableString(), nullable=False),
    sa.Column("queued_at", UtcDateTime(), nullable=False),
    sa.Column("not_before", UtcDateTime(), nullable=True),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("worker_id", StorableString(), nullable=True),
    sa.Column("approval", sa.Boolean(), nullable=False),
    sa.Column("deadline_at", UtcDateTime(), nullable=True),
    sa.Column("queue", StorableString(), nullable=True),
    sa.Column("error", StorableText(), nullable=True),
    sa.Column("output", sa.JSON(), nullable=False),
    sa.Column("input_overrides", sa.JSON(), nullable=False),
    sa.Index("ix_attempts_run_id_seq", "run_id", "seq"),
    # a run's attempts in flight are read for every decision
    sa.Index("ix_attempts_run_id_status", "run_id", "status"),
    # queued, running and waiting attempts are looked up by status across runs
    sa.Index("ix_attempts_status_queued_at", "status", "queued_at"),
    sa.Index(
        "ix_attempts_run_id_stage_target_step", "run_id", "stage", "target", "step"
    ),
)

audit: Final = sa.Table(
    "audit",
    metadata,
    sa.Column("id", _Serial, primary_key=True, autoincrement=True),
    sa.Column("run_id", StorableString(), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("actor", StorableString(), nullable=False),
    sa.Column("command", StorableString(), nullable=False),
    sa.Column("reason", StorableText(), nullable=False),
    sa.Column("status_before", StorableString(), nullable=False),
    sa.Column("status_after", StorableString(), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Index("ix_audit_run_id_id", "run_id", "id"),
)

logs: Final = sa.Table(
    "logs",
    metadata,
    sa.Column("seq", _Serial, primary_key=True, autoincrement=True),
    # no foreign key: log lines are appended often and never need the run row
    sa.Column("run_id", StorableString(), nullable=False),
    sa.Column("attempt_id", StorableString(), nullable=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("stream", StorableString(), nullable=False),
    sa.Column("line", StorableText(), nullable=False),
    sa.Index("ix_logs_run_id_seq", "run_id", "seq"),
)

idempotency: Final = sa.Table(
    "idempotency",
    metadata,
    sa.Column("workspace", StorableString(), primary_key=True),
    sa.Column("key", StorableString(), primary_key=True),
    sa.Column("command", StorableString(), nullable=False),
    sa.Column("request_digest", StorableString(), nullable=False),
    sa.Column("run_id", StorableString(), nullable=False),
    sa.Column("response", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

workers: Final = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", StorableString(), primary_key=True),
    sa.Column("name", StorableString(), nullable=False),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
)

# --- access: workspaces, users, role bindings, credentials, operations -------------

workspaces: Final = sa.Table(
    "workspaces",
    metadata,
    sa.Column("name", StorableString(), primary_key=True),
    sa.Column("description", StorableText(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

users: Final = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", StorableString(), primary_key=True),
    sa.Column("username", StorableString(), nullable=False),
    sa.Column("password_hash", StorableString(), nullable=False),
    sa.Column("superuser", sa.Boolean(), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("username"),
)

role_bindings: Final = sa.Table(
    "role_bindings",
    metadata,
    sa.Column(
        "workspace",
        StorableString(),
        sa.ForeignKey("workspaces.name"),
        primary_key=True,
    ),
    sa.Column(
        "user_id", StorableString(), sa.ForeignKey("users.user_id"), primary_key=True
    ),
    sa.Column("role", StorableString(), nullable=False),
    # authenticate reads a user's bindings on every request
    sa.Index("ix_role_bindings_user_id", "user_id"),
)

credentials: Final = sa.Table(
    "credentials",
    metadata,
    sa.Column("credential_id", StorableString(), primary_key=True),
    sa.Column("kind", StorableString(), nullable=False),
    sa.Column(
        "user_id", StorableString(), sa.ForeignKey("users.user_id"), nullable=False
    ),
    #: sha256 of the secret; the secret itself is never stored
    sa.Column("secret_hash", StorableString(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    # no foreign key: an API key's limit names a workspace, checked when used
    sa.Column("workspace", StorableString(), nullable=True),
    sa.Column("role", StorableString(), nullable=True),
    sa.Column("name", StorableString(), nullable=False),
    # authenticate looks a credential up by its secret's hash on every request
    sa.Index("ix_credentials_secret_hash", "secret_hash", unique=True),
    sa.Index("ix_credentials_user_id", "user_id"),
)

operations: Final = sa.Table(
    "operations",
    metadata,
    sa.Column("operation_id", StorableString(), primary_key=True),
    sa.Column("workspace", StorableString(), nullable=False),
    sa.Column("run_id", StorableString(), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("command", StorableString(), nullable=False),
    sa.Column("run_version", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", StorableString(), nullable=False),
    sa.Index("ix_operations_workspace_created_at", "workspace", "created_at"),
    sa.Index("ix_operations_run_id", "run_id"),
)


trigger_fires: Final = sa.Table(
    "trigger_fires",
    metadata,
    sa.Column("workspace", StorableString(), primary_key=True),
    sa.Column("plan_name", StorableString(), primary_key=True),
    sa.Column("trigger", StorableString(), primary_key=True),
    sa.Column("last_fire_at", UtcDateTime(), nullable=False),
)

data_objects: Final = sa.Table(
    "data_objects",
    metadata,
    sa.Column("object_id", StorableString(), primary_key=True),
    sa.Column("workspace", StorableString(), nullable=False),
    sa.Column("dataclass", StorableString(), nullable=False),
    sa.Column("content", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", StorableString(), nullable=False),
    sa.Index(
        "ix_data_objects_workspace_dataclass", "workspace", "dataclass", "created_at"
    ),
)

# --- leases: scheduler duties held by one server at a time (migration 0004) ---------

leases: Final = sa.Table(
    "leases",
    metadata,
    sa.Column("name", StorableString(), primary_key=True),
    sa.Column("owner", StorableString(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
)

# --- numbers: small integer aliases of runs and plans (migration 0006) -------------

#: each run's number, given in the transaction that first saves the run
run_numbers: Final = sa.Table(
    "run_numbers",
    metadata,
    #: 1, 2, 3 ... in the order runs are created; never reused (AUTOINCREMENT)
    sa.Column("number", _Serial, primary_key=True, autoincrement=True),
    sa.Column("run_id", StorableString(), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.UniqueConstraint("run_id"),
    sqlite_autoincrement=True,
)

#: each plan's number, given in the transaction that first saves the plan
plan_numbers: Final = sa.Table(
    "plan_numbers",
    metadata,
    #: 1, 2, 3 ... in the order plans are created; never reused (AUTOINCREMENT)
    sa.Column("number", _Serial, primary_key=True, autoincrement=True),
    sa.Column(
        "plan_id", StorableString(), sa.ForeignKey("plans.plan_id"), nullable=False
    ),
    sa.UniqueConstraint("plan_id"),
    sqlite_autoincrement=True,
)
