"""
SqlStore: the Store on SQLite or PostgreSQL, with Core statements and compare-and-set.

Every public method is one transaction, run from start to end on a worker
thread of the store's own executor (one hop per call, not per statement): a
sync engine on a thread is faster than an async driver for the many short
transactions an engine makes. SQLite gets one thread for writes, since they
are serialised anyway, and (a file) one for reads, which WAL lets run beside a
write: a read, a status request say, never waits behind the commits of busy
runs. PostgreSQL gets a few threads for both. The statements live in
``_plans``, ``_runs``, ``_numbers``, ``_work`` and ``_access``, one module per
concern.

What the database says no to is raised as a ``StorageError``, and as a
``StorageRefusedError`` when it is the record itself the database refuses
(:func:`_storage_error`): trying that again as it is won't help.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from onward import errors
from onward.domain.access import (
    Credential,
    CredentialKind,
    RoleBinding,
    User,
    Workspace,
)
from onward.domain.runs import Attempt, Lane, LaneKey, Run
from onward.domain.triggers import DataObject
from onward.service.ports import (
    AuditEntry,
    IdempotencyRecord,
    LoadedRun,
    LogEntry,
    Operation,
    PlanSummary,
    PlanVersion,
    RunCommit,
    RunFilter,
    RunPage,
)
from onward.storage import (
    _access,
    _engine,
    _leases,
    _numbers,
    _plans,
    _runs,
    _schema,
    _triggers,
    _work,
)

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: worker threads (and pooled connections) for PostgreSQL
DEFAULT_POSTGRES_THREADS: Final = 4


class SqlStore:
    """Keeps plans, runs, logs, audit and access records in a SQL database.

    It is the only truth, and implements both ``Store`` and ``AccessStore``.

    Args:
        url: a database URL or a SQLite file's path (see ``open_store``).
        threads: worker threads, and pooled connections; default 1 for SQLite
            (a SQLite file has one more, for reads) and
            :data:`DEFAULT_POSTGRES_THREADS` for PostgreSQL.
        migrate: migrate the schema to the latest revision first; without it
            the schema must exist (``onward db upgrade``).

    Raises:
        StorageError: ``migrate`` was asked for and the migration failed.
    """

    def __init__(
        self, url: str, *, threads: int | None = None, migrate: bool = False
    ) -> None:
        url = _engine.normalise_url(url)
        if threads is None:
            threads = 1 if _engine.is_sqlite(url) else DEFAULT_POSTGRES_THREADS
        self._engine = _engine.create_engine(url, pool_size=threads)
        if migrate:
            # on the store's own engine: an in-memory SQLite database is not shared
            try:
                _schema.migrate_engine(self._engine, "head", down=False)
            except errors.StorageError:
                self._engine.dispose()
                raise
        self._executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="onward-db"
        )
        self._reader = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="onward-db-read")
            if _engine.sqlite_path(url) is not None
            else self._executor
        )
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The engine the store runs its statements on."""
        return self._engine

    async def save_plan_version(
        self,
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
        return await self._write(
            _plans.save_plan_version,
            workspace=workspace,
            name=name,
            source=source,
            format=format,
            document=document,
            digest=digest,
            created_by=created_by,
            now=now,
        )

    async def get_plan_version(
        self, *, workspace: str, name: str, version: int | None = None
    ) -> PlanVersion:
        """Return a version (the latest by default); raise PlanNotFoundError."""
        return await self._read(
            _plans.get_plan_version, workspace=workspace, name=name, version=version
        )

    async def list_plans(self, *, workspace: str) -> list[PlanSummary]:
        """Return the workspace's plans by name."""
        return await self._read(_plans.list_plans, workspace=workspace)

    async def get_plan_summary(self, *, workspace: str, name: str) -> PlanSummary:
        """Return one plan as listed; raise PlanNotFoundError."""
        return await self._read(_plans.get_plan_summary, workspace=workspace, name=name)

    async def set_plan_enabled(
        self, *, workspace: str, name: str, enabled: bool
    ) -> None:
        """Enable or disable a plan; raise PlanNotFoundError."""
        await self._write(
            _plans.set_plan_enabled, workspace=workspace, name=name, enabled=enabled
        )

    async def list_plan_versions(
        self, *, workspace: str, name: str
    ) -> list[PlanVersion]:
        """Return every version of a plan, oldest first; raise PlanNotFoundError."""
        return await self._read(
            _plans.list_plan_versions, workspace=workspace, name=name
        )

    async def delete_plan(self, *, workspace: str, name: str) -> None:
        """Delete a plan and its versions; raise PlanInUseError if runs use it."""
        await self._write(_plans.delete_plan, workspace=workspace, name=name)

    async def commit_run(self, commit: RunCommit) -> None:
        """Save a decision atomically, compare-and-set on the run's version.

        Raises:
            StaleStateError: the stored version is not ``expected_version`` (or
                the run exists when creating), or the idempotency key is taken.
        """
        await self._write(_runs.commit_run, commit)

    async def load_run(self, run_id: str) -> LoadedRun:
        """Return the run's decision state; raise RunNotFoundError."""
        return await self._read(_runs.load_run, run_id)

    async def get_run(self, run_id: str) -> Run:
        """Return the run record; raise RunNotFoundError."""
        return await self._read(_runs.get_run, run_id)

    async def list_runs(self, run_filter: RunFilter) -> RunPage:
        """Return one page of runs, newest first."""
        return await self._read(_runs.list_runs, run_filter)

    async def list_lanes(self, run_id: str) -> list[Lane]:
        """Return the run's started lanes in (stage, target) order."""
        return await self._read(_runs.list_lanes, run_id)

    async def get_run_numbers(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored run among ``run_ids`` (others omitted)."""
        return await self._read(_numbers.run_numbers_of, run_ids)

    async def get_plan_numbers(self, plan_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored plan among ``plan_ids`` (others omitted)."""
        return await self._read(_numbers.plan_numbers_of, plan_ids)

    async def find_run_id(self, number: int) -> str | None:
        """Return the id of the run with this number, if any."""
        return await self._read(_numbers.run_id_of, number)

    async def list_attempts(self, run_id: str) -> list[Attempt]:
        """Return every attempt of the run in the order they were queued."""
        return await self._read(_runs.list_attempts, run_id)

    async def get_attempt(self, attempt_id: str) -> Attempt:
        """Return one attempt; raise AttemptNotFoundError."""
        return await self._read(_runs.get_attempt, attempt_id)

    async def step_outputs(
        self, run_id: str, lane: LaneKey
    ) -> dict[int, Mapping[str, Any]]:
        """Return the output of the latest succeeded attempt of each step of a lane."""
        return await self._read(_runs.step_outputs, run_id, lane)

    async def list_audit(self, run_id: str) -> list[AuditEntry]:
        """Return the run's audit trail, oldest first."""
        return await self._read(_runs.list_audit, run_id)

    async def save_idempotency(self, record: IdempotencyRecord) -> None:
        """Store a record, or replace the response of the record with its key."""
        await self._write(_runs.save_idempotency, record)

    async def find_idempotency(
        self, *, workspace: str, key: str
    ) -> IdempotencyRecord | None:
        """Return the record kept for an idempotency key, if any."""
        return await self._read(_runs.find_idempotency, workspace=workspace, key=key)

    async def append_logs(self, entries: Sequence[LogEntry]) -> None:
        """Append lines to run logs."""
        if entries:
            await self._write(_work.append_logs, entries)

    async def read_logs(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        attempt_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogEntry]:
        """Return log lines after ``after_seq`` in order."""
        return await self._read(
            _work.read_logs,
            run_id,
            after_seq=after_seq,
            attempt_id=attempt_id,
            limit=limit,
        )

    async def queued_attempts(self, *, limit: int = 1000) -> list[Attempt]:
        """Return attempts waiting for a worker, oldest first."""
        return await self._read(_work.queued_attempts, limit=limit)

    async def beat(self, *, worker_id: str, name: str, now: datetime) -> None:
        """Record that a worker is alive."""
        await self._write(_work.beat, worker_id=worker_id, name=name, now=now)

    async def stale_attempts(self, *, heartbeat_before: datetime) -> list[Attempt]:
        """Return running attempts whose worker has not beaten since the cutoff."""
        return await self._read(_work.stale_attempts, heartbeat_before=heartbeat_before)

    async def expired_approvals(self, *, now: datetime) -> list[Attempt]:
        """Return approval attempts waiting past their deadline."""
        return await self._read(_work.expired_approvals, now=now)

    # -- leases: duties held by one server at a time ----------------------------

    async def acquire_lease(
        self, *, name: str, owner: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take or renew a lease until ``now + ttl``; False while another holds it."""
        return await self._write(
            _leases.acquire_lease, name=name, owner=owner, now=now, ttl=ttl
        )

    async def release_lease(self, *, name: str, owner: str) -> None:
        """Give a lease up at once if ``owner`` holds it."""
        await self._write(_leases.release_lease, name=name, owner=owner)

    # -- triggers: timer fires, data objects -----------------------------------

    async def last_fire(
        self, *, workspace: str, plan: str, trigger: str
    ) -> datetime | None:
        """Return the time a timer trigger last fired for, if it ever did."""
        return await self._read(
            _triggers.last_fire, workspace=workspace, plan=plan, trigger=trigger
        )

    async def record_fire(
        self,
        *,
        workspace: str,
        plan: str,
        trigger: str,
        fire_at: datetime,
        previous: datetime | None,
    ) -> bool:
        """Move a trigger's last fire from ``previous`` to ``fire_at`` (CAS)."""
        return await self._write(
            _triggers.record_fire,
            workspace=workspace,
            plan=plan,
            trigger=trigger,
            fire_at=fire_at,
            previous=previous,
        )

    async def add_data_object(self, data_object: DataObject) -> None:
        """Store a posted data object."""
        await self._write(_triggers.add_data_object, data_object)

    async def get_data_object(self, object_id: str) -> DataObject:
        """Return a data object; raise DataObjectNotFoundError."""
        return await self._read(_triggers.get_data_object, object_id)

    async def list_data_objects(
        self, *, workspace: str, dataclass: str | None = None, limit: int = 100
    ) -> list[DataObject]:
        """Return a workspace's data objects, newest first."""
        return await self._read(
            _triggers.list_data_objects,
            workspace=workspace,
            dataclass=dataclass,
            limit=limit,
        )

    # -- access: workspaces, users, bindings, credentials, operations ----------

    async def create_workspace(self, workspace: Workspace) -> None:
        """Store a new workspace; raise AlreadyExistsError if the name is taken."""
        await self._write(_access.create_workspace, workspace)

    async def get_workspace(self, name: str) -> Workspace:
        """Return a workspace; raise WorkspaceNotFoundError."""
        return await self._read(_access.get_workspace, name)

    async def list_workspaces(self) -> list[Workspace]:
        """Return every workspace by name."""
        return await self._read(_access.list_workspaces)

    async def create_user(self, user: User) -> None:
        """Store a new user; raise AlreadyExistsError if the username is taken."""
        await self._write(_access.create_user, user)

    async def update_user(self, user: User) -> None:
        """Replace a user's record; raise UserNotFoundError."""
        await self._write(_access.update_user, user)

    async def get_user(self, user_id: str) -> User:
        """Return a user by id; raise UserNotFoundError."""
        return await self._read(_access.get_user, user_id)

    async def find_user(self, username: str) -> User | None:
        """Return the user with this username, if any."""
        return await self._read(_access.find_user, username)

    async def list_users(self) -> list[User]:
        """Return every user by username."""
        return await self._read(_access.list_users)

    async def put_binding(self, binding: RoleBinding) -> None:
        """Give a user a role in a workspace (replacing any role there)."""
        await self._write(_access.put_binding, binding)

    async def delete_binding(self, *, workspace: str, user_id: str) -> None:
        """Remove a user's role in a workspace (no error if it had none)."""
        await self._write(_access.delete_binding, workspace=workspace, user_id=user_id)

    async def list_bindings(
        self, *, workspace: str | None = None, user_id: str | None = None
    ) -> list[RoleBinding]:
        """Return bindings, filtered, by (workspace, user_id)."""
        return await self._read(
            _access.list_bindings, workspace=workspace, user_id=user_id
        )

    async def add_credential(self, credential: Credential) -> None:
        """Store a credential (its secret's hash only)."""
        await self._write(_access.add_credential, credential)

    async def find_credential(self, secret_hash: str) -> Credential | None:
        """Return the credential whose secret has this hash, if any."""
        return await self._read(_access.find_credential, secret_hash)

    async def get_credential(self, credential_id: str) -> Credential:
        """Return a credential by id; raise CredentialNotFoundError."""
        return await self._read(_access.get_credential, credential_id)

    async def revoke_credential(self, credential_id: str, *, at: datetime) -> None:
        """Mark a credential revoked; raise CredentialNotFoundError."""
        await self._write(_access.revoke_credential, credential_id, at=at)

    async def list_credentials(
        self, *, user_id: str | None = None, kind: CredentialKind | None = None
    ) -> list[Credential]:
        """Return credentials, filtered, oldest first."""
        return await self._read(_access.list_credentials, user_id=user_id, kind=kind)

    async def purge_sessions(self, *, ended_before: datetime) -> int:
        """Delete the login sessions (and refresh tokens) that ended before a time."""
        return await self._write(_access.purge_sessions, ended_before=ended_before)

    async def add_operation(self, operation: Operation) -> None:
        """Store an accepted operation."""
        await self._write(_access.add_operation, operation)

    async def get_operation(self, operation_id: str) -> Operation:
        """Return an operation; raise OperationNotFoundError."""
        return await self._read(_access.get_operation, operation_id)

    async def list_operations(
        self, *, workspace: str, run_id: str | None = None, limit: int = 100
    ) -> list[Operation]:
        """Return a workspace's operations, newest first."""
        return await self._read(
            _access.list_operations, workspace=workspace, run_id=run_id, limit=limit
        )

    async def close(self) -> None:
        """Close the database connections and stop the worker threads; idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._reader is not self._executor:
            await loop.run_in_executor(None, self._reader.shutdown)
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown(wait=True)

    async def _read(
        self,
        statements: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        return await self._call(statements, False, *args, **kwargs)

    async def _write(
        self,
        statements: Callable[Concatenate[Connection, _P], _T],
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        return await self._call(statements, True, *args, **kwargs)

    async def _call(
        self,
        statements: Callable[Concatenate[Connection, _P], _T],
        write: bool,
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``statements`` in one transaction on a worker thread."""
        if self._closed:
            msg = "The store is closed"
            raise errors.StorageError(msg)
        job = functools.partial(
            _in_transaction, self._engine, statements, write, *args, **kwargs
        )
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor if write else self._reader, job
            )
        except exc.SQLAlchemyError as error:
            raise _storage_error(error, statements) from error


def _in_transaction(
    engine: Engine,
    statements: Callable[Concatenate[Connection, _P], _T],
    write: bool,
    /,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> _T:
    """Run ``statements`` in a transaction: commit, or roll back if they raise."""
    with engine.connect() as conn:
        if write:
            conn.execution_options(**{_engine.WRITE: True})
        elif conn.dialect.name == "postgresql":
            # one snapshot for all the statements of a read (READ COMMITTED gives
            # each its own): a run's record, lanes and attempts then agree, even
            # while other processes commit to the run
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return statements(conn, *args, **kwargs)


def _storage_error(
    error: exc.SQLAlchemyError, statements: Callable[..., Any]
) -> errors.StorageError:
    """Return the StorageError to raise for what the database (or driver) said.

    Refused records: a data exception (SQLSTATE class 22, such as invalid
    JSON, or the client-side NUL check of psycopg), and a value that could
    not be prepared for the database, such as a ``TypeError`` of the JSON
    serializer, or one the driver could not send (see ``_engine``). An
    IntegrityError is not one: a race can cause it.
    """
    operation = getattr(statements, "__name__", "operation").replace("_", " ")
    message = f"The database could not {operation}: {_engine.error_detail(error)}"
    refused = isinstance(error, exc.DataError) or (
        isinstance(error, exc.StatementError) and not isinstance(error, exc.DBAPIError)
    )
    return (errors.StorageRefusedError if refused else errors.StorageError)(message)
