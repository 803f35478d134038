"""
The CLI's backend over HTTP: the same operations as the local one, through the client.

Answers of the native API are turned back into the records the views render
(``Run``, ``RunDetail``, ``PlanVersion``…), so a command prints the same thing
whether it talks to a server or, with ``--db``, to a database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import click

from onward.cli import credentials
from onward.cli.backend import AppliedPlan, Backend, Intent, Options, ShownPlan
from onward.client import CommandIntent, OnwardClient
from onward.client import models as m
from onward.domain.plans import DEFAULT_PROCEDURE
from onward.domain.runs import Attempt, HaltPoint, LaneKey, Run, RunStatus
from onward.service.ports import AuditEntry, LogEntry, PlanSummary, PlanVersion, RunPage
from onward.service.queries import (
    HaltView,
    Place,
    RunDetail,
    StageView,
    StepView,
    TargetView,
)

_T = TypeVar("_T")


def connection(options: Options, *, local: bool = True) -> credentials.Credentials:
    """Return the server, token and workspace the CLI's options and login name.

    ``--url`` (ONWARD_URL) wins over the saved login; the saved token is used
    only for the saved server. ONWARD_TOKEN (an API key) wins over the saved
    token.

    Args:
        options: the CLI's global options.
        local: the command also works on a database (``--db``): say so when
            no server is configured.

    Raises:
        click.UsageError: no server is configured.
    """
    saved = credentials.load()
    url = options.url or (saved.url if saved else None)
    if url is None:
        msg = (
            "No server: run `onward login --url URL` first, give --url "
            "(ONWARD_URL), or --db to work on a database directly."
            if local
            else "No server: run `onward login --url URL` first, or give --url "
            "(ONWARD_URL)."
        )
        raise click.UsageError(msg)
    same = saved is not None and saved.url.rstrip("/") == url.rstrip("/")
    token = os.environ.get("ONWARD_TOKEN") or (saved.token if same and saved else None)
    workspace = options.workspace or (saved.workspace if same and saved else "default")
    verify = saved.verify if same and saved else True
    return credentials.Credentials(
        url=url, token=token, workspace=workspace, verify=verify
    )


def open_client(found: credentials.Credentials) -> OnwardClient:
    """Return a client of the server of ``found``."""
    return OnwardClient(
        found.url, token=found.token, workspace=found.workspace, verify=found.verify
    )


def call(options: Options, operation: Callable[[Backend], Awaitable[_T]]) -> _T:
    """Run one operation on the configured server and return its outcome."""
    return call_client(
        options,
        lambda client: operation(RemoteBackend(client, actor=options.actor)),
        local=True,
    )


def call_client(
    options: Options,
    operation: Callable[[OnwardClient], Awaitable[_T]],
    *,
    local: bool = False,
) -> _T:
    """Run one operation with a client of the configured server; return its outcome.

    For commands that only a server carries out (``local`` False: ``--db`` is
    no way around a missing server) and for the remote backend.
    """
    found = connection(options, local=local)

    async def _call() -> _T:
        async with open_client(found) as client:
            return await operation(client)

    return asyncio.run(_call())


class RemoteBackend:
    """The operations the CLI offers, carried out by an Onward server."""

    def __init__(self, client: OnwardClient, *, actor: str) -> None:
        self._client = client
        self.actor = actor
        #: where the commands go (shown in hints)
        self.database = f"the server at {client.base_url}"

    @staticmethod
    def _intent(intent: Intent | None) -> CommandIntent:
        if intent is None:
            return {}
        return {"reason": intent.reason, "idempotency_key": intent.idempotency_key}

    # -- plans -----------------------------------------------------------------

    async def apply_plan(self, text: str, *, source: str) -> AppliedPlan:
        """Store a plan on the server; tell whether it made a new version."""
        applied = await self._client.apply_plan(text)
        version = plan_version(applied.version, self._client.workspace)
        return AppliedPlan(version=version, changed=applied.created)

    async def list_plans(self) -> list[PlanSummary]:
        """Return the plans by name, with their latest version."""
        workspace = self._client.workspace
        return [
            PlanSummary(workspace=workspace, **p.model_dump())
            for p in await self._client.list_plans()
        ]

    async def plan_versions(self, name: str) -> list[PlanVersion]:
        """Return every version of a plan, oldest first (texts included)."""
        summaries = await self._client.plan_versions(name)
        return [await self._plan_version(name, s.version) for s in summaries]

    async def _plan_version(self, name: str, version: int | None) -> PlanVersion:
        found = await self._client.get_plan(name, version)
        return plan_version(found, self._client.workspace)

    async def show_plan(self, name: str, version: int | None) -> ShownPlan:
        """Return one version of a plan (the latest by default) and all of them."""
        enabled = (await self._client.get_plan(name)).enabled
        versions = await self.plan_versions(name)
        return ShownPlan.pick(versions, version, enabled=enabled)

    async def set_plan_enabled(
        self, name: str, *, enabled: bool, intent: Intent
    ) -> bool:
        """Enable or disable a plan on the server; return whether it is enabled now."""
        switch = self._client.enable_plan if enabled else self._client.disable_plan
        return (await switch(name, **self._intent(intent))).enabled

    # -- runs ------------------------------------------------------------------

    async def _run_of(self, accepted: m.Accepted) -> Run:
        detail = await self._client.get_run(accepted.run_id)
        return run_record(detail)

    async def start_run(
        self,
        plan_name: str,
        *,
        version: int | None = None,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, str] | None = None,
        chain: bool = False,
        intent: Intent | None = None,
    ) -> Run:
        """Start a run; the server converts text values to their declared types."""
        accepted = await self._client.start_run(
            plan_name,
            version=version,
            procedure=procedure,
            params=params,
            chain=chain,
            **self._intent(intent),
        )
        return await self._run_of(accepted)

    async def list_runs(
        self,
        *,
        plan_name: str | None = None,
        statuses: Sequence[RunStatus] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Return one page of runs, newest first."""
        page = await self._client.list_runs(
            plan=plan_name, statuses=statuses, limit=limit, cursor=cursor
        )
        runs = tuple(run_record(r) for r in page.runs)
        return RunPage(runs=runs, next_cursor=page.next_cursor)

    async def run_detail(self, run_id: str) -> RunDetail:
        """Return a run with its whole group/target/step/attempt tree."""
        return run_detail(await self._client.get_run(run_id))

    async def continue_run(self, run_id: str, option: str, intent: Intent) -> Run:
        """Go on with a halted run by one of the six continue options."""
        accepted = await self._client.continue_run(
            run_id, option, **self._intent(intent)
        )
        return await self._run_of(accepted)

    async def retry_run(self, run_id: str, intent: Intent) -> Run:
        """Run a failed run again from each failed step."""
        accepted = await self._client.retry_run(run_id, **self._intent(intent))
        return await self._run_of(accepted)

    async def cancel_run(self, run_id: str, *, force: bool, intent: Intent) -> Run:
        """Cancel a run, gracefully or killing its running attempts."""
        accepted = await self._client.cancel_run(
            run_id, force=force, **self._intent(intent)
        )
        return await self._run_of(accepted)

    async def decide_approval(
        self,
        run_id: str,
        *,
        approved: bool,
        attempt_id: str | None,
        comment: str,
        intent: Intent,
    ) -> Run:
        """Approve or reject the waiting approval (the only one, or the named one)."""
        decide = self._client.approve_run if approved else self._client.reject_run
        accepted = await decide(
            run_id, attempt_id=attempt_id, comment=comment, **self._intent(intent)
        )
        return await self._run_of(accepted)

    async def logs(
        self, run_id: str, *, after_seq: int = 0, attempt_id: str | None = None
    ) -> list[LogEntry]:
        """Return a run's log lines after ``after_seq``."""
        page = await self._client.logs(run_id, after=after_seq, attempt_id=attempt_id)
        return [LogEntry(run_id=run_id, **entry.model_dump()) for entry in page.entries]

    async def audit(self, run_id: str) -> list[AuditEntry]:
        """Return a run's audit trail, oldest first."""
        entries = await self._client.audit(run_id)
        return [AuditEntry(run_id=run_id, **entry.model_dump()) for entry in entries]


