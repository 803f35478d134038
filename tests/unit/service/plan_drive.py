"""Helpers of the plan-addressed service tests: plans, a runtime, a worker stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from onward.clock import FrozenClock
from onward.config import Settings
from onward.domain import events
from onward.domain.runs import AttemptStatus, RunStatus
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore

#: one group of two targets; target b's check fails while ``fail`` says so
WEB: Final = """
name: web
groups:
  - name: g
    targets: [a, b]
    parallel: 2
    steps:
      - {name: greet, action: noop}
      - {name: check, action: noop}
  - name: h
    targets: [c]
    steps: [{name: finish, action: noop}]
"""
#: the same failure ends the run failed
NIGHTLY: Final = """
name: nightly
on_critical_failure: fail
groups:
  - name: g
    targets: [a]
    steps: [{name: check, action: noop}]
"""
#: a replica plan with every recovery procedure and no run procedure
REPLICA: Final = """
name: web-dr
kind: replica
procedures:
  failover:
    groups: [{name: vms, targets: [vm1, vm2], steps: [{name: boot, action: noop}]}]
  failback:
    groups: [{name: vms, targets: [vm1], steps: [{name: back, action: noop}]}]
  undo_failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: undo, action: noop}]}]
  protect:
    groups: [{name: vms, targets: [vm1], steps: [{name: protect, action: noop}]}]
"""

#: the outcome of an attempt, by (target name, attempt number of its step)
Outcome = Callable[[str, int], AttemptStatus]


def succeed(_: str, __: int) -> AttemptStatus:
    """Every attempt succeeds."""
    return AttemptStatus.SUCCEEDED


def fail_b(target: str, _: int) -> AttemptStatus:
    """Target b fails every time; the others succeed."""
    return AttemptStatus.FAILED if target == "b" else AttemptStatus.SUCCEEDED


def fail_all(_: str, __: int) -> AttemptStatus:
    """Every attempt fails."""
    return AttemptStatus.FAILED


async def open_runtime(*plans: str) -> Runtime:
    """Return a runtime that runs nothing by itself, with the plans applied."""
    runtime = Runtime.open(
        Settings(), executes=False, clock=FrozenClock(), store=MemoryStore()
    )
    for plan in plans:
        await runtime.commands.apply_plan(plan)
    return runtime


async def work(runtime: Runtime, run_id: str, outcome: Outcome) -> RunStatus:
    """Claim and finish every queued attempt as a worker would; return the status."""
    while True:
        state = await runtime.engine.state(run_id)
        queued = [a for a in state.attempts.values() if not a.approval]
        if not queued:
            return state.run.status
        for attempt in queued:
            target = state.stages[attempt.lane.stage].targets[attempt.lane.target]
            claim = events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w")
            await runtime.engine.apply(run_id, claim)
            finish = events.AttemptFinished(
                attempt_id=attempt.attempt_id,
                status=outcome(target.name, attempt.number),
            )
            await runtime.engine.apply(run_id, finish)
