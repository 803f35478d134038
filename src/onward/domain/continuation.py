"""
Continue options on a halted run (retry or proceed: step, target, group); resume-at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from onward import errors
from onward.domain.drafts import RunDraft
from onward.domain.events import ContinueOption, ContinueRequested, ResumeRequested
from onward.domain.runs import (
    HaltPoint,
    LaneKey,
    RunStatus,
    StepState,
    StepStatus,
    TargetStatus,
)


def on_continue(draft: RunDraft, event: ContinueRequested) -> None:
    """Apply a continue option to the chosen halt points of a halted run."""
    draft.require_status("continue", RunStatus.HALTED)
    points = _chosen_points(draft, event)
    if not event.option.is_step_option:
        _refuse_plan_level(draft, event.option, points)
    if event.input_overrides and event.option is not ContinueOption.RETRY_STEP:
        msg = "edited step inputs apply to retry-step only"
        raise errors.InvalidTransitionError(
            subject=f"run {draft.run.run_id}",
            state=draft.run.status.value,
            command=f"continue with {event.option}",
            reason=msg,
        )
    chosen = set(points)
    remaining = tuple(p for p in draft.run.halt_points if p not in chosen)
    draft.run = replace(
        draft.run, status=RunStatus.RUNNING, holding=False, halt_points=remaining
    )
    if event.option in (ContinueOption.RETRY_GROUP, ContinueOption.PROCEED_GROUP):
        for stage in sorted({p.lane.stage for p in points}):
            _GROUP_OPTIONS[event.option](draft, stage)
        return
    for point in points:
        if event.input_overrides:
            draft.overrides[(point.lane, point.step)] = event.input_overrides
        _LANE_OPTIONS[event.option](draft, point)


def on_resume(draft: RunDraft, event: ResumeRequested) -> None:
    """Resume a halted target at a chosen step of its stage."""
    draft.require_status("resume", RunStatus.HALTED)
    points = [p for p in draft.run.halt_points if p.lane == event.lane]
    steps = (
        draft.stage(event.lane.stage).steps
        if event.lane.stage < len(draft.state.stages)
        else ()
    )
    if not points or not 0 <= event.step < len(steps):
        raise errors.InvalidTransitionError(
            subject=f"run {draft.run.run_id}",
            state=draft.run.status.value,
            command="resume",
            reason="the target is not halted or the step does not exist",
        )
    draft.run = replace(
        draft.run,
        status=RunStatus.RUNNING,
        holding=False,
        halt_points=tuple(p for p in draft.run.halt_points if p.lane != event.lane),
    )
    lane = draft.lane(event.lane)
    kept = lane.steps[: event.step]
    reset = tuple(StepState(attempts=s.attempts) for s in lane.steps[event.step :])
    draft.put_lane(
        replace(
            lane,
            steps=kept + reset,
            cursor=event.step,
            status=TargetStatus.RUNNING,
            halted=False,
        )
    )
    draft.continue_lane(event.lane)


def _chosen_points(draft: RunDraft, event: ContinueRequested) -> list[HaltPoint]:
    held = draft.run.halt_points
    if event.points is None:
        return list(held)
    if not event.points:
        msg = "name at least one halt point, or leave points out to mean all"
        raise errors.InvalidDefinitionError(
            [errors.Problem("points", msg)], subject="continue request"
        )
    by_place = {(p.lane, p.step): p for p in held}
    missing = [place for place in event.points if place not in by_place]
    if missing:
        where = ", ".join(
            f"stage {k.stage} target {k.target} step {s}" for k, s in missing
        )
        raise errors.InvalidTransitionError(
            subject=f"run {draft.run.run_id}",
            state=draft.run.status.value,
            command="continue",
            reason=f"no halt point at {where}",
        )
    return [by_place[place] for place in event.points]


def _refuse_plan_level(
    draft: RunDraft, option: ContinueOption, points: list[HaltPoint]
) -> None:
    for point in points:
        stage = draft.stage(point.lane.stage)
        if stage.is_plan_level:
            reason = (
                f"the halt is in the plan-level {stage.name} steps, which accept "
                "only retry-step or proceed-step"
            )
            raise errors.InvalidTransitionError(
                subject=f"run {draft.run.run_id}",
                state=draft.run.status.value,
                command=f"continue with {option}",
                reason=reason,
            )


def _retry_step(draft: RunDraft, point: HaltPoint) -> None:
    lane = draft.lane(point.lane)
    draft.put_lane(
        replace(lane, status=TargetStatus.RUNNING, halted=False, cursor=point.step)
    )
    draft.put_step(
        point.lane, point.step, status=StepStatus.PENDING, tries=0, error=None
    )
    draft.continue_lane(point.lane)


def _proceed_step(draft: RunDraft, point: HaltPoint) -> None:
    lane = draft.lane(point.lane)
    draft.put_lane(replace(lane, status=TargetStatus.RUNNING, halted=False))
    draft.run = replace(draft.run, warnings=draft.run.warnings + 1)
    draft.advance(point.lane, point.step)


def _retry_target(draft: RunDraft, point: HaltPoint) -> None:
    lane = draft.lane(point.lane)
    steps = tuple(StepState(attempts=s.attempts) for s in lane.steps)
    draft.put_lane(
        replace(lane, steps=steps, cursor=0, status=TargetStatus.RUNNING, halted=False)
    )
    draft.continue_lane(point.lane)


def _proceed_target(draft: RunDraft, point: HaltPoint) -> None:
    lane = draft.lane(point.lane)
    steps = tuple(_skip_unfinished(s) for s in lane.steps)
    draft.put_lane(
        replace(
            lane,
            steps=steps,
            status=TargetStatus.FAILED,
            halted=False,
            cursor=len(steps),
        )
    )
    draft.add_active(point.lane.stage, -1)


def _retry_group(draft: RunDraft, stage: int) -> None:
    _drop_stage_work(draft, stage)
    for target in range(draft.progress[stage].next_target):
        lane = draft.lane(LaneKey(stage, target))
        steps = tuple(StepState(attempts=s.attempts) for s in lane.steps)
        draft.put_lane(
            replace(
                lane, steps=steps, cursor=0, status=TargetStatus.PENDING, halted=False
            )
        )
    draft.set_progress(stage, next_target=0, active=0)


def _proceed_group(draft: RunDraft, stage: int) -> None:
    _drop_stage_work(draft, stage)
    for target in range(len(draft.stage(stage).targets)):
        lane = draft.lane(LaneKey(stage, target))
        if lane.status in (TargetStatus.SUCCEEDED, TargetStatus.SKIPPED) or (
            lane.status is TargetStatus.FAILED and not lane.halted
        ):
            continue
        status = TargetStatus.FAILED if lane.halted else TargetStatus.SKIPPED
        steps = tuple(_skip_unfinished(s) for s in lane.steps)
        draft.put_lane(
            replace(lane, steps=steps, status=status, halted=False, cursor=len(steps))
        )
    draft.set_progress(stage, next_target=len(draft.stage(stage).targets), active=0)


def _drop_stage_work(draft: RunDraft, stage: int) -> None:
    """Forget the stage's held halt points, waiting lanes and approvals."""
    draft.withdraw_queued(stage=stage, approvals=True)
    draft.ready[:] = [key for key in draft.ready if key.stage != stage]
    draft.run = replace(
        draft.run,
        halt_points=tuple(p for p in draft.run.halt_points if p.lane.stage != stage),
    )


def _skip_unfinished(step: StepState) -> StepState:
    if step.status in (StepStatus.PENDING, StepStatus.RUNNING):
        return replace(step, status=StepStatus.SKIPPED)
    return step


_LANE_OPTIONS: Final[dict[ContinueOption, Callable[[RunDraft, HaltPoint], None]]] = {
    ContinueOption.RETRY_STEP: _retry_step,
    ContinueOption.PROCEED_STEP: _proceed_step,
    ContinueOption.RETRY_TARGET: _retry_target,
    ContinueOption.PROCEED_TARGET: _proceed_target,
}
_GROUP_OPTIONS: Final[dict[ContinueOption, Callable[[RunDraft, int], None]]] = {
    ContinueOption.RETRY_GROUP: _retry_group,
    ContinueOption.PROCEED_GROUP: _proceed_group,
}
