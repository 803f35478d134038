"""
Row <-> record mapping for the tables of ``tables.py`` (from_row/to_row), nothing else.

``*_to_row`` returns the column values of one record as a dict ready for an
INSERT; ``*_from_row`` takes a row mapping (``result.mappings()``) and returns
the record. Nested records are JSON: lists of plain dicts and lists.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import RowMapping

from onward.domain.access import (
    Credential,
    CredentialKind,
    Role,
    RoleBinding,
    User,
    Workspace,
)
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    CancelMode,
    HaltPoint,
    Lane,
    LaneKey,
    Run,
    RunStatus,
    StageProgress,
    StepState,
    StepStatus,
    TargetStatus,
    Trigger,
)
from onward.domain.triggers import DataObject
from onward.service.ports import (
    AuditEntry,
    IdempotencyRecord,
    LogEntry,
    Operation,
    PlanSummary,
    PlanVersion,
)
from onward.storage._engine import JsonText, json_dumps

#: one row of a result, as ``result.mappings()`` gives it
Row = RowMapping


def plan_version_from_row(row: Row) -> PlanVersion:
    """Return a plan version from a row of plan_versions joined with plans."""
    return PlanVersion(
        plan_id=row["plan_id"],
        workspace=row["workspace"],
        name=row["name"],
        version=row["version"],
        source=row["source"],
        format=row["format"],
        document=row["document"],
        digest=row["digest"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def plan_summary_from_row(row: Row) -> PlanSummary:
    """Return a plan summary from a plans row with its latest version and time."""
    return PlanSummary(
        plan_id=row["plan_id"],
        workspace=row["workspace"],
        name=row["name"],
        latest_version=row["latest_version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        enabled=row["enabled"],
    )


def run_to_row(run: Run) -> dict[str, Any]:
    """Return the runs row of a run."""
    return {
        "run_id": run.run_id,
        "workspace": run.workspace,
        "plan_id": run.plan_id,
        "plan_name": run.plan_name,
        "plan_version": run.plan_version,
        "procedure": run.procedure,
        "status": run.status.value,
        "params": dict(run.params),
        "version": run.version,
        "run_attempt": run.run_attempt,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "updated_at": run.updated_at,
        "stages": [_stage_to_json(stage) for stage in run.stages],
        "halt_points": [_halt_point_to_json(point) for point in run.halt_points],
        "holding": run.holding,
        "failing": run.failing,
        "cancel_mode": run.cancel_mode.value if run.cancel_mode is not None else None,
        "ready": [[key.stage, key.target] for key in run.ready],
        "warnings": run.warnings,
        "trigger": run.trigger.value,
        "triggered_by": run.triggered_by,
        "chain": run.chain,
        "chain_rest": list(run.chain_rest),
        "then_procedure": run.then_procedure,
    }


def run_from_row(row: Row) -> Run:
    """Return the run of a runs row."""
    cancel_mode = row["cancel_mode"]
    return Run(
        run_id=row["run_id"],
        workspace=row["workspace"],
        plan_id=row["plan_id"],
        plan_name=row["plan_name"],
        plan_version=row["plan_version"],
        procedure=row["procedure"],
        status=RunStatus(row["status"]),
        params=row["params"],
        version=row["version"],
        run_attempt=row["run_attempt"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        stages=tuple(_stage_from_json(stage) for stage in row["stages"]),
        halt_points=tuple(_halt_point_from_json(point) for point in row["halt_points"]),
        holding=row["holding"],
        failing=row["failing"],
        cancel_mode=CancelMode(cancel_mode) if cancel_mode is not None else None,
        ready=tuple(LaneKey(stage, target) for stage, target in row["ready"]),
        warnings=row["warnings"],
        trigger=Trigger(row["trigger"]),
        triggered_by=row["triggered_by"],
        chain=row["chain"],
        chain_rest=tuple(row["chain_rest"]),
        then_procedure=row["then_procedure"],
    )


def lane_to_row(run_id: str, key: LaneKey, lane: Lane) -> dict[str, Any]:
    """Return the lanes row of a run's lane stored under ``key``."""
    return {
        "run_id": run_id,
        "stage": key.stage,
        "target": key.target,
        "status": lane.status.value,
        "cursor": lane.cursor,
        "steps": _steps_json(lane.steps),
        "halted": lane.halted,
    }


def lane_from_row(row: Row) -> Lane:
    """Return the lane of a lanes row."""
    return Lane(
        key=LaneKey(row["stage"], row["target"]),
        status=TargetStatus(row["status"]),
        cursor=row["cursor"],
        steps=tuple(_step_from_json(step) for step in row["steps"]),
        halted=row["halted"],
    )


