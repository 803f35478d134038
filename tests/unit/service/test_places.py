"""Operators name steps by group, stage, target and step, by name or index."""

from __future__ import annotations

import pytest

from onward import errors
from onward.domain.runs import LaneKey
from onward.service.places import StepRef, resolve_step
from onward.testing import plan, step

STAGES = (
    plan(
        {
            "db": (["db1", "db2"], [step("stop"), step("check")]),
            "web": (["w1"], [step("up")]),
        },
        before=[step("notify")],
        after=[step("announce")],
    )
    .procedures["run"]
    .stages()
)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (StepRef(group="db", target="db2", step="check"), (LaneKey(1, 1), 1)),
        (StepRef(group="web", target=0, step=0), (LaneKey(2, 0), 0)),
        (StepRef(stage=1, target="db1", step="stop"), (LaneKey(1, 0), 0)),
        (StepRef(stage="db", target=1, step=1), (LaneKey(1, 1), 1)),
        (StepRef(stage="before", step="notify"), (LaneKey(0, 0), 0)),
        (StepRef(stage="after", step=0), (LaneKey(3, 0), 0)),
    ],
    ids=["names", "indexes", "stage index", "stage name", "before", "after"],
)
def test_a_reference_resolves_to_its_lane_and_step(
    ref: StepRef, expected: tuple[LaneKey, int]
) -> None:
    """Names and indexes lead to the same lane and step."""
    assert resolve_step(STAGES, ref, path="points[0]") == expected


@pytest.mark.parametrize(
    ("ref", "path"),
    [
        (StepRef(step="stop"), "points[0]"),
        (StepRef(group="db", stage=1, target=0, step=0), "points[0]"),
        (StepRef(group="before", step=0), "points[0].group"),
        (StepRef(group="db", target="db9", step=0), "points[0].target"),
        (StepRef(group="db", target=5, step=0), "points[0].target"),
        (StepRef(group="db", step=0), "points[0].target"),
        (StepRef(group="db", target=0, step="start"), "points[0].step"),
        (StepRef(stage=-1, target=0, step=0), "points[0].stage"),
    ],
    ids=[
        "no stage",
        "both stage and group",
        "before is not a group",
        "unknown target",
        "target out of range",
        "group target missing",
        "unknown step",
        "negative stage",
    ],
)
def test_a_reference_to_nothing_is_invalid_at_its_path(ref: StepRef, path: str) -> None:
    """The problem names the part of the reference that matches nothing."""
    with pytest.raises(errors.InvalidDefinitionError) as caught:
        resolve_step(STAGES, ref, path="points[0]")

    assert [p.path for p in caught.value.problems] == [path]
