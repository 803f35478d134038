"""
Request and response models of the native API: run commands, run trees, previews.

Operations, audit trails, logs and events are in ``operation_schemas``.
"""

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field

from onward.api.native.schemas import NAME_LENGTH, In
from onward.domain.events import ContinueOption
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    CancelMode,
    HaltPoint,
    Run,
    RunStatus,
    StepStatus,
    TargetStatus,
    Trigger,
)
from onward.service.places import StepRef
from onward.service.ports import RunPage
from onward.service.queries import Place, Preview, RunDetail, StageView
from onward.service.workspace_runs import PreviewCommand

# -- requests ----------------------------------------------------------------------


class StepRefIn(In):
    """A step of a target: exactly one of group and stage, then target and step.

    Each is a name or a 0-based index; ``stage`` is ``before``, ``after``, a
    group's name or an index; ``target`` may be left out for before/after.
    """

    group: str | None = Field(None, max_length=NAME_LENGTH)
    stage: str | int | None = None
    target: str | int | None = None
    step: str | int

    def ref(self) -> StepRef:
        """Return the service's reference."""
        return StepRef(
            group=self.group, stage=self.stage, target=self.target, step=self.step
        )


def refs(points: list[StepRefIn] | None) -> tuple[StepRef, ...] | None:
    """Return the service's references of a list of points (None: all)."""
    return None if points is None else tuple(p.ref() for p in points)


class StartRunIn(In):
    """A run to start."""

    plan: str = Field(min_length=1, max_length=NAME_LENGTH)
    version: int | None = Field(None, ge=1, description="latest when left out")
    procedure: str = Field("run", min_length=1, max_length=NAME_LENGTH)
    params: dict[str, Any] = Field(default_factory=dict)
    chain: bool = Field(False, description="start the plan's chain on success")
    restore_point: datetime | None = Field(
        None, description="failover only: the restore point; the latest when left out"
    )
    protect_after: bool = Field(
        False, description="failover only: run the plan's protect procedure after it"
    )


class ContinueIn(In):
    """How a halted run goes on, at every halt point or the named ones."""

    option: ContinueOption
    points: list[StepRefIn] | None = Field(
        None, min_length=1, max_length=1000, description="halt points; all if left out"
    )
    input_overrides: dict[str, Any] = Field(
        default_factory=dict, description="step inputs for retried steps"
    )
    preview_token: str | None = Field(
        None, max_length=200, description="refuse (409) if the run changed since"
    )


class RetryIn(In):
    """A retry of a failed run."""

    preview_token: str | None = Field(None, max_length=200)


class CancelIn(In):
    """How to cancel: gracefully (default) or killing running attempts."""

    force: bool = False


class DecisionIn(In):
    """An approval decision: the only waiting approval, or the named attempt."""

    attempt_id: str | None = Field(None, max_length=NAME_LENGTH)
    comment: str = Field("", max_length=4000)


class PreviewIn(In):
    """A command to preview: continue (with its option) or retry."""

    command: PreviewCommand
    option: ContinueOption | None = None
    points: list[StepRefIn] | None = Field(
        None, min_length=1, max_length=1000, description="halt points; all if left out"
    )
    input_overrides: dict[str, Any] = Field(default_factory=dict)


# -- runs --------------------------------------------------------------------------


class HaltIndexOut(BaseModel):
    """A halt point by indexes (names are in the run's tree)."""

    stage_index: int
    target_index: int
    step_index: int
    error: str

    @classmethod
    def of(cls, point: HaltPoint) -> Self:
        """Render a halt point."""
        return cls(
            stage_index=point.lane.stage,
            target_index=point.lane.target,
            step_index=point.step,
            error=point.error,
        )


class RunOut(BaseModel):
    """A run record."""

    run_id: str
    workspace: str
    plan: str
    plan_version: int
    procedure: str
    status: RunStatus
    params: dict[str, Any]
    version: int
    run_attempt: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None
    warnings: int
    trigger: Trigger
    triggered_by: str
    chain: bool
    cancel_mode: CancelMode | None
    halt_points: list[HaltIndexOut]

    @classmethod
    def of(cls, run: Run) -> Self:
        """Render a run record."""
        return cls(
            run_id=run.run_id,
            workspace=run.workspace,
            plan=run.plan_name,
            plan_version=run.plan_version,
            procedure=run.procedure,
            status=run.status,
            params=dict(run.params),
            version=run.version,
            run_attempt=run.run_attempt,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            updated_at=run.updated_at,
            warnings=run.warnings,
            trigger=run.trigger,
            triggered_by=run.triggered_by,
            chain=run.chain,
            cancel_mode=run.cancel_mode,
            halt_points=[HaltIndexOut.of(p) for p in run.halt_points],
        )


