"""
Trigger use cases: fire due timers (once across servers) and start runs for events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from onward import errors
from onward.domain.plans import Plan, Trigger, TriggerKind
from onward.domain.runs import Run
from onward.domain.runs import Trigger as StartedBy
from onward.domain.triggers import DataObject, due_fire, matches
from onward.ids import new_id
from onward.service.commands import Caller, Commands
from onward.service.ports import FullStore
from onward.service.schedules import fire_times

_log = structlog.get_logger("onward.triggers")


class Triggers:
    """Starts runs for timer and event triggers of the latest plan versions."""

    def __init__(
        self, *, commands: Commands, store: FullStore, on_time: timedelta
    ) -> None:
        self._commands = commands
        self._store = store
        self._engine = commands.engine
        self._on_time = on_time

    async def fire_due_timers(self) -> list[Run]:
        """Start one run for every timer fire due now; each fire starts one run."""
        now = self._engine.clock.now()
        started = []
        for workspace, plan in await self._plans():
            for trigger in plan.triggers:
                if trigger.kind is TriggerKind.TIMER and trigger.enabled:
                    run = await self._fire(workspace, plan, trigger, now)
                    if run is not None:
                        started.append(run)
        return started

    async def post_event(
        self, *, workspace: str, dataclass: str, content: Mapping[str, Any], actor: str
    ) -> tuple[DataObject, list[Run]]:
        """Store a data object and start the runs of every event trigger it matches."""
        data_object = DataObject(
            object_id=new_id("obj"),
            workspace=workspace,
            dataclass=dataclass,
            content=dict(content),
            created_at=self._engine.clock.now(),
            created_by=actor,
        )
        await self._store.add_data_object(data_object)
        runs = []
        for space, plan in await self._plans(workspace):
            for trigger in plan.triggers:
                if trigger.kind is TriggerKind.EVENT and matches(
                    trigger, dataclass, data_object.content
                ):
                    key = f"event:{data_object.object_id}:{plan.name}:{trigger.name}"
                    run = await self._start(
                        space,
                        plan,
                        trigger,
                        StartedBy.EVENT,
                        data_object.object_id,
                        key=key,
                    )
                    if run is not None:
                        runs.append(run)
        return data_object, runs

    async def _fire(
        self, workspace: str, plan: Plan, trigger: Trigger, now: datetime
    ) -> Run | None:
        key = {"workspace": workspace, "plan": plan.name, "trigger": trigger.name}
        last = await self._store.last_fire(**key)
        if last is None:
            # a new trigger counts from now: it does not fire for the past
            await self._store.record_fire(**key, fire_at=now, previous=None)
            return None
        times = list(fire_times(trigger.cron, trigger.timezone, after=last, until=now))
        if not times:
            return None
        due = due_fire(times, missed=trigger.missed, now=now, on_time=self._on_time)
        run = None
        if due is not None:
            # the idempotency key makes the start happen once across servers
            run = await self._start(
                workspace,
                plan,
                trigger,
                StartedBy.TIMER,
                f"{trigger.name}@{due.isoformat()}",
                key=f"timer:{plan.name}:{trigger.name}:{due.isoformat()}",
            )
        await self._store.record_fire(**key, fire_at=times[-1], previous=last)
        return run

    async def _start(
        self,
        workspace: str,
        plan: Plan,
        trigger: Trigger,
        started_by: StartedBy,
        source: str,
        *,
        key: str,
    ) -> Run | None:
        """Start a trigger's run; a refused start is logged, not raised."""
        caller = Caller(
            actor=f"trigger:{trigger.name}",
            idempotency_key=key,
            workspace=workspace,
            reason=f"{started_by.value} {source}",
        )
        try:
            run = await self._commands.start_run(
                plan.name,
                procedure=trigger.procedure,
                params=trigger.params,
                trigger=started_by,
                triggered_by=source,
                caller=caller,
            )
        except errors.OnwardError as exc:
            _log.error(
                "trigger.start_failed",
                plan=plan.name,
                trigger=trigger.name,
                source=source,
                error=exc.message,
            )
            return None
        _log.info(
            "trigger.fired",
            plan=plan.name,
            trigger=trigger.name,
            run_id=run.run_id,
            source=source,
        )
        return run

    async def _plans(self, workspace: str | None = None) -> list[tuple[str, Plan]]:
        """Return the latest version of every plan (of one workspace, if named)."""
        spaces = (
            [workspace]
            if workspace is not None
            else [w.name for w in await self._store.list_workspaces()]
        )
        plans = []
        for space in spaces:
            for summary in await self._store.list_plans(workspace=space):
                if not summary.enabled:
                    continue
                try:
                    plan = await self._engine.plan_version(
                        workspace=space,
                        name=summary.name,
                        version=summary.latest_version,
                    )
                except errors.InvalidDefinitionError:
                    continue  # stored before a rule tightened; reported elsewhere
                plans.append((space, plan))
        return plans
