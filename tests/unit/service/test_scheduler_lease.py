"""Several servers, one database: the scheduler duties run on the lease holder only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.effects import DispatchAttempt
from onward.runtime import Runtime
from onward.service.scheduler import Scheduler
from onward.storage.memory import MemoryStore

PLAN = "name: p\ngroups: [{name: g, targets: [t], steps: [{name: s, action: noop}]}]\n"
TTL = timedelta(seconds=10)
REDISPATCH = timedelta(seconds=30)


@dataclass
class SendingExecutor:
    """An executor that sends attempts elsewhere: it records what it is handed."""

    dispatched: list[str] = field(default_factory=list)

    async def dispatch(self, attempts: Sequence[DispatchAttempt]) -> None:
        """Record the attempts."""
        self.dispatched.extend(a.attempt_id for a in attempts)

    async def kill(self, attempt_ids: Sequence[str]) -> None:
        """Nothing runs here."""

    def running(self) -> Mapping[str, str]:
        """Nothing runs here."""
        return {}

    def reserve(self, attempt: DispatchAttempt) -> str | None:
        """Hold no slot."""
        return None

    def release(self, attempt_ids: Sequence[str]) -> None:
        """Nothing to give back."""


@dataclass
class Replicas:
    """Two servers' schedulers on one store, and a runtime that queues attempts."""

    runtime: Runtime
    clock: FrozenClock
    schedulers: dict[str, Scheduler]
    executors: dict[str, SendingExecutor]

    async def queue_attempt(self) -> str:
        """Start a run whose first attempt is queued (and sent nowhere)."""
        await self.runtime.commands.apply_plan(PLAN)
        run = await self.runtime.commands.start_run("p")
        (attempt,) = await self.runtime.store.list_attempts(run.run_id)
        return attempt.attempt_id

    def leaders(self) -> list[str]:
        """Return the names of the schedulers that hold the lease."""
        return [name for name, s in self.schedulers.items() if s.leads()]


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    """Yield two schedulers, "a" and "b", that share a memory store and a clock."""
    clock = FrozenClock()
    runtime = Runtime.open(Settings(), executes=False, store=MemoryStore(), clock=clock)
    executors = {name: SendingExecutor() for name in ("a", "b")}
    schedulers = {
        name: Scheduler(
            engine=runtime.engine,
            executor=executor,
            worker_id=f"wrk_{name}",
            name=name,
            heartbeat_interval=timedelta(seconds=1),
            lease_ttl=TTL,
            redispatch_after=REDISPATCH,
        )
        for name, executor in executors.items()
    }
    yield Replicas(runtime, clock, schedulers, executors)
    await runtime.close()


async def test_one_of_two_servers_holds_the_lease(replicas: Replicas) -> None:
    """The first server to check its health leads; the second does not."""
    await replicas.schedulers["a"].check_health()
    await replicas.schedulers["b"].check_health()

    assert replicas.leaders() == ["a"]


async def test_the_holder_keeps_the_lease_while_it_beats(replicas: Replicas) -> None:
    """Renewed at each health check, the lease never passes to the other server."""
    for _ in range(5):
        await replicas.schedulers["a"].check_health()
        await replicas.schedulers["b"].check_health()
        replicas.clock.advance(TTL / 2)

    await replicas.schedulers["b"].check_health()

    assert replicas.leaders() == ["a"]


async def test_a_dead_holders_lease_is_taken_over_after_its_ttl(
    replicas: Replicas,
) -> None:
    """When the holder stops beating, the other server leads once the ttl is over."""
    await replicas.schedulers["a"].check_health()
    replicas.clock.advance(TTL - timedelta(seconds=1))
    await replicas.schedulers["b"].check_health()
    before_expiry = replicas.schedulers["b"].leads()
    replicas.clock.advance(timedelta(seconds=1))

    await replicas.schedulers["b"].check_health()

    assert before_expiry is False
    assert replicas.leaders() == ["b"]


async def test_a_stopped_holder_hands_the_lease_over_at_once(
    replicas: Replicas,
) -> None:
    """A server that stops gracefully releases the lease: no wait for the ttl."""
    await replicas.schedulers["a"].check_health()
    await replicas.schedulers["a"].stop()

    await replicas.schedulers["b"].check_health()

    assert replicas.leaders() == ["b"]


async def test_only_the_holder_resends_and_only_after_redispatch_after(
    replicas: Replicas,
) -> None:
    """The holder hands a queued attempt over again once it waited long enough."""
    attempt_id = await replicas.queue_attempt()
    for scheduler in replicas.schedulers.values():
        await scheduler.tick()
    too_early = {n: list(e.dispatched) for n, e in replicas.executors.items()}
    replicas.clock.advance(REDISPATCH)

    for scheduler in replicas.schedulers.values():
        await scheduler.check_health()
        await scheduler.sweep_queued()

    assert too_early == {"a": [], "b": []}
    assert {n: e.dispatched for n, e in replicas.executors.items()} == {
        "a": [attempt_id],
        "b": [],
    }
