"""Group commit: worker events that arrive together are saved in one transaction."""

from __future__ import annotations

import asyncio

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain import effects, events
from onward.domain.plan_schema import parse_plan
from onward.domain.runs import AttemptStatus, Run, RunState, RunStatus
from onward.runtime import Runtime
from onward.service.engine import Command, Engine
from onward.service.ports import RunCommit
from onward.storage.memory import MemoryStore


class CountingStore(MemoryStore):
    """A MemoryStore that counts run commits."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0

    async def commit_run(self, commit: RunCommit) -> None:
        """Count, then save."""
        self.commits += 1
        await asyncio.sleep(0)  # let other events queue up, as a real store would
        await super().commit_run(commit)


DOCUMENT = {
    "name": "four",
    "groups": [
        {
            "name": "g",
            "parallel": 4,
            "targets": ["t1", "t2", "t3", "t4"],
            "steps": [{"name": "s", "action": "noop"}],
        }
    ],
}


async def started_engine(store: CountingStore) -> tuple[Engine, str]:
    """Return an engine and a started run of four parallel no-op targets."""
    clock = FrozenClock()
    stored = await store.save_plan_version(
        workspace="default",
        name="four",
        source="",
        format="json",
        document=DOCUMENT,
        digest="d",
        created_by="test",
        now=clock.now(),
    )
    definition = parse_plan(DOCUMENT)
    engine = Engine(store=store, clock=clock)
    procedure = definition.procedure()
    assert procedure is not None
    run = Run(
        run_id="run_1",
        plan_id=stored.plan_id,
        plan_name="four",
        plan_version=1,
        created_at=clock.now(),
    )
    state = RunState(
        run=run, plan=definition, stages=procedure.stages(), lanes={}, attempts={}
    )
    await engine.create(state, Command(name="start"))
    return engine, run.run_id


async def test_concurrent_worker_events_share_one_commit() -> None:
    """Four claims sent at once are decided in order and saved together."""
    store = CountingStore()
    engine, run_id = await started_engine(store)
    queued = sorted((await engine.state(run_id)).attempts)
    before = store.commits

    decisions = await asyncio.gather(
        *(
            engine.apply(run_id, events.AttemptClaimed(attempt_id=a, worker_id="w"))
            for a in queued
        )
    )

    assert store.commits - before < len(queued)
    assert [d.attempts[a].status for d, a in zip(decisions, queued, strict=True)] == [
        AttemptStatus.RUNNING
    ] * 4
    stored = await store.load_run(run_id)
    assert {a.status for a in stored.attempts.values()} == {AttemptStatus.RUNNING}


async def test_an_impossible_event_in_a_batch_fails_alone() -> None:
    """A refused event gets its error; the others of its batch are saved."""
    store = CountingStore()
    engine, run_id = await started_engine(store)
    first, *_ = sorted((await engine.state(run_id)).attempts)

    results = await asyncio.gather(
        engine.apply(run_id, events.AttemptClaimed(attempt_id=first, worker_id="w")),
        engine.apply(run_id, events.AttemptClaimed(attempt_id=first, worker_id="w2")),
        return_exceptions=True,
    )

    assert isinstance(results[1], errors.InvalidTransitionError)
    attempt = (await store.load_run(run_id)).attempts[first]
    assert attempt.worker_id == "w"


async def test_batched_finishes_bring_the_run_to_its_end() -> None:
    """Claims and finishes of every target, all at once, end the run succeeded."""
    store = CountingStore()
    engine, run_id = await started_engine(store)
    queued = sorted((await engine.state(run_id)).attempts)

    await asyncio.gather(
        *(
            engine.apply(run_id, events.AttemptClaimed(attempt_id=a, worker_id="w"))
            for a in queued
        )
    )
    await asyncio.gather(
        *(
            engine.apply(
                run_id,
                events.AttemptFinished(attempt_id=a, status=AttemptStatus.SUCCEEDED),
            )
            for a in queued
        )
    )

    assert (await store.get_run(run_id)).status is RunStatus.SUCCEEDED
    assert (await store.get_run(run_id)).version == (
        await engine.state(run_id)
    ).run.version


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "fresh"])
async def test_a_stale_cache_is_reloaded_before_an_event_is_refused(
    cached: bool,
) -> None:
    """An event refused by a stale cached state is decided again on the stored one."""
    store = CountingStore()
    engine, run_id = await started_engine(store)
    other = Engine(store=store, clock=FrozenClock())
    attempt = sorted((await engine.state(run_id)).attempts)[0]
    await other.apply(run_id, events.AttemptClaimed(attempt_id=attempt, worker_id="w"))
    if not cached:
        engine.forget(run_id)

    decision = await engine.apply(
        run_id,
        events.AttemptFinished(attempt_id=attempt, status=AttemptStatus.SUCCEEDED),
    )

    assert decision.attempts[attempt].status is AttemptStatus.SUCCEEDED


async def test_a_step_run_here_is_claimed_in_the_transaction_that_queues_it() -> None:
    """With a local executor, each sequential step costs one commit, not two."""
    store = CountingStore()
    runtime = Runtime.open(Settings(heartbeat_timeout=60), executes=True, store=store)
    await runtime.commands.apply_plan(
        "name: seq\ngroups: [{name: g, targets: [t], steps: ["
        + ", ".join(f"{{name: s{i}, action: noop}}" for i in range(5))
        + "]}]"
    )

    run = await runtime.commands.start_run("seq")
    assert runtime.executor is not None
    await runtime.executor.drain()
    final = await store.get_run(run.run_id)
    await runtime.close()

    assert final.status is RunStatus.SUCCEEDED
    assert store.commits == 1 + 5


class BrokenStore(CountingStore):
    """A store whose next run commit fails with an unexpected error."""

    broken = False

    async def commit_run(self, commit: RunCommit) -> None:
        """Fail once when broken, else save."""
        if self.broken:
            self.broken = False
            await asyncio.sleep(0)
            msg = "disk on fire"
            raise RuntimeError(msg)
        await super().commit_run(commit)


async def test_an_unexpected_failure_reaches_every_waiter_of_the_batch() -> None:
    """No waiter hangs when the transaction of its batch fails unexpectedly."""
    store = BrokenStore()
    engine, run_id = await started_engine(store)
    queued = sorted((await engine.state(run_id)).attempts)
    store.broken = True

    results = await asyncio.gather(
        *(
            engine.apply(run_id, events.AttemptClaimed(attempt_id=a, worker_id="w"))
            for a in queued
        ),
        return_exceptions=True,
    )

    assert any(isinstance(r, RuntimeError) for r in results)
    assert all(isinstance(r, RuntimeError | effects.Decision) for r in results)