class RunPageOut(BaseModel):
    """One page of runs, newest first, and the cursor of the next."""

    runs: list[RunOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: RunPage) -> Self:
        """Render a page."""
        return cls(runs=[RunOut.of(r) for r in page.runs], next_cursor=page.next_cursor)


class AttemptOut(BaseModel):
    """One try of one step on one target."""

    attempt_id: str
    number: int
    run_attempt: int
    status: AttemptStatus
    queued_at: datetime
    not_before: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    worker_id: str | None
    approval: bool
    deadline_at: datetime | None
    queue: str | None
    error: str | None
    output: dict[str, Any]
    input_overrides: dict[str, Any]

    @classmethod
    def of(cls, a: Attempt) -> Self:
        """Render an attempt."""
        return cls(
            attempt_id=a.attempt_id,
            number=a.number,
            run_attempt=a.run_attempt,
            status=a.status,
            queued_at=a.queued_at,
            not_before=a.not_before,
            started_at=a.started_at,
            finished_at=a.finished_at,
            worker_id=a.worker_id,
            approval=a.approval,
            deadline_at=a.deadline_at,
            queue=a.queue,
            error=a.error,
            output=dict(a.output),
            input_overrides=dict(a.input_overrides),
        )


class StepOut(BaseModel):
    """One step of one target, with its attempts."""

    index: int
    name: str
    action: str
    critical: bool
    status: StepStatus
    error: str | None
    attempts: list[AttemptOut]


class TargetOut(BaseModel):
    """One target of one stage, with its steps."""

    index: int
    name: str
    status: TargetStatus
    halted: bool
    steps: list[StepOut]


class StageOut(BaseModel):
    """One stage: a group, or the plan-level before/after steps."""

    index: int
    name: str
    kind: str
    parallel: int
    targets: list[TargetOut]

    @classmethod
    def of(cls, stage: StageView) -> Self:
        """Render a stage with its targets, steps and attempts."""
        targets = [
            TargetOut(
                index=t.index,
                name=t.name,
                status=t.status,
                halted=t.halted,
                steps=[
                    StepOut(
                        index=s.index,
                        name=s.name,
                        action=s.action,
                        critical=s.critical,
                        status=s.status,
                        error=s.error,
                        attempts=[AttemptOut.of(a) for a in s.attempts],
                    )
                    for s in t.steps
                ],
            )
            for t in stage.targets
        ]
        return cls(
            index=stage.index,
            name=stage.name,
            kind=stage.kind,
            parallel=stage.parallel,
            targets=targets,
        )


class PlaceOut(BaseModel):
    """A step of a target, by names and indexes."""

    stage: str
    target: str
    step: str
    stage_index: int
    target_index: int
    step_index: int

    @classmethod
    def of(cls, place: Place) -> Self:
        """Render a place."""
        return cls(
            stage=place.stage_name,
            target=place.target_name,
            step=place.step_name,
            stage_index=place.lane.stage,
            target_index=place.lane.target,
            step_index=place.step,
        )


class HaltOut(PlaceOut):
    """A halt point, by names and indexes, with its error."""

    error: str


class RunDetailOut(RunOut):
    """A run with its whole stage/target/step/attempt tree and named halt points."""

    stages: list[StageOut]
    halts: list[HaltOut]

    @classmethod
    def detail(cls, detail: RunDetail) -> Self:
        """Render a run's tree."""
        return cls(
            **RunOut.of(detail.run).model_dump(),
            stages=[StageOut.of(s) for s in detail.stages],
            halts=[
                HaltOut(**PlaceOut.of(h.place).model_dump(), error=h.error)
                for h in detail.halts
            ],
        )


class PreviewOut(BaseModel):
    """What a command would start and skip, and the token to apply it with."""

    token: str
    starts: list[PlaceOut]
    skips: list[PlaceOut]

    @classmethod
    def of(cls, preview: Preview) -> Self:
        """Render a preview."""
        return cls(
            token=preview.token,
            starts=[PlaceOut.of(p) for p in preview.starts],
            skips=[PlaceOut.of(p) for p in preview.skips],
        )
