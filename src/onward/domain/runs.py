"""
Run state records: Run, Lane (one target in one stage), Attempt, HaltPoint.

A run's progress is kept compact so that deciding the next move never reads
its history: the run record, the lanes that have started, and the attempts in
flight. Finished attempts are history, kept by the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from onward.domain.plans import DEFAULT_PROCEDURE, Plan, Stage


class RunStatus(StrEnum):
    """Where a run is in its life."""

    PENDING = "pending"
    RUNNING = "running"
    #: an approval step waits for a person
    WAITING = "waiting"
    #: a critical step failed; waits for an operator's decision
    HALTED = "halted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def is_finished(self) -> bool:
        """Tell whether the run has ended (a failed run may still be retried)."""
        return self in _FINISHED


_FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


class TargetStatus(StrEnum):
    """Where one target is in one stage."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class StepStatus(StrEnum):
    """Where one step of one target is."""

    PENDING = "pending"
    #: an attempt is queued, running or waiting for approval
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class AttemptStatus(StrEnum):
    """Where one try of one step is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"

    @property
    def is_in_flight(self) -> bool:
        """Tell whether the attempt has not finished yet."""
        return self in (AttemptStatus.QUEUED, AttemptStatus.RUNNING)


class CancelMode(StrEnum):
    """How a cancel treats attempts already running."""

    #: start nothing new, let running attempts finish
    GRACEFUL = "graceful"
    #: kill running attempts
    FORCE = "force"


class Trigger(StrEnum):
    """What started a run."""

    MANUAL = "manual"
    TIMER = "timer"
    EVENT = "event"
    CHAIN = "chain"


@dataclass(frozen=True, slots=True, order=True)
class LaneKey:
    """Names one target in one stage."""

    stage: int
    target: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StepState:
    """What has happened to one step of one lane."""

    status: StepStatus = StepStatus.PENDING
    #: tries in the current series (reset when an operator retries the step)
    tries: int = 0
    #: all attempts ever made of this step in this run
    attempts: int = 0
    #: the last failure's message
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lane:
    """One target's progress through the steps of one stage."""

    key: LaneKey
    status: TargetStatus = TargetStatus.PENDING
    #: index of the step the lane is at (== len(steps) when done)
    cursor: int = 0
    steps: tuple[StepState, ...] = ()
    #: a critical failure of this lane waits for an operator
    halted: bool = False

    @classmethod
    def fresh(cls, key: LaneKey, step_count: int) -> Lane:
        """Return a lane that has not started."""
        return cls(key=key, steps=tuple(StepState() for _ in range(step_count)))

    def step(self, index: int) -> StepState:
        """Return the state of the step at ``index``."""
        return self.steps[index]


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One try of one step on one target."""

    attempt_id: str
    run_id: str
    lane: LaneKey
    step: int
    #: 1-based count of this step's attempts in the run
    number: int
    #: the run's own attempt number when this try was made (1 + retries of the run)
    run_attempt: int
    status: AttemptStatus
    queued_at: datetime
    #: not to be started before this time (automatic retry backoff)
    not_before: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker_id: str | None = None
    #: the attempt waits for a person rather than a worker
    approval: bool = False
    #: when a waiting approval expires
    deadline_at: datetime | None = None
    #: the worker queue it goes to (None: default)
    queue: str | None = None
    error: str | None = None
    output: Mapping[str, Any] = field(default_factory=dict)
    #: step inputs edited by an operator for this try, if any
    input_overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class HaltPoint:
    """A critical failure that waits for an operator (or made the run fail)."""

    lane: LaneKey
    step: int
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StageProgress:
    """How far one stage has come, kept so scheduling never scans all lanes."""

    #: lanes with index below this have started (or been skipped)
    next_target: int = 0
    #: lanes running or halted: they hold one of the stage's parallel slots
    active: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One execution of one procedure of one plan version."""

    run_id: str
    plan_id: str
    plan_name: str
    plan_version: int
    procedure: str = DEFAULT_PROCEDURE
    workspace: str = "default"
    status: RunStatus = RunStatus.PENDING
    params: Mapping[str, Any] = field(default_factory=dict)
    #: compare-and-set version: every write increments it
    version: int = 0
    #: 1, then +1 on each retry of the failed run
    run_attempt: int = 1
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: when the run's record was last written (None until its first decision)
    updated_at: datetime | None = None
    stages: tuple[StageProgress, ...] = ()
    halt_points: tuple[HaltPoint, ...] = ()
    #: a critical failure stopped new work until an operator continues
    holding: bool = False
    #: a critical failure with ``on_critical_failure: fail`` is ending the run
    failing: bool = False
    cancel_mode: CancelMode | None = None
    #: lanes that wait to start their next step once work may start again
    ready: tuple[LaneKey, ...] = ()
    #: failed non-critical (or ignored) steps
    warnings: int = 0
    trigger: Trigger = Trigger.MANUAL
    #: who or what started it (user, timer name, event id, parent run)
    triggered_by: str = ""
    #: start the plan's chain when this run succeeds
    chain: bool = False
    #: plans still to start, in order, once this run succeeds (its chain's rest)
    chain_rest: tuple[str, ...] = ()
    #: a procedure of the same plan to start once this run succeeds (protect)
    then_procedure: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunState:
    """Everything the state machine needs to decide a run's next move."""

    run: Run
    plan: Plan
    stages: tuple[Stage, ...]
    #: lanes that have started; a missing lane has not started (is pending)
    lanes: Mapping[LaneKey, Lane]
    #: attempts queued or running
    attempts: Mapping[str, Attempt]

    def lane(self, key: LaneKey) -> Lane:
        """Return the lane, a fresh one if it has not started."""
        lane = self.lanes.get(key)
        if lane is None:
            return Lane.fresh(key, len(self.stages[key.stage].steps))
        return lane