# -- answers to records --------------------------------------------------------


def plan_version(found: m.PlanVersion, workspace: str) -> PlanVersion:
    """Return the record of a plan version answer (a plan's switch left out)."""
    fields = found.model_dump(include=set(m.PlanVersion.model_fields))
    return PlanVersion(workspace=workspace, **fields)


def run_record(run: m.Run) -> Run:
    """Return the record of a run answer (what the views need of it)."""
    return Run(
        run_id=run.run_id,
        plan_id="",
        plan_name=run.plan,
        plan_version=run.plan_version,
        procedure=run.procedure,
        workspace=run.workspace,
        status=run.status,
        params=run.params,
        version=run.version,
        run_attempt=run.run_attempt,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        updated_at=run.updated_at,
        halt_points=tuple(
            HaltPoint(
                lane=LaneKey(stage=h.stage_index, target=h.target_index),
                step=h.step_index,
                error=h.error,
            )
            for h in run.halt_points
        ),
        cancel_mode=run.cancel_mode,
        warnings=run.warnings,
        trigger=run.trigger,
        triggered_by=run.triggered_by,
        chain=run.chain,
    )


def run_detail(detail: m.RunDetail) -> RunDetail:
    """Return the tree of a run answer as the views render it."""
    return RunDetail(
        run=run_record(detail),
        stages=tuple(_stage(detail.run_id, s) for s in detail.stages),
        halts=tuple(HaltView(place=_place(h), error=h.error) for h in detail.halts),
    )


def _place(place: m.Place) -> Place:
    return Place(
        lane=LaneKey(stage=place.stage_index, target=place.target_index),
        step=place.step_index,
        stage_name=place.stage,
        target_name=place.target,
        step_name=place.step,
    )


def _stage(run_id: str, stage: m.Stage) -> StageView:
    targets = []
    for target in stage.targets:
        lane = LaneKey(stage=stage.index, target=target.index)
        steps = tuple(
            StepView(
                index=step.index,
                name=step.name,
                action=step.action,
                critical=step.critical,
                status=step.status,
                error=step.error,
                attempts=tuple(
                    Attempt(run_id=run_id, lane=lane, step=step.index, **a.model_dump())
                    for a in step.attempts
                ),
            )
            for step in target.steps
        )
        targets.append(
            TargetView(
                index=target.index,
                name=target.name,
                status=target.status,
                halted=target.halted,
                steps=steps,
            )
        )
    return StageView(
        index=stage.index,
        name=stage.name,
        kind=stage.kind,
        parallel=stage.parallel,
        targets=tuple(targets),
    )
