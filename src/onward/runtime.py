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
from onward.executors.local import LocalExecutor
from onward.ids import new_worker_id
from onward.service.auth import AuthService
from onward.service.bootstrap import bootstrap_admin_from_env
from onward.service.commands import Commands
from onward.service.engine import Engine
from onward.service.followups import FollowUps
from onward.service.ports import FullStore
from onward.service.queries import Queries
from onward.service.scheduler import Scheduler
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
    executor: LocalExecutor | None = None
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
        """Open the store and wire the services; with ``executes``, run steps here."""
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
        if executes:
            worker_id = new_worker_id()
            executor = LocalExecutor(
                work=WorkService(engine),
                catalog=catalog,
                clock=engine.clock,
                worker_id=worker_id,
                concurrency=settings.concurrency,
            )
            engine.attach_executor(executor)
            runtime.executor = executor
            runtime.scheduler = Scheduler(
                engine=engine,
                executor=executor,
                worker_id=worker_id,
                name=settings.worker_name,
                heartbeat_interval=timedelta(seconds=settings.heartbeat_interval),
                heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout),
                poll_interval=timedelta(seconds=settings.poll_interval),
                periodic=_periodic(runtime.triggers, follow_ups),
            )
        return runtime

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
        if self.executor is not None:
            await self.executor.close(
                grace=timedelta(seconds=self.settings.shutdown_grace)
            )
        await self.store.close()


def _periodic(
    triggers: Triggers, follow_ups: FollowUps
) -> Callable[[], Awaitable[None]]:
    """Return the work the scheduler adds to each health check."""

    async def run() -> None:
        await triggers.fire_due_timers()
        await follow_ups.sweep()

    return run
