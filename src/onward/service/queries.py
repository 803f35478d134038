"""
Read models for the CLI, API and console: run trees, lists, logs, audit, previews.
"""

from __future__ import annotations

from dataclasses import dataclass

from onward.domain import events, machine
from onward.domain.plans import Stage
from onward.domain.runs import (
    Attempt,
    Lane,
    LaneKey,
    Run,
    RunState,
    StepStatus,
    TargetStatus,
)
from onward.service.commands import preview_token_of
from onward.service.engine import Engine
from onward.service.ports import AuditEntry, LogEntry, RunFilter, RunPage


@dataclass(frozen=True, slots=True, kw_only=True)
class StepView:
    """One step of one target, as shown."""

    index: int
    name: str
    action: str
    critical: bool
    status: StepStatus
    attempts: tuple[Attempt, ...]
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetView:
    """One target of one stage, as shown."""

    index: int
    name: str
    status: TargetStatus
    halted: bool
    steps: tuple[StepView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class StageView:
    """One stage (group, or plan-level before/after), as shown."""

    index: int
    name: str
    kind: str
    parallel: int
    targets: tuple[TargetView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """A step of a target, by index and by name."""

    lane: LaneKey
    step: int
    stage_name: str
    target_name: str
    step_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HaltView:
    """A halt point with its names."""

    place: Place
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunDetail:
    """A run with its whole stage/target/step/attempt tree."""

    run: Run
    stages: tuple[StageView, ...]
    halts: tuple[HaltView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    """What a continue or retry would do, and the token to apply it with."""

    token: str
    starts: tuple[Place, ...]
    skips: tuple[Place, ...]


class Queries:
    """Answers questions about runs; decides nothing and writes nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store

    async def run_detail(self, run_id: str) -> RunDetail:
        """Return a run with its whole tree, as stored now."""
        state = await self.engine.stored_state(run_id)
        lanes = dict(state.lanes)
        by_step: dict[tuple[LaneKey, int], list[Attempt]] = {}
        for attempt in await self.store.list_attempts(run_id):
            by_step.setdefault((attempt.lane, attempt.step), []).append(attempt)
        stages = tuple(
            _stage_view(stage, state, lanes, by_step) for stage in state.stages
        )
        halts = tuple(
            HaltView(place=place_of(state, point.lane, point.step), error=point.error)
            for point in state.run.halt_points
        )
        return RunDetail(run=state.run, stages=stages, halts=halts)

    async def list_runs(self, run_filter: RunFilter) -> RunPage:
        """Return one page of runs, newest first."""
        return await self.store.list_runs(run_filter)

    async def logs(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        attempt_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogEntry]:
        """Return a run's log lines after ``after_seq``."""
        await self.store.get_run(run_id)
        return await self.store.read_logs(
            run_id, after_seq=after_seq, attempt_id=attempt_id, limit=limit
        )

    async def audit(self, run_id: str) -> list[AuditEntry]:
        """Return a run's audit trail."""
        await self.store.get_run(run_id)
        return await self.store.list_audit(run_id)

    async def preview(self, run_id: str, event: events.Event) -> Preview:
        """Return what an operator command would start and skip, without doing it."""
        self.engine.forget(run_id)
        state = await self.engine.state(run_id)
        decision = machine.decide(state, event, now=self.engine.clock.now())
        starts = tuple(
            place_of(state, a.lane, a.step)
            for a in decision.attempts.values()
            if a.attempt_id not in state.attempts and a.status.is_in_flight
        )
        skips = tuple(
            place_of(state, key, index)
            for key, lane in sorted(decision.lanes.items())
            for index, step in enumerate(lane.steps)
            if step.status is StepStatus.SKIPPED
            and state.lane(key).steps[index].status is not StepStatus.SKIPPED
        )
        return Preview(token=preview_token_of(state), starts=starts, skips=skips)


def place_of(state: RunState, key: LaneKey, step: int) -> Place:
    """Return the names of a step of a target."""
    stage = state.stages[key.stage]
    return Place(
        lane=key,
        step=step,
        stage_name=stage.name,
        target_name=stage.targets[key.target].name,
        step_name=stage.steps[step].name,
    )


def _stage_view(
    stage: Stage,
    state: RunState,
    lanes: dict[LaneKey, Lane],
    by_step: dict[tuple[LaneKey, int], list[Attempt]],
) -> StageView:
    targets = []
    for index, target in enumerate(stage.targets):
        key = LaneKey(stage.index, index)
        lane = lanes.get(key) or state.lane(key)
        steps = tuple(
            StepView(
                index=i,
                name=step.name,
                action=step.action,
                critical=step.critical,
                status=lane.steps[i].status,
                attempts=tuple(by_step.get((key, i), ())),
                error=lane.steps[i].error,
            )
            for i, step in enumerate(stage.steps)
        )
        targets.append(
            TargetView(
                index=index,
                name=target.name,
                status=lane.status,
                halted=lane.halted,
                steps=steps,
            )
        )
    return StageView(
        index=stage.index,
        name=stage.name,
        kind=stage.kind.value,
        parallel=stage.parallel,
        targets=tuple(targets),
    )
