"""
The CLI's backend: what the commands ask of Onward, in one place.

:class:`Backend` is what the commands call. When a server is configured
(``--url``, ONWARD_URL or ``onward login``) it is
:class:`onward.cli.remote.RemoteBackend`, which goes through the native API.
Only when ``--db`` (ONWARD_DATABASE_URL) is given and no URL is,
:class:`LocalBackend` opens the database itself through
``Runtime.open(settings, executes=False)``: a command queues work, and the
``onward serve`` running on the same database picks it up within its
``poll_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import click
import pydantic
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from onward import demo, errors
from onward.config import Settings
from onward.domain.plans import DEFAULT_PROCEDURE, Plan
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.plan_switches import PlanSwitches
from onward.service.ports import (
    AuditEntry,
    LogEntry,
    PlanSummary,
    PlanVersion,
    RunFilter,
    RunPage,
)
from onward.service.queries import RunDetail
from onward.storage import default_database_url
from onward.storage.memory import MemoryStore

_T = TypeVar("_T")


def display_url(url: str) -> str:
    """Return a database URL fit to print: its password, if any, hidden."""
    if "://" not in url:
        return url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def default_actor() -> str:
    """Return the OS user name, the actor recorded when ``--actor`` is not given."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "operator"


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The global options of the ``onward`` command."""

    #: the database URL given with ``--db`` (None: the configured default)
    database_url: str | None = None
    #: who the audit trail records as sending the commands
    actor: str = field(default_factory=default_actor)
    #: the server given with ``--url`` (None: the saved one of ``onward login``)
    url: str | None = None
    #: the workspace given with ``--workspace`` (None: the saved one, or default)
    workspace: str | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Return the settings: ``--db`` and ``overrides`` over ONWARD_* and the file.

        Raises:
            click.ClickException: the environment or the config file is invalid.
        """
        given = {key: value for key, value in overrides.items() if value is not None}
        if self.database_url:
            given["database_url"] = self.database_url
        try:
            return Settings(**given)
        except pydantic.ValidationError as exc:
            msg = f"invalid configuration: {exc}"
            raise click.ClickException(msg) from exc


