"""Timer and event triggers, chains and follow-up procedures, with a frozen clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog.testing

from onward import errors
from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain.runs import Run, RunStatus, Trigger
from onward.runtime import Runtime
from onward.service.commands import RecoveryOptions
from onward.service.followups import FollowUps
from onward.service.ports import RunCommit, RunFilter
from onward.storage import open_store
from onward.storage.memory import MemoryStore

START = datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
STEPS = "groups: [{name: g, targets: [t], steps: [{name: s, action: noop}]}]"


def timer_plan(missed: str = "skip") -> str:
    """Return a plan fired every five minutes."""
    return (
        f"name: ticker\n{STEPS}\ntriggers:\n"
        f"  - {{name: five, type: timer, cron: '*/5 * * * *', missed: {missed}}}\n"
    )


class Servers:
    """Makes runtimes that share one SQLite file and one frozen clock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clock = FrozenClock(START)
        self.opened: list[Runtime] = []

    def __call__(self, *, memory: bool = False) -> Runtime:
        """Return a new executing runtime (on its own memory store if asked)."""
        store = MemoryStore() if memory else open_store(self.url)
        runtime = Runtime.open(
            Settings(heartbeat_timeout=600),
            executes=True,
            store=store,
            clock=self.clock,
        )
        self.opened.append(runtime)
        return runtime


RuntimeFactory = Servers


@pytest.fixture
async def make_runtime(tmp_path: Path) -> AsyncIterator[Servers]:
    """Return a factory of runtimes sharing one SQLite file and one frozen clock."""
    servers = Servers(f"sqlite:///{tmp_path / 'onward.db'}")
    yield servers
    for runtime in servers.opened:
        await runtime.close()


async def settle(runtime: Runtime) -> None:
    """Wait until the runtime's executor has nothing left to run."""
    assert runtime.executor is not None
    await runtime.executor.drain()


async def runs_of(runtime: Runtime, plan: str) -> list[Run]:
    """Return the runs of a plan, newest first."""
    return list((await runtime.store.list_runs(RunFilter(plan_name=plan))).runs)


async def test_a_timer_fires_at_its_times_and_not_for_the_past(
    make_runtime: RuntimeFactory,
) -> None:
    """A new timer starts counting now; each due fire starts exactly one run."""
    runtime = make_runtime()
    clock = make_runtime.clock
    await runtime.commands.apply_plan(timer_plan())

    first = await runtime.triggers.fire_due_timers()
    clock.advance(timedelta(minutes=4))
    fired = await runtime.triggers.fire_due_timers()
    again = await runtime.triggers.fire_due_timers()

    assert first == []
    assert [(r.trigger, r.triggered_by) for r in fired] == [
        (Trigger.TIMER, "five@2026-03-02T08:05:00+00:00")
    ]
    assert again == []


async def test_two_servers_start_one_run_per_fire(make_runtime: RuntimeFactory) -> None:
    """Servers sharing a database fire the same timer once."""
    first, second = make_runtime(), make_runtime()
    clock = make_runtime.clock
    await first.commands.apply_plan(timer_plan())
    await first.triggers.fire_due_timers()
    clock.advance(timedelta(minutes=4))

    await first.triggers.fire_due_timers()
    await second.triggers.fire_due_timers()
    await settle(first)

    assert len(await runs_of(first, "ticker")) == 1


@pytest.mark.parametrize(("missed", "expected"), [("skip", 0), ("run_once", 1)])
async def test_fires_missed_while_down_follow_the_policy(
    make_runtime: RuntimeFactory, missed: str, expected: int
) -> None:
    """After an hour down, skip starts nothing and run_once starts one run."""
    runtime = make_runtime()
    clock = make_runtime.clock
    await runtime.commands.apply_plan(timer_plan(missed))
    await runtime.triggers.fire_due_timers()
    clock.advance(timedelta(hours=1, seconds=30))

    fired = await runtime.triggers.fire_due_timers()

    assert len(fired) == expected


