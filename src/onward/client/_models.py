"""
The native API's answers as the client sees them: small pydantic models.

They mirror the server's response schemas (``docs/api.md``) without importing
the server: the client depends on httpx, pydantic and the domain's enums only.
Unknown fields are ignored, so a newer server does not break an older client.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from onward.domain.access import Role
from onward.domain.runs import (
    AttemptStatus,
    CancelMode,
    RunStatus,
    StepStatus,
    TargetStatus,
    Trigger,
)

__all__ = [
    "Accepted",
    "AccessKey",
    "ApiKey",
    "AppliedPlan",
    "Attempt",
    "AuditEntry",
    "Halt",
    "HaltIndex",
    "KeyRecord",
    "LogEntry",
    "LogPage",
    "Me",
    "Member",
    "Operation",
    "OperationStatus",
    "Place",
    "Plan",
    "PlanSummary",
    "PlanVersion",
    "PlanVersionSummary",
    "Preview",
    "ProblemItem",
    "Progress",
    "Run",
    "RunDetail",
    "RunEvent",
    "RunPage",
    "Stage",
    "Step",
    "Target",
    "Token",
    "User",
    "Validation",
    "Workspace",
]


class _Model(BaseModel):
    """An answer: frozen, extra fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class OperationStatus(StrEnum):
    """Where an operation is."""

    #: the run has not rested since the command
    RUNNING = "running"
    #: the run rested; the result is that state
    DONE = "done"


class ProblemItem(_Model):
    """One problem of a problem document or a plan validation."""

    path: str = ""
    message: str = ""
    #: body, query, path or header for request fields
    in_: str | None = Field(default=None, alias="in")
    #: the line of a plan text the problem is on
    line: int | None = None

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


# -- access ------------------------------------------------------------------------


class Token(_Model):
    """A session token from logging in."""

    token: str
    token_type: str = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_at: datetime | None = None


class Me(_Model):
    """The signed-in user and their roles."""

    user_id: str
    username: str
    superuser: bool
    roles: dict[str, Role]
    credential_id: str
    workspace_limit: str | None = None
    role_limit: Role | None = None


class Workspace(_Model):
    """A workspace, with the caller's role in it."""

    name: str
    description: str
    created_at: datetime
    role: Role | None = None


class User(_Model):
    """A user account."""

    user_id: str
    username: str
    superuser: bool
    disabled: bool
    created_at: datetime


class Member(_Model):
    """A user's role in a workspace."""

    workspace: str
    user_id: str
    username: str
    role: Role


class KeyRecord(_Model):
    """What API keys and access keys share: owner, name, limits and times."""

    user_id: str
    name: str
    #: the only workspace the key acts in (None: all of its user's)
    workspace: str | None = None
    #: the highest role the key acts with (None: its user's roles)
    role: Role | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKey(KeyRecord):
    """An API key; ``secret`` only in the answer that created it."""

    key_id: str
    secret: str | None = None


class AccessKey(KeyRecord):
    """An access key (AK/SK); ``secret_key`` only in the answer that created it."""

    #: the AK: names the key in signed requests (not a secret)
    access_key_id: str
    #: the SK: signs requests (HMAC-SHA256); shown once
    secret_key: str | None = None


# -- plans -------------------------------------------------------------------------


class PlanSummary(_Model):
    """A plan as listed: its latest version, and whether it may start runs."""

    plan_id: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    #: False: the plan is disabled and starts no run until enabled
    enabled: bool = True


class PlanVersionSummary(_Model):
    """One version of a plan, without its text."""

    plan_id: str
    name: str
    version: int
    format: str
    digest: str
    created_at: datetime
    created_by: str


class PlanVersion(PlanVersionSummary):
    """One version of a plan, with its text and parsed document."""

    source: str
    document: dict[str, Any]


class Plan(PlanVersion):
    """A plan as it stands: its latest version, and whether it may start runs."""

    #: False: the plan is disabled and starts no run until enabled
    enabled: bool = True


class AppliedPlan(_Model):
    """The outcome of storing a plan text."""

    version: PlanVersion
    #: False when the text was identical to the latest version (no new version)
    created: bool


class Validation(_Model):
    """The outcome of validating a plan text."""

    valid: bool
    problems: list[ProblemItem]


# -- runs --------------------------------------------------------------------------


class HaltIndex(_Model):
    """A halt point by indexes."""

    stage_index: int
    target_index: int
    step_index: int
    error: str


class Run(_Model):
    """A run record."""

    run_id: str
    workspace: str
    plan: str
    plan_version: int
    procedure: str
    status: RunStatus
    params: dict[str, Any]
    version: int
    run_attempt: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    warnings: int = 0
    trigger: Trigger = Trigger.MANUAL
    triggered_by: str = ""
    chain: bool = False
    cancel_mode: CancelMode | None = None
    halt_points: list[HaltIndex] = []


class RunPage(_Model):
    """One page of runs, newest first, and the cursor of the next."""

    runs: list[Run]
    next_cursor: str | None = None


class Attempt(_Model):
    """One try of one step on one target."""

    attempt_id: str
    number: int
    run_attempt: int
    status: AttemptStatus
    queued_at: datetime
    not_before: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker_id: str | None = None
    approval: bool = False
    deadline_at: datetime | None = None
    queue: str | None = None
    error: str | None = None
    output: dict[str, Any] = {}
    input_overrides: dict[str, Any] = {}


class Step(_Model):
    """One step of one target, with its attempts."""

    index: int
    name: str
    action: str
    critical: bool
    status: StepStatus
    error: str | None = None
    attempts: list[Attempt]


class Target(_Model):
    """One target of one stage, with its steps."""

    index: int
    name: str
    status: TargetStatus
    halted: bool
    steps: list[Step]


class Stage(_Model):
    """One stage: a group, or the plan-level before/after steps."""

    index: int
    name: str
    kind: str
    parallel: int
    targets: list[Target]


class Place(_Model):
    """A step of a target, by names and indexes."""

    stage: str
    target: str
    step: str
    stage_index: int
    target_index: int
    step_index: int


class Halt(Place):
    """A halt point with its names and error."""

    error: str


class RunDetail(Run):
    """A run with its stage/target/step/attempt tree and named halt points."""

    stages: list[Stage]
    halts: list[Halt]


class Preview(_Model):
    """What a command would start and skip, and the token to apply it with."""

    token: str
    starts: list[Place]
    skips: list[Place]


class Progress(_Model):
    """Steps of targets by status, of the total."""

    total: int
    succeeded: int
    failed: int
    skipped: int
    running: int


class Operation(_Model):
    """A run command carried out asynchronously."""

    operation_id: str
    workspace: str
    run_id: str
    command: str
    run_version: int
    created_at: datetime
    created_by: str
    status: OperationStatus
    #: the state the run rested in, once done
    result: RunStatus | None = None
    run_status: RunStatus
    progress: Progress | None = None


class Accepted(_Model):
    """The 202 answer of a run command."""

    run_id: str
    run_status: RunStatus
    operation: Operation


class AuditEntry(_Model):
    """One operator command on a run."""

    at: datetime
    actor: str
    command: str
    reason: str = ""
    status_before: str = ""
    status_after: str = ""
    details: dict[str, Any] = {}


class LogEntry(_Model):
    """One line of a run's log."""

    seq: int
    at: datetime
    attempt_id: str | None = None
    stream: str
    line: str


class LogPage(_Model):
    """Log lines and the sequence number to ask after next."""

    entries: list[LogEntry]
    next_after: int


class RunEvent(_Model):
    """One ``run`` event of a run's event stream."""

    run_id: str
    status: RunStatus
    version: int
    warnings: int = 0
    halt_points: int = 0
    finished_at: datetime | None = None
