"""
Test helpers shipped with the package: plan builders and an in-memory run simulation.

``Simulation`` drives the pure state machine the way the engine does, with a
scripted outcome for every attempt, so tests and benchmarks can exercise the
semantics without storage or processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from onward.domain import events, machine
from onward.domain.effects import Decision
from onward.domain.plans import (
    CriticalFailurePolicy,
    Group,
    InterruptPolicy,
    Plan,
    Procedure,
    RetryPolicy,
    Step,
    Target,
)
from onward.domain.runs import Attempt, AttemptStatus, Run, RunState

#: the outcome of one attempt: a status, optionally with an error message
Outcome = AttemptStatus | tuple[AttemptStatus, str]


def step(
    name: str,
    action: str = "noop",
    *,
    critical: bool = True,
    attempts: int = 1,
    backoff: float = 0.0,
    on_interrupt: InterruptPolicy = InterruptPolicy.HALT,
    timeout: float | None = None,
    inputs: Mapping[str, Any] | None = None,
) -> Step:
    """Return a step definition with test-friendly defaults."""
    return Step(
        name=name,
        action=action,
        inputs=dict(inputs or {}),
        critical=critical,
        retry=RetryPolicy(
            maximum_attempts=attempts, initial_interval=timedelta(seconds=backoff)
        ),
        on_interrupt=on_interrupt,
        timeout=timedelta(seconds=timeout) if timeout is not None else None,
    )


def plan(
    groups: Mapping[str, tuple[Sequence[str], Sequence[Step]]],
    *,
    name: str = "test-plan",
    parallel: Mapping[str, int] | None = None,
    before: Sequence[Step] = (),
    after: Sequence[Step] = (),
    parallel_groups: bool = False,
    on_critical_failure: CriticalFailurePolicy = CriticalFailurePolicy.HALT,
) -> Plan:
    """Return a plan from ``{group: (target names, steps)}``."""
    built = tuple(
        Group(
            name=group_name,
            targets=tuple(Target(name=t) for t in targets),
            steps=tuple(steps),
            parallel=(parallel or {}).get(group_name, 1),
        )
        for group_name, (targets, steps) in groups.items()
    )
    procedure = Procedure(before=tuple(before), groups=built, after=tuple(after))
    return Plan(
        name=name,
        parallel_groups=parallel_groups,
        on_critical_failure=on_critical_failure,
        procedures={"run": procedure},
    )


@dataclass(frozen=True, slots=True)
class Place:
    """Names a step of a target by its names: (stage, target, step)."""

    stage: str
    target: str
    step: str


class Simulation:
    """Runs a plan through ``decide`` with scripted attempt outcomes."""

    def __init__(self, plan_: Plan, *, procedure: str = "run") -> None:
        definition = plan_.procedure(procedure)
        assert definition is not None  # noqa: S101 - a test helper
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self._ids = (f"att_{n:06d}" for n in itertools.count(1))
        run = Run(
            run_id="run_sim",
            plan_id="pln_sim",
            plan_name=plan_.name,
            plan_version=1,
            procedure=procedure,
            created_at=self.now,
        )
        self.state = machine.new_run_state(
            RunState(
                run=run,
                plan=plan_,
                stages=definition.stages(),
                lanes={},
                attempts={},
            )
        )
        #: every attempt as it finished, in order
        self.finished: list[Attempt] = []
        #: every attempt claimed by the simulated worker, in order
        self.claimed: list[Place] = []

    def send(self, event: events.Event) -> Decision:
        """Decide one event and keep its outcome."""
        decision = machine.decide(
            self.state, event, now=self.now, new_id=lambda: next(self._ids)
        )
        self.state = machine.apply_decision(self.state, decision)
        self.finished.extend(
            a for a in decision.attempts.values() if not a.status.is_in_flight
        )
        return decision

    def place(self, attempt: Attempt) -> Place:
        """Return the names of the step an attempt tries."""
        stage = self.state.stages[attempt.lane.stage]
        return Place(
            stage.name,
            stage.targets[attempt.lane.target].name,
            stage.steps[attempt.step].name,
        )

    def queued(self) -> list[Attempt]:
        """Return the attempts a worker could take, oldest first."""
        return sorted(
            (
                a
                for a in self.state.attempts.values()
                if a.status is AttemptStatus.QUEUED
            ),
            key=lambda a: a.attempt_id,
        )

    def work(
        self,
        outcome: Callable[[Place, int], Outcome],
        *,
        pick: Callable[[list[Attempt]], Attempt] = lambda queued: queued[0],
        limit: int = 100_000,
    ) -> Run:
        """Claim and finish queued attempts until none is left; return the run."""
        for _ in range(limit):
            queued = self.queued()
            if not queued:
                return self.state.run
            attempt = pick(queued)
            if attempt.not_before is not None and attempt.not_before > self.now:
                self.now = attempt.not_before
            where = self.place(attempt)
            self.claimed.append(where)
            self.send(
                events.AttemptClaimed(
                    attempt_id=attempt.attempt_id, worker_id="wrk_sim"
                )
            )
            result = outcome(where, attempt.number)
            status, error = result if isinstance(result, tuple) else (result, None)
            self.send(
                events.AttemptFinished(
                    attempt_id=attempt.attempt_id, status=status, error=error
                )
            )
        msg = "the simulation did not come to rest"
        raise RuntimeError(msg)

    def approvals(self) -> list[Attempt]:
        """Return the approval attempts waiting for a person."""
        return [a for a in self.state.attempts.values() if a.approval]

    def later(self, delta: timedelta) -> None:
        """Move the simulated clock forward."""
        self.now += delta

    def lane_statuses(self) -> dict[tuple[str, str], str]:
        """Return each started target's status by (stage name, target name)."""
        return {
            (
                self.state.stages[k.stage].name,
                self.state.stages[k.stage].targets[k.target].name,
            ): lane.status.value
            for k, lane in sorted(self.state.lanes.items())
        }


def succeed_all(_: Place, __: int) -> Outcome:
    """Every attempt succeeds."""
    return AttemptStatus.SUCCEEDED


def fail_at(
    *places: tuple[str, str, str], times: int = 1_000_000
) -> Callable[[Place, int], Outcome]:
    """Return an outcome that fails the named steps' first ``times`` attempts."""
    failing = {Place(*p) for p in places}

    def outcome(where: Place, number: int) -> Outcome:
        if where in failing and number <= times:
            return (AttemptStatus.FAILED, f"{where.step} broke")
        return AttemptStatus.SUCCEEDED

    return outcome


def evolve(run: Run, **changes: Any) -> Run:
    """Return a changed copy of a run record (for tests)."""
    return replace(run, **changes)
