"""
Run reads for the APIs, scoped to a workspace: another workspace's runs are not found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from onward import errors
from onward.domain import events
from onward.domain.runs import Run
from onward.service.operations import resolve_points
from onward.service.places import StepRef
from onward.service.ports import AuditEntry, LogEntry, RunFilter, RunPage
from onward.service.queries import Preview, Queries, RunDetail


class PreviewCommand(StrEnum):
    """The commands that can be previewed."""

    CONTINUE = "continue"
    RETRY = "retry"


class WorkspaceRuns:
    """Answers questions about the runs of one workspace at a time."""

    def __init__(self, *, queries: Queries) -> None:
        self._queries = queries
        self._engine = queries.engine
        self._store = queries.store

    async def get(self, workspace: str, run_id: str) -> Run:
        """Return a run record of the workspace; raise RunNotFoundError."""
        run = await self._store.get_run(run_id)
        if run.workspace != workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        return run

    async def detail(self, workspace: str, run_id: str) -> RunDetail:
        """Return a run with its whole stage/target/step/attempt tree."""
        detail = await self._queries.run_detail(run_id)
        if detail.run.workspace != workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        return detail

    async def list_runs(self, run_filter: RunFilter) -> RunPage:
        """Return one page of the filter's workspace's runs, newest first."""
        return await self._queries.list_runs(run_filter)

    async def logs(
        self,
        workspace: str,
        run_id: str,
        *,
        after_seq: int = 0,
        attempt_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogEntry]:
        """Return a run's log lines after ``after_seq``."""
        await self.get(workspace, run_id)
        return await self._queries.logs(
            run_id, after_seq=after_seq, attempt_id=attempt_id, limit=limit
        )

    async def audit(self, workspace: str, run_id: str) -> list[AuditEntry]:
        """Return a run's audit trail, oldest first."""
        await self.get(workspace, run_id)
        return await self._queries.audit(run_id)

    async def preview(
        self,
        workspace: str,
        run_id: str,
        command: PreviewCommand,
        *,
        option: events.ContinueOption | None = None,
        points: Sequence[StepRef] | None = None,
        input_overrides: Mapping[str, Any] | None = None,
    ) -> Preview:
        """Return what a continue or retry would start and skip, and its token."""
        await self.get(workspace, run_id)
        event: events.Event = events.RetryRequested()
        if command is PreviewCommand.CONTINUE:
            if option is None:
                problem = errors.Problem("option", "a continue preview needs an option")
                raise errors.InvalidDefinitionError([problem], subject="preview")
            state = await self._engine.state(run_id)
            event = events.ContinueRequested(
                option=option,
                points=resolve_points(state, points),
                input_overrides=dict(input_overrides or {}),
            )
        return await self._queries.preview(run_id, event)