#: hands the global options to a command
pass_options = click.make_pass_decorator(Options, ensure=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedPlan:
    """The outcome of applying a plan file."""

    version: PlanVersion
    #: False when the plan was identical to its latest version
    changed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ShownPlan:
    """A plan version to show, every version of its plan, and the plan's switch."""

    stored: PlanVersion
    versions: list[PlanVersion]
    #: False: the plan is disabled and starts no run until enabled
    enabled: bool

    @classmethod
    def pick(
        cls, versions: list[PlanVersion], version: int | None, *, enabled: bool
    ) -> ShownPlan:
        """Show one of a plan's versions, oldest first (the latest by default).

        Raises:
            PlanNotFoundError: the plan has no such version.
        """
        wanted = versions[-1].version if version is None else version
        for stored in versions:
            if stored.version == wanted:
                return cls(stored=stored, versions=versions, enabled=enabled)
        raise errors.PlanNotFoundError(plan=versions[-1].name, version=version)


@dataclass(frozen=True, slots=True, kw_only=True)
class Intent:
    """Why and under which idempotency key an operator sends a command."""

    reason: str = ""
    idempotency_key: str | None = None


class Backend(Protocol):
    """The operations the CLI offers, on a server or on a database."""

    #: who sends the commands (the local backend records it; a server knows)
    actor: str
    #: where the commands go, as shown in hints
    database: str

    async def apply_plan(self, text: str, *, source: str) -> AppliedPlan:
        """Validate and store a plan; tell whether it made a new version."""

    async def list_plans(self) -> list[PlanSummary]:
        """Return the plans by name, with their latest version."""

    async def show_plan(self, name: str, version: int | None) -> ShownPlan:
        """Return one version of a plan (the latest by default) and all of them."""

    async def set_plan_enabled(
        self, name: str, *, enabled: bool, intent: Intent
    ) -> bool:
        """Enable or disable a plan; return whether it is enabled now."""

    async def start_run(
        self,
        plan_name: str,
        *,
        version: int | None = None,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, str] | None = None,
        chain: bool = False,
        intent: Intent = Intent(),
    ) -> Run:
        """Start a run; parameter values are text, converted to their declared types."""

    async def list_runs(
        self,
        *,
        plan_name: str | None = None,
        statuses: Sequence[RunStatus] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Return one page of runs, newest first."""

    async def run_detail(self, run_id: str) -> RunDetail:
        """Return a run with its whole group/target/step/attempt tree."""

    async def continue_run(self, run_id: str, option: str, intent: Intent) -> Run:
        """Go on with a halted run by one of the six continue options."""

    async def retry_run(self, run_id: str, intent: Intent) -> Run:
        """Run a failed run again from each failed step."""

    async def cancel_run(self, run_id: str, *, force: bool, intent: Intent) -> Run:
        """Cancel a run, gracefully or killing its running attempts."""

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

    async def logs(
        self, run_id: str, *, after_seq: int = 0, attempt_id: str | None = None
    ) -> list[LogEntry]:
        """Return a run's log lines after ``after_seq``."""

    async def audit(self, run_id: str) -> list[AuditEntry]:
        """Return a run's audit trail, oldest first."""


class LocalBackend:
    """The operations the CLI offers, carried out against one runtime."""

    def __init__(self, runtime: Runtime, *, actor: str) -> None:
        self._runtime = runtime
        self._commands = runtime.commands
        self._queries = runtime.queries
        self._store = runtime.store
        self._switches = PlanSwitches(store=runtime.store, clock=runtime.engine.clock)
        self.actor = actor
        #: the database the backend works on, without its password
        self.database = display_url(
            runtime.settings.database_url or default_database_url()
        )

    def _caller(self, intent: Intent) -> Caller:
        return Caller(
            actor=self.actor,
            reason=intent.reason,
            idempotency_key=intent.idempotency_key,
        )

    # -- plans -----------------------------------------------------------------

    def check_plan(self, text: str, *, source: str) -> Plan:
        """Validate a plan text, actions included; raise InvalidDefinitionError."""
        plan, _ = self._commands.check_plan(text, source=source)
        return plan

    async def apply_plan(self, text: str, *, source: str) -> AppliedPlan:
        """Validate and store a plan; tell whether it made a new version."""
        plan = self.check_plan(text, source=source)
        try:
            latest = (await self._plan_version(plan.name, None)).version
        except errors.PlanNotFoundError:
            latest = 0
        stored = await self._commands.apply_plan(
            text, source=source, caller=self._caller(Intent())
        )
        return AppliedPlan(version=stored, changed=stored.version != latest)

    async def list_plans(self) -> list[PlanSummary]:
        """Return the plans by name, with their latest version."""
        return await self._store.list_plans(workspace=Caller().workspace)

    async def plan_versions(self, name: str) -> list[PlanVersion]:
        """Return every version of a plan, oldest first."""
        return await self._store.list_plan_versions(
            workspace=Caller().workspace, name=name
        )

    async def _plan_version(self, name: str, version: int | None) -> PlanVersion:
        return await self._store.get_plan_version(
            workspace=Caller().workspace, name=name, version=version
        )

    async def show_plan(self, name: str, version: int | None) -> ShownPlan:
        """Return one version of a plan (the latest by default) and all of them."""
        summary = await self._store.get_plan_summary(
            workspace=Caller().workspace, name=name
        )
        versions = await self.plan_versions(name)
        return ShownPlan.pick(versions, version, enabled=summary.enabled)

    async def set_plan_enabled(
        self, name: str, *, enabled: bool, intent: Intent
    ) -> bool:
        """Enable or disable a plan; return whether it is enabled now."""
        switched = await self._switches.set_plan_enabled(
            name, enabled=enabled, caller=self._caller(intent)
        )
        return switched.enabled

    # -- runs ------------------------------------------------------------------

    async def start_run(
        self,
        plan_name: str,
        *,
        version: int | None = None,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, str] | None = None,
        chain: bool = False,
        intent: Intent = Intent(),
    ) -> Run:
        """Start a run; parameter values are text, converted to their declared types."""
        return await self._commands.start_run(
            plan_name,
            version=version,
            procedure=procedure,
            params=params,
            params_from_strings=True,
            chain=chain,
            caller=self._caller(intent),
        )

    async def list_runs(
        self,
        *,
        plan_name: str | None = None,
        statuses: Sequence[RunStatus] = (),
        limit: int = 50,
        cursor: str | None = None,
    ) -> RunPage:
        """Return one page of runs, newest first."""
        run_filter = RunFilter(
            plan_name=plan_name, statuses=tuple(statuses), limit=limit, cursor=cursor
        )
        return await self._queries.list_runs(run_filter)

    async def run_detail(self, run_id: str) -> RunDetail:
        """Return a run with its whole group/target/step/attempt tree."""
        return await self._queries.run_detail(run_id)

    async def continue_run(self, run_id: str, option: str, intent: Intent) -> Run:
        """Go on with a halted run by one of the six continue options."""
        return await self._commands.continue_run(
            run_id, option, caller=self._caller(intent)
        )

    async def retry_run(self, run_id: str, intent: Intent) -> Run:
        """Run a failed run again from each failed step."""
        return await self._commands.retry_run(run_id, caller=self._caller(intent))

    async def cancel_run(self, run_id: str, *, force: bool, intent: Intent) -> Run:
        """Cancel a run, gracefully or killing its running attempts."""
        return await self._commands.cancel_run(
            run_id, force=force, caller=self._caller(intent)
        )

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
        return await self._commands.decide_approval(
            run_id,
            approved=approved,
            attempt_id=attempt_id,
            comment=comment,
            caller=self._caller(intent),
        )

    async def logs(
        self, run_id: str, *, after_seq: int = 0, attempt_id: str | None = None
    ) -> list[LogEntry]:
        """Return a run's log lines after ``after_seq``."""
        return await self._queries.logs(
            run_id, after_seq=after_seq, attempt_id=attempt_id
        )

    async def audit(self, run_id: str) -> list[AuditEntry]:
        """Return a run's audit trail, oldest first."""
        return await self._queries.audit(run_id)

    async def start_demo(self) -> Run:
        """Apply the packaged demo plan and start one run of it."""
        await self.apply_plan(demo.plan_text(), source=demo.PLAN_FILE)
        return await self.start_run(demo.PLAN_NAME)


