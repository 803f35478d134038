"""
Tests of the noop, sleep and approval actions.
"""

from __future__ import annotations

import pytest

from onward.actions import ActionContext
from onward.actions.approval import ApprovalAction
from onward.actions.noop import NoopAction
from onward.actions.sleep import SleepAction


async def test_noop_succeeds_with_an_empty_output(ctx: ActionContext) -> None:
    """A no-op step succeeds at once with nothing to show."""
    result = await NoopAction().run({"note": "checkpoint"}, ctx)

    assert result.ok
    assert dict(result.output) == {}


def test_noop_accepts_any_inputs() -> None:
    """No-op steps may carry notes in ``with``; they are ignored."""
    assert NoopAction().check({"note": "checkpoint", "n": 3}) == []


@pytest.mark.parametrize(
    ("seconds", "waited"),
    [(0, 0.0), (0.01, 0.01), ("10ms", 0.01), ("0.02", 0.02)],
)
async def test_sleep_waits_for_the_given_duration(
    ctx: ActionContext, seconds: object, waited: float
) -> None:
    """Numbers and duration strings are both understood."""
    result = await SleepAction().run({"seconds": seconds}, ctx)

    assert result.ok
    assert result.output == {"seconds": pytest.approx(waited)}


def test_sleep_accepts_durations_and_templates() -> None:
    """Seconds may be a number, a duration string or a template."""
    action = SleepAction()

    assert action.check({"seconds": 5}) == []
    assert action.check({"seconds": "2m"}) == []
    assert action.check({"seconds": "{{ run.params.delay }}"}) == []


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({}, "is required", id="missing"),
        pytest.param(
            {"seconds": -1},
            "must be a duration of 0 or more seconds, not -1",
            id="negative",
        ),
        pytest.param(
            {"seconds": "soon"},
            "must be a duration of 0 or more seconds, not 'soon'",
            id="not-a-duration",
        ),
    ],
)
def test_sleep_rejects_a_missing_or_invalid_duration(
    inputs: dict[str, object], message: str
) -> None:
    """Seconds is required and must be 0 or more."""
    problems = SleepAction().check(inputs)

    assert [(problem.path, problem.message) for problem in problems] == [
        ("seconds", message)
    ]


def test_approval_checks_its_message_and_approvers() -> None:
    """A message is required and approvers must be a list of names."""
    action = ApprovalAction()

    valid = action.check(
        {"message": "Fail over {{ plan.name }}?", "approvers": ["ana"]}
    )
    invalid = action.check({"approvers": "ana"})

    assert valid == []
    assert [(problem.path, problem.message) for problem in invalid] == [
        ("message", "is required"),
        ("approvers", "must be a list of strings"),
    ]


async def test_running_an_approval_fails_without_retries(ctx: ActionContext) -> None:
    """Approvals are decided by people, so running one is a non-retryable failure."""
    result = await ApprovalAction().run({"message": "Go?"}, ctx)

    assert not result.ok
    assert not result.retryable
    assert result.error is not None
    assert "decided by people" in result.error