async def test_an_invalid_schedule_or_time_zone_is_refused(
    make_runtime: RuntimeFactory,
) -> None:
    """Cron and time zone problems are reported with their paths."""
    runtime = make_runtime()
    text = (
        f"name: bad\n{STEPS}\ntriggers:\n"
        "  - {name: a, type: timer, cron: '61 * * * *'}\n"
        "  - {name: b, type: timer, cron: '* * * * *', timezone: Mars/Olympus}\n"
    )

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        await runtime.commands.apply_plan(text)

    assert {p.path for p in raised.value.problems} == {
        "triggers[0].cron",
        "triggers[1].timezone",
    }


async def test_a_matching_event_starts_a_run_that_sees_the_data_object(
    make_runtime: RuntimeFactory,
) -> None:
    """An event trigger starts a run whose steps read the posted object."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(
        "name: responder\ngroups: [{name: g, targets: [t], steps: [{name: s, "
        "action: shell, with: {command: 'echo fixing {{ event.data.host }}'}}]}]\n"
        "triggers:\n  - {name: alerts, type: event, dataclass: alert,\n"
        "     when: [{field: severity, op: in, value: [high, critical]}]}\n"
    )

    quiet, none = await runtime.triggers.post_event(
        workspace="default", dataclass="alert", content={"severity": "low"}, actor="a"
    )
    loud, started = await runtime.triggers.post_event(
        workspace="default",
        dataclass="alert",
        content={"severity": "high", "host": "db1"},
        actor="a",
    )
    await settle(runtime)
    logs = await runtime.queries.logs(started[0].run_id)

    assert none == []
    assert [(r.trigger, r.triggered_by) for r in started] == [
        (Trigger.EVENT, loud.object_id)
    ]
    assert [entry.line for entry in logs] == ["fixing db1"]
    assert quiet.object_id != loud.object_id


async def test_a_chain_starts_its_plans_in_order_after_success(
    make_runtime: RuntimeFactory,
) -> None:
    """A chained run starts the next plan only once it succeeded, in order."""
    runtime = make_runtime(memory=True)
    for name in ("second", "third"):
        await runtime.commands.apply_plan(f"name: {name}\n{STEPS}")
    await runtime.commands.apply_plan(f"name: first\nchain: [second, third]\n{STEPS}")

    first = await runtime.commands.start_run("first", chain=True)
    await settle(runtime)
    second = (await runs_of(runtime, "second"))[0]
    third = (await runs_of(runtime, "third"))[0]

    assert (second.trigger, second.triggered_by) == (Trigger.CHAIN, first.run_id)
    assert third.triggered_by == second.run_id
    assert third.status is RunStatus.SUCCEEDED


async def test_a_chain_is_not_started_unless_asked(
    make_runtime: RuntimeFactory,
) -> None:
    """Without chain=True the chained plans do not start."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(f"name: second\n{STEPS}")
    await runtime.commands.apply_plan(f"name: first\nchain: [second]\n{STEPS}")

    await runtime.commands.start_run("first")
    await settle(runtime)

    assert await runs_of(runtime, "second") == []


async def test_a_chain_cycle_is_refused_when_the_plan_is_saved(
    make_runtime: RuntimeFactory,
) -> None:
    """a -> b -> a is rejected with the cycle named."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(f"name: a\nchain: [b]\n{STEPS}")

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        await runtime.commands.apply_plan(f"name: b\nchain: [a]\n{STEPS}")

    assert raised.value.problems[0].path == "chain"
    assert "b -> a -> b" in raised.value.problems[0].message


async def test_failover_with_protect_after_runs_protect_once_it_succeeds(
    make_runtime: RuntimeFactory,
) -> None:
    """Failover with a restore point, then protect, each recorded."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(
        "name: dr\nkind: replica\nprocedures:\n"
        "  failover: {groups: [{name: g, targets: [vm], steps: [{name: up, "
        "action: shell, with: {command: 'echo restore {{ run.params.restore_point }}'}"
        "}]}]}\n"
        "  protect: {groups: [{name: g, targets: [vm], steps: "
        "[{name: p, action: noop}]}]}\n"
    )

    failover = await runtime.commands.start_run(
        "dr",
        procedure="failover",
        recovery=RecoveryOptions(
            restore_point="2026-03-01T00:00:00", protect_after=True
        ),
    )
    await settle(runtime)
    runs = await runs_of(runtime, "dr")
    logs = await runtime.queries.logs(failover.run_id)

    assert [(r.procedure, r.status) for r in runs] == [
        ("protect", RunStatus.SUCCEEDED),
        ("failover", RunStatus.SUCCEEDED),
    ]
    assert [entry.line for entry in logs] == ["restore 2026-03-01T00:00:00+00:00"]


