"""
Plan definitions: Plan, Procedure, Group, Target, Step and their policies.

These records are what a validated plan document becomes (see
``onward.domain.plan_schema``); the engine reads them and never changes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Final

#: the procedure every plan kind may have, and the one started by default
DEFAULT_PROCEDURE: Final = "run"
#: the procedures that only ``replica`` and ``storage`` plans may have
RECOVERY_PROCEDURES: Final = ("failover", "failback", "undo_failover", "protect")
#: the name of the single pseudo-target of plan-level before/after stages
PLAN_TARGET_NAME: Final = "plan"


class PlanKind(StrEnum):
    """What a plan is for; decides which procedures it may have."""

    GENERIC = "generic"
    REPLICA = "replica"
    STORAGE = "storage"
    PLAYBOOK = "playbook"


class InterruptPolicy(StrEnum):
    """What to do with an attempt whose worker died mid-step."""

    #: halt the run with this step as a halt point (the default)
    HALT = "halt"
    #: start the step again (for idempotent steps)
    RETRY = "retry"


class CriticalFailurePolicy(StrEnum):
    """What a failed critical step does to its run."""

    #: halt and wait for an operator's decision (the default)
    HALT = "halt"
    #: end the run ``failed``; it may be retried later
    FAIL = "fail"


class ParamType(StrEnum):
    """Types of run parameters."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATETIME = "datetime"


class StageKind(StrEnum):
    """Where a stage comes from in its procedure."""

    BEFORE = "before"
    GROUP = "group"
    AFTER = "after"


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How often and how soon a failed step is tried again automatically."""

    #: total tries of the step, the first included (1 = no automatic retry)
    maximum_attempts: int = 1
    #: delay before the second try
    initial_interval: timedelta = timedelta(0)
    #: factor applied to the delay after each further try
    backoff_coefficient: float = 2.0
    #: upper bound of the delay, if any
    maximum_interval: timedelta | None = None

    def delay_after(self, tries: int) -> timedelta:
        """Return the delay before the next try, once ``tries`` tries failed."""
        delay = self.initial_interval * (self.backoff_coefficient ** max(tries - 1, 0))
        if self.maximum_interval is not None:
            delay = min(delay, self.maximum_interval)
        return delay


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One action applied to each target of a stage."""

    #: unique within its group (or within before/after)
    name: str
    #: the action kind: shell, http, python, sleep, approval, noop or a plugin's
    action: str
    #: the action's inputs (the plan's ``with``); strings may be templates
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: whether a failure (retries spent) halts the run
    critical: bool = True
    #: how long one try may take, if bounded
    timeout: timedelta | None = None
    #: automatic retries
    retry: RetryPolicy = RetryPolicy()
    #: what a crash mid-step leads to
    on_interrupt: InterruptPolicy = InterruptPolicy.HALT
    #: the worker queue that runs this step (None: the default queue)
    queue: str | None = None

    @property
    def is_approval(self) -> bool:
        """Tell whether this step waits for a person instead of running an action."""
        return self.action == "approval"


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One thing the steps act on."""

    name: str
    vars: Mapping[str, Any] = field(default_factory=dict)
    #: the worker queue for this target's steps, if not the group's
    queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """An ordered set of targets taken through the same steps."""

    name: str
    targets: tuple[Target, ...]
    steps: tuple[Step, ...]
    #: how many targets of the group are processed at once
    parallel: int = 1
    #: the worker queue for this group's steps, if not the plan's
    queue: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Stage:
    """One unit of scheduling: a group, or the plan-level before/after steps."""

    #: position in the procedure's stage list
    index: int
    kind: StageKind
    #: the group's name, or ``before``/``after``
    name: str
    targets: tuple[Target, ...]
    steps: tuple[Step, ...]
    parallel: int
    #: the group's worker queue, if any
    queue: str | None = None

    @property
    def is_plan_level(self) -> bool:
        """Tell whether this stage holds the plan-level before/after steps."""
        return self.kind is not StageKind.GROUP


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    """One named step list of a plan: before steps, groups, after steps."""

    name: str = DEFAULT_PROCEDURE
    before: tuple[Step, ...] = ()
    groups: tuple[Group, ...] = ()
    after: tuple[Step, ...] = ()

    def stages(self) -> tuple[Stage, ...]:
        """Return the procedure's stages in order: before, groups, after."""
        plan_target = (Target(name=PLAN_TARGET_NAME),)
        stages: list[Stage] = []
        if self.before:
            stages.append(
                Stage(
                    index=0,
                    kind=StageKind.BEFORE,
                    name="before",
                    targets=plan_target,
                    steps=self.before,
                    parallel=1,
                )
            )
        for group in self.groups:
            stages.append(
                Stage(
                    index=len(stages),
                    kind=StageKind.GROUP,
                    name=group.name,
                    targets=group.targets,
                    steps=group.steps,
                    parallel=group.parallel,
                    queue=group.queue,
                )
            )
        if self.after:
            stages.append(
                Stage(
                    index=len(stages),
                    kind=StageKind.AFTER,
                    name="after",
                    targets=plan_target,
                    steps=self.after,
                    parallel=1,
                )
            )
        return tuple(stages)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    """A typed run parameter."""

    name: str
    type: ParamType = ParamType.STRING
    required: bool = False
    default: Any = None
    description: str = ""
    #: allowed values, if restricted
    choices: tuple[Any, ...] = ()


class TriggerKind(StrEnum):
    """What starts a trigger's runs."""

    #: a cron schedule
    TIMER = "timer"
    #: a data object posted under a data class
    EVENT = "event"


class MissedFires(StrEnum):
    """What a timer does about fire times that passed while Onward was down."""

    #: forget them; fire again at the next time
    SKIP = "skip"
    #: start one run for all of them
    RUN_ONCE = "run_once"


class ConditionOp(StrEnum):
    """How a condition compares a data object's field."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    MATCHES = "matches"


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """One test of a data object's field (a dotted path into the object)."""

    field: str
    op: ConditionOp = ConditionOp.EQ
    value: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """Starts runs of its plan on a schedule or when a matching event arrives."""

    name: str
    kind: TriggerKind
    #: the procedure its runs execute
    procedure: str = DEFAULT_PROCEDURE
    #: run parameters (checked against the plan's params)
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    #: timer: a five-field cron expression
    cron: str = ""
    #: timer: the IANA time zone the cron expression is read in
    timezone: str = "UTC"
    missed: MissedFires = MissedFires.SKIP
    #: event: the data class whose objects it listens to
    dataclass: str = ""
    #: event: all must hold for an object to start a run
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A validated plan definition (one version of it)."""

    name: str
    kind: PlanKind = PlanKind.GENERIC
    description: str = ""
    #: run all groups at once instead of one after another
    parallel_groups: bool = False
    on_critical_failure: CriticalFailurePolicy = CriticalFailurePolicy.HALT
    #: plans started in order after a succeeded run, when the caller asks
    chain: tuple[str, ...] = ()
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    #: step lists by procedure name; ``run`` unless the plan only has recovery ones
    procedures: Mapping[str, Procedure] = field(default_factory=dict)
    #: the worker queue for the plan's steps (a step's own queue wins)
    queue: str | None = None
    #: timer and event triggers that start runs of the plan
    triggers: tuple[Trigger, ...] = ()

    def procedure(self, name: str = DEFAULT_PROCEDURE) -> Procedure | None:
        """Return the named procedure, or None when the plan has none of that name."""
        return self.procedures.get(name)
