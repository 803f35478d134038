"""
Where each plan stands: its latest version, its newest run, its recovery state.

For APIs that show plans rather than runs (plans found by their UUID, see
``plan_uuids``). The plan's main procedure is the one such APIs show the
groups, targets and steps of: ``run``, else ``failover``, else its first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from onward import errors
from onward.domain.plans import (
    DEFAULT_PROCEDURE,
    Group,
    Plan,
    PlanKind,
    Procedure,
    Target,
)
from onward.domain.recovery import RecoveryState
from onward.domain.runs import Run
from onward.service.engine import Engine
from onward.service.plan_uuids import find_plan, part_uuid, plan_uuid
from onward.service.ports import PlanSummary, RunFilter, Store
from onward.service.recovery import recovery_state

_RECOVERY_KINDS = frozenset({PlanKind.REPLICA, PlanKind.STORAGE})


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanStatus:
    """A plan as it stands now."""

    summary: PlanSummary
    #: the plan's UUID (see ``plan_uuids``)
    uid: uuid.UUID
    #: the latest version, parsed
    plan: Plan
    #: the procedure shown as the plan's groups and steps
    procedure: Procedure
    #: the plan's newest run, of any procedure
    last_run: Run | None
    #: where a replica or storage plan is in its failover life (None for others)
    recovery: RecoveryState | None

    def group_uuid(self, group: Group) -> uuid.UUID:
        """Return the UUID of one of the plan's groups."""
        return part_uuid(self.uid, group.name)

    def target_uuid(self, group: Group, target: Target) -> uuid.UUID:
        """Return the UUID of a target of one of the plan's groups."""
        return part_uuid(self.uid, group.name, "targets", target.name)

    def step_uuid(self, group: Group, step_name: str) -> uuid.UUID:
        """Return the UUID of a step of one of the plan's groups."""
        return part_uuid(self.uid, group.name, "steps", step_name)


class PlanStatuses:
    """Answers where plans stand; decides nothing and writes nothing."""

    def __init__(self, *, engine: Engine) -> None:
        self._engine = engine
        self._store = engine.store

    async def list_statuses(
        self,
        workspace: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        only_enabled: bool = False,
    ) -> tuple[list[PlanStatus], int]:
        """Return one page of the workspace's plans by name, and how many there are."""
        summaries = [
            s
            for s in await self._store.list_plans(workspace=workspace)
            if s.enabled or not only_enabled
        ]
        end = None if limit is None else offset + limit
        page = [await self._status(summary) for summary in summaries[offset:end]]
        return page, len(summaries)

    async def get(self, workspace: str, plan: uuid.UUID) -> PlanStatus:
        """Return where the plan with this UUID stands; raise PlanNotFoundError."""
        summary = await find_plan(self._store, workspace=workspace, value=plan)
        return await self._status(summary)

    async def get_group(
        self, workspace: str, plan: uuid.UUID, group: uuid.UUID
    ) -> tuple[PlanStatus, Group]:
        """Return a plan and one of its main procedure's groups, by UUIDs."""
        status = await self.get(workspace, plan)
        for candidate in status.procedure.groups:
            if status.group_uuid(candidate) == group:
                return status, candidate
        raise errors.GroupNotFoundError(group=str(group))

    async def get_target(
        self,
        workspace: str,
        plan: uuid.UUID,
        target: uuid.UUID,
        *,
        group: uuid.UUID | None = None,
    ) -> tuple[PlanStatus, Group, Target]:
        """Return a plan, a target and its group, by UUIDs (in any group if None)."""
        status = await self.get(workspace, plan)
        for candidate in status.procedure.groups:
            if group is not None and status.group_uuid(candidate) != group:
                continue
            for found in candidate.targets:
                if status.target_uuid(candidate, found) == target:
                    return status, candidate, found
        if group is not None:
            await self.get_group(workspace, plan, group)
        raise errors.TargetNotFoundError(target=str(target))

    async def _status(self, summary: PlanSummary) -> PlanStatus:
        plan = await self._engine.plan_version(
            workspace=summary.workspace,
            name=summary.name,
            version=summary.latest_version,
        )
        return PlanStatus(
            summary=summary,
            uid=plan_uuid(summary.plan_id),
            plan=plan,
            procedure=main_procedure(plan),
            last_run=await latest_run(
                self._store, workspace=summary.workspace, plan=summary.name
            ),
            recovery=await recovery_state(
                self._store, workspace=summary.workspace, plan=summary.name
            )
            if plan.kind in _RECOVERY_KINDS
            else None,
        )


def main_procedure(plan: Plan) -> Procedure:
    """Return the procedure shown as a plan's groups: run, else failover, else first."""
    for name in (DEFAULT_PROCEDURE, "failover"):
        found = plan.procedure(name)
        if found is not None:
            return found
    return next(iter(plan.procedures.values()), Procedure())


async def latest_run(store: Store, *, workspace: str, plan: str) -> Run | None:
    """Return a plan's newest run, if it has any."""
    page = await store.list_runs(
        RunFilter(workspace=workspace, plan_name=plan, limit=1)
    )
    return page.runs[0] if page.runs else None