@contextlib.asynccontextmanager
async def open_backend(
    settings: Settings, *, actor: str
) -> AsyncIterator[LocalBackend]:
    """Open the database named by ``settings`` and yield a backend working on it."""
    runtime = Runtime.open(settings, executes=False)
    try:
        yield LocalBackend(runtime, actor=actor)
    finally:
        await runtime.close()


def call_local(
    options: Options, operation: Callable[[LocalBackend], Awaitable[_T]]
) -> _T:
    """Run one operation against the configured database and return its outcome."""

    async def _call() -> _T:
        async with open_backend(options.settings(), actor=options.actor) as backend:
            return await operation(backend)

    return asyncio.run(_call())


def call(options: Options, operation: Callable[[Backend], Awaitable[_T]]) -> _T:
    """Run one operation on the configured server, or with ``--db`` on a database.

    Raises:
        click.UsageError: neither a server nor a database is configured.
    """
    if options.url is None and options.database_url:
        return call_local(options, operation)
    from onward.cli import remote  # remote imports this module: import it late

    return remote.call(options, operation)


def offline_backend(options: Options) -> LocalBackend:
    """Return a backend on an in-memory store: for checks that touch no database."""
    runtime = Runtime.open(options.settings(), executes=False, store=MemoryStore())
    return LocalBackend(runtime, actor=options.actor)
