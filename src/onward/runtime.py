"""
Runtime: the composition root that wires store, engine, executor and scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from onward.actions.catalog import ActionCatalog
from onward.clock import Clock, SystemClock
from onward.config import Settings
from onward.executors.local import LocalExecutor
from onward.ids import new_worker_id
from onward.service.commands import Commands
from onward.service.engine import Engine
from onward.service.ports import Store
from onward.service.queries import Queries
from onward.service.scheduler import Scheduler
from onward.service.work import WorkService
from onward.storage import default_database_url, open_store


@dataclass(kw_only=True)
class Runtime:
    """Everything one Onward process uses, opened and closed together."""

    settings: Settings
    store: Store
    engine: Engine
    commands: Commands
    queries: Queries
    executor: LocalExecutor | None = None
    scheduler: Scheduler | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        executes: bool,
        clock: Clock | None = None,
        store: Store | None = None,
    ) -> Runtime:
        """Open the store and wire the services; with ``executes``, run steps here."""
        if store is None:
            store = open_store(settings.database_url or default_database_url())
        engine = Engine(store=store, clock=clock or SystemClock())
        catalog = ActionCatalog()
        runtime = cls(
            settings=settings,
            store=store,
            engine=engine,
            commands=Commands(engine=engine, checker=catalog),
            queries=Queries(engine),
        )
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
            )
        return runtime

    async def start(self) -> None:
        """Start background work: recovery of queued attempts, heartbeats, sweeps."""
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
