"""
Steps named by operators: a group (or stage), a target and a step, by name or index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from onward import errors
from onward.domain.plans import Stage, StageKind
from onward.domain.runs import LaneKey


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRef:
    """A step of a target as an operator names it.

    Exactly one of ``group`` (a group's name) and ``stage`` (``before``,
    ``after``, a group's name or a stage index) names the stage; ``target`` may
    be left out for the plan-level ``before``/``after`` stages, which have one.
    """

    group: str | None = None
    stage: str | int | None = None
    target: str | int | None = None
    step: str | int


def resolve_step(
    stages: Sequence[Stage], ref: StepRef, *, path: str
) -> tuple[LaneKey, int]:
    """Return the lane and step index a reference names.

    Raises:
        InvalidDefinitionError: the reference names nothing in the run's plan;
            its problem's path starts with ``path``.
    """
    stage = _stage(stages, ref, path)
    target = _index(
        [t.name for t in stage.targets],
        0 if ref.target is None and stage.is_plan_level else ref.target,
        f"{path}.target",
        "target",
    )
    step = _index([s.name for s in stage.steps], ref.step, f"{path}.step", "step")
    return LaneKey(stage.index, target), step


def _stage(stages: Sequence[Stage], ref: StepRef, path: str) -> Stage:
    if (ref.group is None) == (ref.stage is None):
        msg = "name the stage with exactly one of 'group' and 'stage'"
        raise _problem(msg, at=path)
    if ref.group is not None:
        for stage in stages:
            if stage.kind is StageKind.GROUP and stage.name == ref.group:
                return stage
        msg = f"the plan has no group {ref.group!r}"
        raise _problem(msg, at=f"{path}.group")
    index = _index([s.name for s in stages], ref.stage, f"{path}.stage", "stage")
    return stages[index]


def _index(names: list[str], wanted: str | int | None, path: str, kind: str) -> int:
    if wanted is None:
        msg = f"name the {kind}"
    elif isinstance(wanted, int):
        if 0 <= wanted < len(names):
            return wanted
        msg = f"no {kind} at index {wanted} (there are {len(names)})"
    elif wanted in names:
        return names.index(wanted)
    else:
        msg = f"no {kind} named {wanted!r}"
    raise _problem(msg, at=path)


def _problem(message: str, *, at: str) -> errors.InvalidDefinitionError:
    return errors.InvalidDefinitionError(
        [errors.Problem(at.lstrip("."), message)], subject="request"
    )
