"""
The contracts the outer packages implement: Store, Executor, ActionChecker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from onward.domain.access import (
    Credential,
    CredentialKind,
    RoleBinding,
    User,
    Workspace,
)
from onward.domain.effects import DispatchAttempt
from onward.domain.runs import Attempt, Lane, LaneKey, Run, RunStatus
from onward.domain.triggers import DataObject
from onward.errors import Problem


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanVersion:
    """One stored version of a plan: its source text and parsed document."""

    plan_id: str
    workspace: str
    name: str
    version: int
    #: the text as the author wrote it
    source: str
    #: ``yaml`` or ``json``
    format: str
    #: the parsed document (what ``parse_plan`` validated)
    document: Mapping[str, Any]
    #: sha256 of the canonical document; identical documents make no new version
    digest: str
    created_at: datetime
    created_by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSummary:
    """A plan as listed: its latest version."""

    plan_id: str
    workspace: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    #: a disabled plan starts no run (manual, triggered or chained)
    enabled: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One operator command on a run, as the audit trail keeps it."""

    run_id: str
    at: datetime
    actor: str
    command: str
    reason: str = ""
    status_before: str = ""
    status_after: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One line of a run's log."""

    run_id: str
    attempt_id: str | None
    at: datetime
    stream: str
    line: str
    #: position in the log, assigned by the store (0 before it is stored)
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class IdempotencyRecord:
    """The first outcome of a command sent with an Idempotency-Key."""

    workspace: str
    key: str
    command: str
    #: digest of the request; the same key with another request is refused
    request_digest: str
    run_id: str
    response: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """An accepted command on a run, tracked until the run rests again."""

    operation_id: str
    workspace: str
    run_id: str
    #: start, continue, retry, cancel, approve, reject, resume
    command: str
    #: the run's version once the command was applied
    run_version: int
    created_at: datetime
    created_by: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCommit:
    """Everything one decision writes, saved in one transaction."""

    run: Run
    #: the version the decision was made on; 0 creates the run
    expected_version: int
    lanes: Mapping[LaneKey, Lane] = field(default_factory=dict)
    attempts: Mapping[str, Attempt] = field(default_factory=dict)
    audit: tuple[AuditEntry, ...] = ()
    idempotency: IdempotencyRecord | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFilter:
    """Which runs to list, newest first."""

    workspace: str = "default"
    plan_name: str | None = None
    statuses: tuple[RunStatus, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    #: the last run id of the previous page
    cursor: str | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPage:
    """One page of runs and the cursor of the next, if any."""

    runs: tuple[Run, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedRun:
    """A run's decision state as stored: the run, its lanes, its attempts in flight."""

    run: Run
    lanes: dict[LaneKey, Lane]
    attempts: dict[str, Attempt]


class Store(Protocol):
    """Durable storage of plans, runs, attempts, logs and audit (the only truth)."""

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
        ...

    async def get_plan_version(
        self, *, workspace: str, name: str, version: int | None = None
    ) -> PlanVersion:
        """Return a version (the latest by default); raise PlanNotFoundError."""
        ...

    async def list_plans(self, *, workspace: str) -> list[PlanSummary]:
        """Return the workspace's plans by name."""
        ...

    async def get_plan_summary(self, *, workspace: str, name: str) -> PlanSummary:
        """Return one plan as listed; raise PlanNotFoundError."""
        ...

    async def set_plan_enabled(
        self, *, workspace: str, name: str, enabled: bool
    ) -> None:
        """Enable or disable a plan; raise PlanNotFoundError."""
        ...

    async def list_plan_versions(
        self, *, workspace: str, name: str
    ) -> list[PlanVersion]:
        """Return every version of a plan, oldest first; raise PlanNotFoundError."""
        ...

    async def delete_plan(self, *, workspace: str, name: str) -> None:
        """Delete a plan and its versions; raise PlanInUseError if runs use it."""
        ...

    async def commit_run(self, commit: RunCommit) -> None:
        """Save a decision atomically, compare-and-set on the run's version.

        Raises:
            StaleStateError: the stored version is not ``expected_version`` (or
                the run exists when creating), or the idempotency key is taken.
        """
        ...

    async def load_run(self, run_id: str) -> LoadedRun:
        """Return the run's decision state; raise RunNotFoundError."""
        ...

    async def get_run(self, run_id: str) -> Run:
        """Return the run record; raise RunNotFoundError."""
        ...

    async def list_runs(self, run_filter: RunFilter) -> RunPage:
        """Return one page of runs, newest first."""
        ...

    async def list_lanes(self, run_id: str) -> list[Lane]:
        """Return the run's started lanes in (stage, target) order."""
        ...

    async def get_run_numbers(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored run among ``run_ids`` (others omitted).

        The store numbers every run in the transaction that first saves it
        (``expected_version`` 0): 1, 2, 3 ... in creation order, unique across
        the database and never reused. Later commits leave the number alone.
        """
        ...

    async def get_plan_numbers(self, plan_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored plan among ``plan_ids`` (others omitted).

        Plans are numbered as runs are, when their first version is saved; a
        deleted plan's number is never given to another plan.
        """
        ...

    async def find_run_id(self, number: int) -> str | None:
        """Return the id of the run with this number; None for any other integer."""
        ...

    async def list_attempts(self, run_id: str) -> list[Attempt]:
        """Return every attempt of the run in the order they were queued."""
        ...

    async def get_attempt(self, attempt_id: str) -> Attempt:
        """Return one attempt; raise AttemptNotFoundError."""
        ...

    async def step_outputs(
        self, run_id: str, lane: LaneKey
    ) -> dict[int, Mapping[str, Any]]:
        """Return the output of the latest succeeded attempt of each step of a lane."""
        ...

    async def list_audit(self, run_id: str) -> list[AuditEntry]:
        """Return the run's audit trail, oldest first."""
        ...

    async def find_idempotency(
        self, *, workspace: str, key: str
    ) -> IdempotencyRecord | None:
        """Return the record kept for an idempotency key, if any."""
        ...

    async def save_idempotency(self, record: IdempotencyRecord) -> None:
        """Store a record, or replace the response of the record with its key."""
        ...

    async def append_logs(self, entries: Sequence[LogEntry]) -> None:
        """Append lines to run logs."""
        ...

    async def read_logs(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        attempt_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogEntry]:
        """Return log lines after ``after_seq`` in order."""
        ...

    async def queued_attempts(self, *, limit: int = 1000) -> list[Attempt]:
        """Return attempts waiting for a worker, oldest first."""
        ...

    async def beat(self, *, worker_id: str, name: str, now: datetime) -> None:
        """Record that a worker is alive."""
        ...

    async def stale_attempts(self, *, heartbeat_before: datetime) -> list[Attempt]:
        """Return running attempts whose worker has not beaten since the cutoff."""
        ...

    async def expired_approvals(self, *, now: datetime) -> list[Attempt]:
        """Return approval attempts waiting past their deadline."""
        ...

    async def acquire_lease(
        self, *, name: str, owner: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take or renew a lease until ``now + ttl``, if no one else holds it.

        A lease gives one of several servers a duty (the scheduler's) until it
        expires; its holder renews it before then.

        Returns:
            True when ``owner`` holds the lease now; False while another owner
            holds it unexpired (``expires_at > now``).
        """
        ...

    async def release_lease(self, *, name: str, owner: str) -> None:
        """Give a lease up at once if ``owner`` holds it (no error otherwise)."""
        ...

    async def last_fire(
        self, *, workspace: str, plan: str, trigger: str
    ) -> datetime | None:
        """Return the time a timer trigger last fired for, if it ever did."""
        ...

    async def record_fire(
        self,
        *,
        workspace: str,
        plan: str,
        trigger: str,
        fire_at: datetime,
        previous: datetime | None,
    ) -> bool:
        """Move a trigger's last fire from ``previous`` to ``fire_at`` (CAS).

        Returns:
            True for the one caller that moved it; False when the stored last
            fire was not ``previous`` (another server fired first).
        """
        ...

    async def add_data_object(self, data_object: DataObject) -> None:
        """Store a posted data object."""
        ...

    async def get_data_object(self, object_id: str) -> DataObject:
        """Return a data object; raise DataObjectNotFoundError."""
        ...

    async def list_data_objects(
        self, *, workspace: str, dataclass: str | None = None, limit: int = 100
    ) -> list[DataObject]:
        """Return a workspace's data objects, newest first."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class AccessStore(Protocol):
    """Durable storage of workspaces, users, bindings, credentials and operations."""

    async def create_workspace(self, workspace: Workspace) -> None:
        """Store a new workspace; raise AlreadyExistsError if the name is taken."""
        ...

    async def get_workspace(self, name: str) -> Workspace:
        """Return a workspace; raise WorkspaceNotFoundError."""
        ...

    async def list_workspaces(self) -> list[Workspace]:
        """Return every workspace by name."""
        ...

    async def create_user(self, user: User) -> None:
        """Store a new user; raise AlreadyExistsError if the username is taken."""
        ...

    async def update_user(self, user: User) -> None:
        """Replace a user's record; raise UserNotFoundError."""
        ...

    async def get_user(self, user_id: str) -> User:
        """Return a user by id; raise UserNotFoundError."""
        ...

    async def find_user(self, username: str) -> User | None:
        """Return the user with this username, if any."""
        ...

    async def list_users(self) -> list[User]:
        """Return every user by username."""
        ...

    async def put_binding(self, binding: RoleBinding) -> None:
        """Give a user a role in a workspace (replacing any role there)."""
        ...

    async def delete_binding(self, *, workspace: str, user_id: str) -> None:
        """Remove a user's role in a workspace (no error if it had none)."""
        ...

    async def list_bindings(
        self, *, workspace: str | None = None, user_id: str | None = None
    ) -> list[RoleBinding]:
        """Return bindings, filtered, by (workspace, user_id)."""
        ...

    async def add_operation(self, operation: Operation) -> None:
        """Store an accepted operation."""
        ...

    async def get_operation(self, operation_id: str) -> Operation:
        """Return an operation; raise OperationNotFoundError."""
        ...

    async def list_operations(
        self, *, workspace: str, run_id: str | None = None, limit: int = 100
    ) -> list[Operation]:
        """Return a workspace's operations, newest first."""
        ...

    async def add_credential(self, credential: Credential) -> None:
        """Store a credential (its secret's hash only)."""
        ...

    async def find_credential(self, secret_hash: str) -> Credential | None:
        """Return the credential whose secret has this hash, if any."""
        ...

    async def get_credential(self, credential_id: str) -> Credential:
        """Return a credential by id; raise CredentialNotFoundError."""
        ...

    async def revoke_credential(self, credential_id: str, *, at: datetime) -> None:
        """Mark a credential revoked; raise CredentialNotFoundError."""
        ...

    async def list_credentials(
        self, *, user_id: str | None = None, kind: CredentialKind | None = None
    ) -> list[Credential]:
        """Return credentials, filtered, oldest first."""
        ...

    async def purge_sessions(self, *, ended_before: datetime) -> int:
        """Delete the login sessions (and refresh tokens) that ended before a time.

        A session or refresh token ends when it expires or is revoked. API keys
        and access keys stay, revoked or expired: they are listed.

        Returns:
            How many sessions were deleted.
        """
        ...


class FullStore(Store, AccessStore, Protocol):
    """A store of both runs and access records (what composition roots open)."""


class Executor(Protocol):
    """Runs queued attempts somewhere (in this process, or on workers)."""

    async def dispatch(self, attempts: Sequence[DispatchAttempt]) -> None:
        """Take attempts that are queued and committed; start each when it is due."""
        ...

    async def kill(self, attempt_ids: Sequence[str]) -> None:
        """Stop running attempts now; each then reports itself cancelled."""
        ...

    def running(self) -> Mapping[str, str]:
        """Return the attempts running here, as attempt id -> run id."""
        ...

    def reserve(self, attempt: DispatchAttempt) -> str | None:
        """Hold a slot to run a due attempt here at once; return the claiming worker.

        The engine then saves the claim in the same transaction that queued the
        attempt, and dispatches it; None when no slot is free (or the executor
        runs attempts elsewhere), and the attempt is claimed the usual way.
        """
        ...

    def release(self, attempt_ids: Sequence[str]) -> None:
        """Give back slots held for attempts whose claim was not saved."""
        ...


class ActionChecker(Protocol):
    """Tells which action kinds exist and checks a step's inputs."""

    def check(self, kind: str, inputs: Mapping[str, Any]) -> list[Problem]:
        """Return the problems of a step's inputs (an unknown kind is one)."""
        ...
