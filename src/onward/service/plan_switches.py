"""
Plan switches: disable a plan, enable it again, and refuse runs of a disabled one.

A disabled plan starts no run (manual, triggered or chained) and its triggers
stay quiet; its versions, runs and triggers are kept. Who changed a switch,
when and why is logged (``plan.enabled``, ``plan.disabled``): the store keeps
the switch itself only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog

from onward import errors
from onward.clock import Clock
from onward.service.plan_uuids import find_plan
from onward.service.ports import PlanSummary, PlanVersion, Store

if TYPE_CHECKING:
    from onward.service.commands import Caller

_log = structlog.get_logger("onward.plans")


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentPlan:
    """A plan as it stands: its latest version, and whether it may start runs."""

    summary: PlanSummary
    #: the plan's latest version, with its text and document
    latest: PlanVersion

    @property
    def enabled(self) -> bool:
        """Tell whether the plan may start runs."""
        return self.summary.enabled


class PlanSwitches:
    """Turns plans off and on, in the caller's workspace; says where they stand."""

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def current(self, workspace: str, name: str) -> CurrentPlan:
        """Return a plan's latest version and its switch; raise PlanNotFoundError."""
        summary = await self._store.get_plan_summary(workspace=workspace, name=name)
        latest = await self._store.get_plan_version(
            workspace=workspace, name=name, version=summary.latest_version
        )
        return CurrentPlan(summary=summary, latest=latest)

    async def set_plan_enabled(
        self, name: str, *, enabled: bool, caller: Caller
    ) -> CurrentPlan:
        """Enable or disable a plan of the caller's workspace; return it as it stands.

        Setting the switch to what it is already changes nothing (and logs
        nothing). A change is logged with the caller's actor and reason.

        Args:
            name: the plan's name.
            enabled: True lets the plan start runs again; False stops it.
            caller: who asks, why, in which workspace.

        Raises:
            PlanNotFoundError: the workspace has no plan of this name.
        """
        workspace = caller.workspace
        before = await self._store.get_plan_summary(workspace=workspace, name=name)
        if before.enabled != enabled:
            await self._store.set_plan_enabled(
                workspace=workspace, name=name, enabled=enabled
            )
            _log.info(
                "plan.enabled" if enabled else "plan.disabled",
                workspace=workspace,
                plan=name,
                plan_id=before.plan_id,
                actor=caller.actor,
                reason=caller.reason,
                at=self._clock.now().isoformat(),
            )
        return await self.current(workspace, name)

    async def set_plan_enabled_by_uuid(
        self, plan: uuid.UUID, *, enabled: bool, caller: Caller
    ) -> CurrentPlan:
        """Enable or disable the plan with this UUID (see ``plan_uuids``).

        Raises:
            PlanNotFoundError: no plan of the caller's workspace has this UUID.
        """
        summary = await find_plan(self._store, workspace=caller.workspace, value=plan)
        return await self.set_plan_enabled(summary.name, enabled=enabled, caller=caller)


async def require_enabled(store: Store, *, workspace: str, name: str) -> None:
    """Refuse to start a run of a disabled plan, saying how to enable it.

    Raises:
        PlanNotFoundError: the workspace has no plan of this name.
        InvalidTransitionError: the plan is disabled (state ``disabled``).
    """
    summary = await store.get_plan_summary(workspace=workspace, name=name)
    if summary.enabled:
        return
    path = f"/api/v1/workspaces/{quote(workspace, safe='')}/plans/{quote(name)}"
    option = "" if workspace == "default" else f" --workspace {workspace}"
    raise errors.InvalidTransitionError(
        subject=f"plan {name}",
        state="disabled",
        command="start a run of",
        reason=(
            "the plan is disabled; an author enables it again with "
            f"`onward{option} plan enable {name}`, POST {path}/enable "
            "or the Enable button of its console page"
        ),
    )