async def test_a_chain_left_unstarted_by_a_crash_is_started_by_the_sweep(
    make_runtime: RuntimeFactory,
) -> None:
    """A succeeded run whose chain never started gets it from the sweep, once."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(f"name: second\n{STEPS}")
    stored = await runtime.commands.apply_plan(f"name: first\nchain: [second]\n{STEPS}")
    crashed = Run(
        run_id="run_crashed",
        plan_id=stored.plan_id,
        plan_name="first",
        plan_version=1,
        status=RunStatus.SUCCEEDED,
        version=1,
        created_at=START,
        chain=True,
        chain_rest=("second",),
    )
    await runtime.store.commit_run(RunCommit(run=crashed, expected_version=0))
    sweeper = FollowUps(runtime.commands, runtime.store)

    first_sweep = await sweeper.sweep()
    second_sweep = await sweeper.sweep()
    await settle(runtime)

    assert [(r.plan_name, r.triggered_by) for r in first_sweep] == [
        ("second", "run_crashed")
    ]
    assert second_sweep == []
    assert len(await runs_of(runtime, "second")) == 1


async def test_a_chain_into_a_disabled_plan_ends_there_and_is_not_tried_again(
    make_runtime: RuntimeFactory,
) -> None:
    """A disabled next plan is refused once: no sweep starts it, even once enabled."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(f"name: second\n{STEPS}")
    await runtime.commands.apply_plan(f"name: first\nchain: [second]\n{STEPS}")
    await runtime.store.set_plan_enabled(
        workspace="default", name="second", enabled=False
    )
    sweeper = FollowUps(runtime.commands, runtime.store)

    with structlog.testing.capture_logs() as logs:
        first = await runtime.commands.start_run("first", chain=True)
        await settle(runtime)
        swept_while_disabled = await sweeper.sweep()
        await runtime.store.set_plan_enabled(
            workspace="default", name="second", enabled=True
        )
        swept_once_enabled = await sweeper.sweep()
    await settle(runtime)

    assert (await runtime.store.get_run(first.run_id)).status is RunStatus.SUCCEEDED
    assert swept_while_disabled == swept_once_enabled == []
    assert await runs_of(runtime, "second") == []
    refusals = [e for e in logs if e["event"] == "chain.start_refused"]
    assert [(e["run_id"], "disabled" in e["error"]) for e in refusals] == [
        (first.run_id, True)
    ]
    assert not [e for e in logs if e["event"] == "chain.start_failed"]


async def test_a_chain_into_a_deleted_plan_is_refused_once(
    make_runtime: RuntimeFactory,
) -> None:
    """A next plan that no longer exists ends the chain; the sweep leaves it."""
    runtime = make_runtime(memory=True)
    await runtime.commands.apply_plan(f"name: second\n{STEPS}")
    await runtime.commands.apply_plan(f"name: first\nchain: [second]\n{STEPS}")
    await runtime.store.delete_plan(workspace="default", name="second")
    sweeper = FollowUps(runtime.commands, runtime.store)

    with structlog.testing.capture_logs() as logs:
        await runtime.commands.start_run("first", chain=True)
        await settle(runtime)
        swept = await sweeper.sweep()

    assert swept == []
    assert [e["event"] for e in logs if e["event"].startswith("chain.")] == [
        "chain.start_refused"
    ]
