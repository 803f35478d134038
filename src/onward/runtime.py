"""
Runtime: the composition root that wires store, engine, executor and scheduler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from onward.actions.catalog import ActionCatalog
from onward.clock import Clock, SystemClock
from onward.config import Settings
from onward.executors.celery import CeleryExecutor
from onward.executors.celery_app import create_app
from onward.executors.local import LocalExecutor
from onward.ids import new_worker_id
from onward.service.auth import AuthService
from onward.service.bootstrap import bootstrap_admin_from_env
from onward.service.commands import Commands
from onward.service.engine import Engine
from onward.service.followups import FollowUps
from onward.service.ports import Executor, FullStore
from onward.service.queries import Queries
from onward.service.scheduler import Scheduler
from onward.service.session_purge import SessionPurge
from onward.service.triggers import Triggers
from onward.service.work import WorkService
from onward.storage import default_database_url, open_store


@dataclass(kw_only=True)
class Runtime:
    """Everything one Onward process uses, opened and closed together."""

    settings: Settings
    store: FullStore
    engine: Engine
    commands: Commands
    queries: Queries
    auth: AuthService
    triggers: Triggers
    #: runs steps in this process (the ``local`` executor)
    executor: LocalExecutor | None = None
    #: sends steps to ``onward worker`` processes (the ``celery`` executor)
    remote: CeleryExecutor | None = None
    scheduler: Scheduler | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        executes: bool,
        clock: Clock | None = None,
        store: FullStore | None = None,
    ) -> Runtime:
        """Open the store and wire the services; with ``executes``, carry steps out.

        Steps run in this process (``executor = "local"``), or on ``onward
        worker`` processes (``"celery"``), to which any process sends the
        attempts it queues; ``executes`` also runs the scheduler.
        """
        if store is None:
            store = open_store(settings.database_url or default_database_url())
        engine = Engine(store=store, clock=clock or SystemClock())
        catalog = ActionCatalog()
        commands = Commands(engine=engine, checker=catalog)
        # a timer fire is on time when seen within two scheduler rounds
        on_time = timedelta(
            seconds=2 * settings.heartbeat_interval + settings.poll_interval
        )
        runtime = cls(
            settings=settings,
            store=store,
            engine=engine,
            commands=commands,
            queries=Queries(engine),
            auth=AuthService(store=store, clock=engine.clock),
            triggers=Triggers(commands=commands, store=store, on_time=on_time),
        )
        follow_ups = FollowUps(commands, store)
        engine.listen(follow_ups.on_decision)
        if settings.executor == "celery":
            runtime._send_to_workers(executes=executes, follow_ups=follow_ups)
        elif executes:
            runtime._run_here(catalog, follow_ups)
        return runtime

    def _run_here(self, catalog: ActionCatalog, follow_ups: FollowUps) -> None:
        """Run steps in this process (the ``local`` executor), with a scheduler."""
        worker_id = new_worker_id()
        executor = LocalExecutor(
            work=WorkService(self.engine),
            catalog=catalog,
            clock=self.engine.clock,
            worker_id=worker_id,
            concurrency=self.settings.concurrency,
        )
        self.engine.attach_executor(executor)
        self.executor = executor
        self.scheduler = self._scheduler(executor, worker_id, follow_ups)

    def _send_to_workers(self, *, executes: bool, follow_ups: FollowUps) -> None:
        """Send steps to workers (the ``celery`` executor); schedule if ``executes``.

        Every process that queues attempts sends them at once, command-line
        ones included; a server (``executes``) also runs the scheduler, whose
        lease holder re-sends attempts whose message was lost.
        """
        settings = self.settings
        remote = CeleryExecutor(
            app=create_app(settings.broker_url or ""),
            clock=self.engine.clock,
            redispatch_after=timedelta(seconds=settings.redispatch_after),
        )
        self.engine.attach_executor(remote)
        self.remote = remote
        if executes:
            self.scheduler = self._scheduler(
                remote,
                new_worker_id(),
                follow_ups,
                redispatch_after=timedelta(seconds=settings.redispatch_after),
            )

    def _scheduler(
        self,
        executor: Executor,
        worker_id: str,
        follow_ups: FollowUps,
        *,
        redispatch_after: timedelta | None = None,
    ) -> Scheduler:
        settings = self.settings
        return Scheduler(
            engine=self.engine,
            executor=executor,
            worker_id=worker_id,
            name=settings.worker_name,
            heartbeat_interval=timedelta(seconds=settings.heartbeat_interval),
            heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout),
            poll_interval=timedelta(seconds=settings.poll_interval),
            periodic=_periodic(
                self.triggers, follow_ups, SessionPurge(self.store, self.engine.clock)
            ),
            lease_ttl=timedelta(
                seconds=settings.lease_ttl or settings.heartbeat_timeout
            ),
            redispatch_after=redispatch_after,
        )

    async def start(self) -> None:
        """Create the first admin if asked, then start background work.

        The first admin comes from ONWARD_ADMIN_USERNAME/PASSWORD on an
        installation with no user yet; the background work is the recovery of
        queued attempts, heartbeats and sweeps.
        """
        await bootstrap_admin_from_env(self.auth)
        if self.scheduler is not None:
            await self.scheduler.start()

    async def close(self) -> None:
        """Stop background work, let running steps finish (within the grace), close."""
        if self.scheduler is not None:
            await self.scheduler.stop()
        grace = timedelta(seconds=self.settings.shutdown_grace)
        if self.executor is not None:
            await self.executor.close(grace=grace)
        if self.remote is not None:
            await self.remote.close(grace=grace)
        await self.store.close()


def _periodic(
    triggers: Triggers, follow_ups: FollowUps, sessions: SessionPurge
) -> Callable[[], Awaitable[None]]:
    """Return the work the scheduler's lease holder adds to each health check."""

    async def run() -> None:
        await triggers.fire_due_timers()
        await follow_ups.sweep()
        await sessions.run_due()

    return run
