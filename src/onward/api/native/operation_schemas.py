"""
Response models of the native API: operations, audit trails, logs and run events.
"""

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field

from onward.domain.runs import Run, RunStatus
from onward.service.operations import OperationStatus, OperationView
from onward.service.ports import AuditEntry, LogEntry

# -- operations, audit, logs -------------------------------------------------------


class ProgressOut(BaseModel):
    """How far the run has come, in steps of targets."""

    total: int
    succeeded: int
    failed: int
    skipped: int
    running: int


class OperationOut(BaseModel):
    """An accepted run command, running until the run rests."""

    operation_id: str
    workspace: str
    run_id: str
    command: str
    run_version: int
    created_at: datetime
    created_by: str
    status: OperationStatus
    result: RunStatus | None = Field(description="the resting state, once done")
    run_status: RunStatus
    progress: ProgressOut | None

    @classmethod
    def of(cls, view: OperationView) -> Self:
        """Render an operation."""
        op = view.operation
        progress = view.progress
        return cls(
            operation_id=op.operation_id,
            workspace=op.workspace,
            run_id=op.run_id,
            command=op.command,
            run_version=op.run_version,
            created_at=op.created_at,
            created_by=op.created_by,
            status=view.status,
            result=view.result,
            run_status=view.run.status,
            progress=None
            if progress is None
            else ProgressOut(
                total=progress.total,
                succeeded=progress.succeeded,
                failed=progress.failed,
                skipped=progress.skipped,
                running=progress.running,
            ),
        )


class OperationListOut(BaseModel):
    """Operations, newest first."""

    operations: list[OperationOut]


class AcceptedOut(BaseModel):
    """An accepted run command: the run it acts on and the operation to follow."""

    run_id: str
    run_status: RunStatus
    operation: OperationOut

    @classmethod
    def of(cls, view: OperationView) -> Self:
        """Render an accepted command."""
        return cls(
            run_id=view.run.run_id,
            run_status=view.run.status,
            operation=OperationOut.of(view),
        )


class AuditEntryOut(BaseModel):
    """One operator command on a run."""

    at: datetime
    actor: str
    command: str
    reason: str
    status_before: str
    status_after: str
    details: dict[str, Any]


class AuditOut(BaseModel):
    """A run's audit trail, oldest first."""

    entries: list[AuditEntryOut]

    @classmethod
    def of(cls, entries: list[AuditEntry]) -> Self:
        """Render an audit trail."""
        return cls(
            entries=[
                AuditEntryOut(
                    at=e.at,
                    actor=e.actor,
                    command=e.command,
                    reason=e.reason,
                    status_before=e.status_before,
                    status_after=e.status_after,
                    details=dict(e.details),
                )
                for e in entries
            ]
        )


class LogEntryOut(BaseModel):
    """One line of a run's log."""

    seq: int
    at: datetime
    attempt_id: str | None
    stream: str
    line: str


class LogsOut(BaseModel):
    """Log lines in order, and the ``after`` to ask for the next ones with."""

    entries: list[LogEntryOut]
    next_after: int

    @classmethod
    def of(cls, entries: list[LogEntry], after: int) -> Self:
        """Render log lines read after ``after``."""
        return cls(
            entries=[
                LogEntryOut(
                    seq=e.seq,
                    at=e.at,
                    attempt_id=e.attempt_id,
                    stream=e.stream,
                    line=e.line,
                )
                for e in entries
            ],
            next_after=entries[-1].seq if entries else after,
        )


class RunEventOut(BaseModel):
    """The data of one server-sent event: the run at a new version."""

    run_id: str
    status: RunStatus
    version: int
    warnings: int
    halt_points: int
    finished_at: datetime | None

    @classmethod
    def of(cls, run: Run) -> Self:
        """Render a run change."""
        return cls(
            run_id=run.run_id,
            status=run.status,
            version=run.version,
            warnings=run.warnings,
            halt_points=len(run.halt_points),
            finished_at=run.finished_at,
        )