def attempt_to_row(attempt_id: str, attempt: Attempt, *, seq: int) -> dict[str, Any]:
    """Return the attempts row of an attempt stored under ``attempt_id`` at ``seq``."""
    return {
        "attempt_id": attempt_id,
        "run_id": attempt.run_id,
        "seq": seq,
        "stage": attempt.lane.stage,
        "target": attempt.lane.target,
        "step": attempt.step,
        "number": attempt.number,
        "run_attempt": attempt.run_attempt,
        "status": attempt.status.value,
        "queued_at": attempt.queued_at,
        "not_before": attempt.not_before,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "worker_id": attempt.worker_id,
        "approval": attempt.approval,
        "deadline_at": attempt.deadline_at,
        "queue": attempt.queue,
        "error": attempt.error,
        "output": dict(attempt.output),
        "input_overrides": dict(attempt.input_overrides),
    }


def attempt_from_row(row: Row) -> Attempt:
    """Return the attempt of an attempts row."""
    return Attempt(
        attempt_id=row["attempt_id"],
        run_id=row["run_id"],
        lane=LaneKey(row["stage"], row["target"]),
        step=row["step"],
        number=row["number"],
        run_attempt=row["run_attempt"],
        status=AttemptStatus(row["status"]),
        queued_at=row["queued_at"],
        not_before=row["not_before"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        worker_id=row["worker_id"],
        approval=row["approval"],
        deadline_at=row["deadline_at"],
        queue=row["queue"],
        error=row["error"],
        output=row["output"],
        input_overrides=row["input_overrides"],
    )


def audit_to_row(entry: AuditEntry) -> dict[str, Any]:
    """Return the audit row of an audit entry."""
    return {
        "run_id": entry.run_id,
        "at": entry.at,
        "actor": entry.actor,
        "command": entry.command,
        "reason": entry.reason,
        "status_before": entry.status_before,
        "status_after": entry.status_after,
        "details": dict(entry.details),
    }


def audit_from_row(row: Row) -> AuditEntry:
    """Return the audit entry of an audit row."""
    return AuditEntry(
        run_id=row["run_id"],
        at=row["at"],
        actor=row["actor"],
        command=row["command"],
        reason=row["reason"],
        status_before=row["status_before"],
        status_after=row["status_after"],
        details=row["details"],
    )


def log_to_row(entry: LogEntry) -> dict[str, Any]:
    """Return the logs row of a log line (its ``seq`` is assigned by the database)."""
    return {
        "run_id": entry.run_id,
        "attempt_id": entry.attempt_id,
        "at": entry.at,
        "stream": entry.stream,
        "line": entry.line,
    }


def log_from_row(row: Row) -> LogEntry:
    """Return the log line of a logs row."""
    return LogEntry(
        run_id=row["run_id"],
        attempt_id=row["attempt_id"],
        at=row["at"],
        stream=row["stream"],
        line=row["line"],
        seq=row["seq"],
    )


def idempotency_to_row(record: IdempotencyRecord) -> dict[str, Any]:
    """Return the idempotency row of an idempotency record."""
    return {
        "workspace": record.workspace,
        "key": record.key,
        "command": record.command,
        "request_digest": record.request_digest,
        "run_id": record.run_id,
        "response": dict(record.response),
        "created_at": record.created_at,
    }


def idempotency_from_row(row: Row) -> IdempotencyRecord:
    """Return the idempotency record of an idempotency row."""
    return IdempotencyRecord(
        workspace=row["workspace"],
        key=row["key"],
        command=row["command"],
        request_digest=row["request_digest"],
        run_id=row["run_id"],
        response=row["response"],
        created_at=row["created_at"],
    )


def workspace_to_row(workspace: Workspace) -> dict[str, Any]:
    """Return the workspaces row of a workspace."""
    return {
        "name": workspace.name,
        "description": workspace.description,
        "created_at": workspace.created_at,
    }


def workspace_from_row(row: Row) -> Workspace:
    """Return the workspace of a workspaces row."""
    return Workspace(
        name=row["name"], description=row["description"], created_at=row["created_at"]
    )


def user_to_row(user: User) -> dict[str, Any]:
    """Return the users row of a user."""
    return {
        "user_id": user.user_id,
        "username": user.username,
        "password_hash": user.password_hash,
        "superuser": user.superuser,
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


def user_from_row(row: Row) -> User:
    """Return the user of a users row."""
    return User(
        user_id=row["user_id"],
        username=row["username"],
        password_hash=row["password_hash"],
        superuser=row["superuser"],
        disabled=row["disabled"],
        created_at=row["created_at"],
    )


def binding_to_row(binding: RoleBinding) -> dict[str, Any]:
    """Return the role_bindings row of a role binding."""
    return {
        "workspace": binding.workspace,
        "user_id": binding.user_id,
        "role": binding.role.value,
    }


def binding_from_row(row: Row) -> RoleBinding:
    """Return the role binding of a role_bindings row."""
    return RoleBinding(
        workspace=row["workspace"], user_id=row["user_id"], role=Role(row["role"])
    )


def credential_to_row(credential: Credential) -> dict[str, Any]:
    """Return the credentials row of a credential."""
    return {
        "credential_id": credential.credential_id,
        "kind": credential.kind.value,
        "user_id": credential.user_id,
        "secret_hash": credential.secret_hash,
        "created_at": credential.created_at,
        "expires_at": credential.expires_at,
        "revoked_at": credential.revoked_at,
        "workspace": credential.workspace,
        "role": credential.role.value if credential.role is not None else None,
        "name": credential.name,
    }


def credential_from_row(row: Row) -> Credential:
    """Return the credential of a credentials row."""
    role = row["role"]
    return Credential(
        credential_id=row["credential_id"],
        kind=CredentialKind(row["kind"]),
        user_id=row["user_id"],
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        workspace=row["workspace"],
        role=Role(role) if role is not None else None,
        name=row["name"],
    )


def operation_to_row(operation: Operation) -> dict[str, Any]:
    """Return the operations row of an operation."""
    return {
        "operation_id": operation.operation_id,
        "workspace": operation.workspace,
        "run_id": operation.run_id,
        "command": operation.command,
        "run_version": operation.run_version,
        "created_at": operation.created_at,
        "created_by": operation.created_by,
    }


def operation_from_row(row: Row) -> Operation:
    """Return the operation of an operations row."""
    return Operation(
        operation_id=row["operation_id"],
        workspace=row["workspace"],
        run_id=row["run_id"],
        command=row["command"],
        run_version=row["run_version"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def _stage_to_json(stage: StageProgress) -> dict[str, int]:
    return {"next_target": stage.next_target, "active": stage.active}


def _stage_from_json(data: Mapping[str, int]) -> StageProgress:
    return StageProgress(next_target=data["next_target"], active=data["active"])


def _halt_point_to_json(point: HaltPoint) -> dict[str, Any]:
    return {
        "stage": point.lane.stage,
        "target": point.lane.target,
        "step": point.step,
        "error": point.error,
    }


def _halt_point_from_json(data: Mapping[str, Any]) -> HaltPoint:
    return HaltPoint(
        lane=LaneKey(data["stage"], data["target"]),
        step=data["step"],
        error=data["error"],
    )


#: the JSON texts of step states by identity, each with its state (which keeps
#: the identity from being reused): a decision replaces one or two states of a
#: lane and keeps the others, so the others are not encoded again
_STEP_TEXTS: dict[int, tuple[StepState, str]] = {}
_STEP_TEXTS_KEPT: Final = 20_000


def _steps_json(steps: Sequence[StepState]) -> JsonText:
    return JsonText(f"[{','.join([_step_text(step) for step in steps])}]")


def _step_text(step: StepState) -> str:
    known = _STEP_TEXTS.get(id(step))
    if known is not None and known[0] is step:
        return known[1]
    text = _step_text_of_value(step)
    if len(_STEP_TEXTS) >= _STEP_TEXTS_KEPT:
        _STEP_TEXTS.clear()
    _STEP_TEXTS[id(step)] = (step, text)
    return text


@functools.lru_cache(maxsize=4096)
def _step_text_of_value(step: StepState) -> str:
    # equal step states are common (most are pending and untried)
    return json_dumps(
        {
            "status": step.status.value,
            "tries": step.tries,
            "attempts": step.attempts,
            "error": step.error,
        }
    )


def _step_from_json(data: Mapping[str, Any]) -> StepState:
    return StepState(
        status=StepStatus(data["status"]),
        tries=data["tries"],
        attempts=data["attempts"],
        error=data["error"],
    )


def data_object_to_row(data_object: DataObject) -> dict[str, Any]:
    """Return the data_objects row of a data object."""
    return {
        "object_id": data_object.object_id,
        "workspace": data_object.workspace,
        "dataclass": data_object.dataclass,
        "content": dict(data_object.content),
        "created_at": data_object.created_at,
        "created_by": data_object.created_by,
    }


def data_object_from_row(row: Row) -> DataObject:
    """Return the data object of a data_objects row."""
    return DataObject(
        object_id=row["object_id"],
        workspace=row["workspace"],
        dataclass=row["dataclass"],
        content=row["content"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )
