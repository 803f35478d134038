"""
RunDraft: a copy-on-write view of a RunState that one decision edits.

The draft reads through to the stored state and keeps only what it changed,
so a decision costs what it touches, not the size of the run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from onward import errors
from onward.domain import effects
from onward.domain.plans import Stage, Step
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    HaltPoint,
    Lane,
    LaneKey,
    Run,
    RunState,
    RunStatus,
    StageProgress,
    StepState,
    StepStatus,
    TargetStatus,
)


class RunDraft:
    """The changes one decision makes to a run, with the operations that make them."""

    def __init__(self, state: RunState, *, now: datetime, new_attempt_id: Any) -> None:
        self.state = state
        self.now = now
        self.run: Run = state.run
        self.progress: list[StageProgress] = list(state.run.stages)
        self.ready: list[LaneKey] = list(state.run.ready)
        self.lanes: dict[LaneKey, Lane] = {}
        self.attempts: dict[str, Attempt] = {}
        self.effects: list[effects.Effect] = []
        #: step inputs edited by an operator, for the next attempt of (lane, step)
        self.overrides: dict[tuple[LaneKey, int], Mapping[str, Any]] = {}
        self._new_attempt_id = new_attempt_id

    # -- reading -------------------------------------------------------------

    def lane(self, key: LaneKey) -> Lane:
        """Return the lane as this draft sees it."""
        changed = self.lanes.get(key)
        return changed if changed is not None else self.state.lane(key)

    def stage(self, index: int) -> Stage:
        """Return the stage definition at ``index``."""
        return self.state.stages[index]

    def step_of(self, key: LaneKey, index: int) -> Step:
        """Return the step definition at ``index`` of the lane's stage."""
        return self.state.stages[key.stage].steps[index]

    def attempt(self, attempt_id: str) -> Attempt | None:
        """Return an attempt in flight or changed by this draft."""
        return self.attempts.get(attempt_id) or self.state.attempts.get(attempt_id)

    def in_flight(self) -> Iterator[Attempt]:
        """Yield the attempts still queued or running after this draft."""
        for attempt_id, attempt in self.state.attempts.items():
            if attempt_id not in self.attempts and attempt.status.is_in_flight:
                yield attempt
        for attempt in self.attempts.values():
            if attempt.status.is_in_flight:
                yield attempt

    def may_start_work(self) -> bool:
        """Tell whether new attempts may start now."""
        run = self.run
        return (
            run.status in (RunStatus.RUNNING, RunStatus.WAITING)
            and not run.holding
            and not run.failing
            and run.cancel_mode is None
        )

    def stage_done(self, index: int) -> bool:
        """Tell whether every target of the stage has finished and none is halted."""
        progress = self.progress[index]
        return progress.active == 0 and progress.next_target >= len(
            self.stage(index).targets
        )

    def active_stages(self) -> list[int]:
        """Return the stages whose targets may run now."""
        stages = self.state.stages
        pending = [s.index for s in stages if not self.stage_done(s.index)]
        if not pending:
            return []
        if not self.state.plan.parallel_groups:
            return pending[:1]
        first = stages[pending[0]]
        if first.is_plan_level:
            return [first.index]
        return [index for index in pending if not stages[index].is_plan_level]

    # -- writing -------------------------------------------------------------

    def put_lane(self, lane: Lane) -> None:
        """Record a lane's new state."""
        self.lanes[lane.key] = lane

    def put_step(self, key: LaneKey, index: int, **changes: Any) -> Lane:
        """Change one step of a lane; return the changed lane."""
        lane = self.lane(key)
        steps = list(lane.steps)
        steps[index] = replace(steps[index], **changes)
        lane = replace(lane, steps=tuple(steps))
        self.put_lane(lane)
        return lane

    def put_attempt(self, attempt: Attempt) -> None:
        """Record an attempt's new state."""
        self.attempts[attempt.attempt_id] = attempt

    def set_progress(self, index: int, **changes: int) -> None:
        """Change a stage's progress counters."""
        self.progress[index] = replace(self.progress[index], **changes)

    def add_active(self, index: int, delta: int) -> None:
        """Add ``delta`` to the number of lanes holding a slot of the stage."""
        self.set_progress(index, active=self.progress[index].active + delta)

    def add_halt_point(self, key: LaneKey, step: int, error: str) -> None:
        """Record a critical failure for the operator."""
        point = HaltPoint(lane=key, step=step, error=error)
        self.run = replace(self.run, halt_points=(*self.run.halt_points, point))

    def finish_attempt(
        self,
        attempt: Attempt,
        status: AttemptStatus,
        *,
        error: str | None = None,
        output: Mapping[str, Any] | None = None,
    ) -> None:
        """Close an attempt with its final status."""
        self.put_attempt(
            replace(
                attempt,
                status=status,
                finished_at=self.now,
                error=error,
                output=dict(output or {}),
            )
        )

    # -- scheduling ------------------------------------------------------------

    def start_step(
        self, key: LaneKey, index: int, *, not_before: datetime | None = None
    ) -> None:
        """Create the next attempt of a step (queued, or waiting for approval)."""
        step = self.step_of(key, index)
        lane = self.lane(key)
        state = lane.steps[index]
        stage = self.stage(key.stage)
        target = stage.targets[key.target]
        attempt = Attempt(
            attempt_id=self._new_attempt_id(),
            run_id=self.run.run_id,
            lane=key,
            step=index,
            number=state.attempts + 1,
            run_attempt=self.run.run_attempt,
            status=AttemptStatus.RUNNING if step.is_approval else AttemptStatus.QUEUED,
            queued_at=self.now,
            not_before=not_before,
            started_at=self.now if step.is_approval else None,
            approval=step.is_approval,
            deadline_at=self.now + step.timeout
            if step.is_approval and step.timeout
            else None,
            queue=step.queue or target.queue or stage.queue or self.state.plan.queue,
            input_overrides=dict(self.overrides.pop((key, index), {})),
        )
        self.put_attempt(attempt)
        self.put_lane(replace(lane, cursor=index, status=TargetStatus.RUNNING))
        self.put_step(
            key,
            index,
            status=StepStatus.RUNNING,
            tries=state.tries + 1,
            attempts=state.attempts + 1,
            error=None,
        )
        if not step.is_approval:
            self.effects.append(
                effects.DispatchAttempt(
                    attempt_id=attempt.attempt_id,
                    run_id=attempt.run_id,
                    queue=attempt.queue,
                    not_before=not_before,
                )
            )

    def advance(self, key: LaneKey, after: int) -> None:
        """Move a lane past step ``after``: start its next step, or finish it."""
        lane = self.lane(key)
        following = after + 1
        if following >= len(lane.steps):
            self.put_lane(
                replace(lane, cursor=following, status=TargetStatus.SUCCEEDED)
            )
            self.add_active(key.stage, -1)
            return
        self.put_lane(replace(lane, cursor=following, status=TargetStatus.RUNNING))
        self.continue_lane(key)

    def continue_lane(self, key: LaneKey) -> None:
        """Start the lane's current step now, or hold it until work may start."""
        if self.may_start_work():
            self.start_step(key, self.lane(key).cursor)
        elif key not in self.ready:
            self.ready.append(key)

    def start_lane(self, key: LaneKey) -> None:
        """Take a lane from pending to its first step (keeping attempt counts)."""
        lane = self.lane(key)
        steps = tuple(StepState(attempts=step.attempts) for step in lane.steps)
        self.put_lane(
            replace(
                lane,
                steps=steps,
                cursor=0,
                status=TargetStatus.RUNNING,
                halted=False,
            )
        )
        self.add_active(key.stage, 1)
        self.start_step(key, 0)

    def fill(self) -> None:
        """Start every step and lane that may start now, stage after stage."""
        if not self.may_start_work():
            return
        ready, self.ready = self.ready, []
        for key in ready:
            self.start_step(key, self.lane(key).cursor)
        started = True
        while started:
            started = False
            for index in self.active_stages():
                started = self._fill_stage(index) or started

    def _fill_stage(self, index: int) -> bool:
        stage = self.stage(index)
        started = False
        while self.progress[index].active < stage.parallel and self.progress[
            index
        ].next_target < len(stage.targets):
            target = self.progress[index].next_target
            self.set_progress(index, next_target=target + 1)
            self.start_lane(LaneKey(index, target))
            started = True
        return started

    def withdraw_queued(
        self, *, stage: int | None = None, approvals: bool = False
    ) -> None:
        """Cancel attempts not yet started (and approvals, if asked); steps wait."""
        for attempt in list(self.in_flight()):
            waiting = attempt.status is AttemptStatus.QUEUED or (
                approvals and attempt.approval
            )
            if not waiting or (stage is not None and attempt.lane.stage != stage):
                continue
            self.finish_attempt(attempt, AttemptStatus.CANCELLED, error="withdrawn")
            state = self.lane(attempt.lane).steps[attempt.step]
            self.put_step(
                attempt.lane,
                attempt.step,
                status=StepStatus.PENDING,
                tries=max(state.tries - 1, 0),
            )
            if attempt.lane not in self.ready:
                self.ready.append(attempt.lane)

    def require_status(self, command: str, *allowed: RunStatus) -> None:
        """Refuse a command the run's status does not allow."""
        if self.run.status not in allowed:
            names = ", ".join(status.value for status in allowed)
            raise errors.InvalidTransitionError(
                subject=f"run {self.run.run_id}",
                state=self.run.status.value,
                command=command,
                reason=f"only a run that is {names} can",
            )

    def decision(self) -> effects.Decision:
        """Return the decision this draft amounts to."""
        run = replace(
            self.run,
            stages=tuple(self.progress),
            ready=tuple(self.ready),
            version=self.state.run.version + 1,
            updated_at=self.now,
        )
        return effects.Decision(
            run=run,
            lanes=self.lanes,
            attempts=self.attempts,
            effects=tuple(self.effects),
        )
