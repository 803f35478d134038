"""Recovery states of replica/storage plans and the procedures each allows."""

from __future__ import annotations

import pytest

from onward import errors
from onward.domain.chains import find_cycle
from onward.domain.recovery import (
    RecoveryRun,
    RecoveryState,
    check_procedure,
    recovery_state,
)
from onward.domain.runs import RunStatus

R = RunStatus
S = RecoveryState


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], S.READY),
        ([("run", R.SUCCEEDED)], S.READY),
        ([("failover", R.RUNNING)], S.IN_FAILOVER),
        ([("failover", R.WAITING)], S.IN_FAILOVER),
        ([("failover", R.HALTED)], S.FAILOVER_HALTED),
        ([("failover", R.FAILED)], S.FAILOVER_INCOMPLETE),
        ([("failover", R.CANCELLED)], S.FAILOVER_INCOMPLETE),
        ([("failover", R.SUCCEEDED)], S.FAILED_OVER),
        ([("protect", R.RUNNING), ("failover", R.SUCCEEDED)], S.PROTECTING),
        ([("protect", R.SUCCEEDED), ("failover", R.SUCCEEDED)], S.FAILED_OVER),
        ([("failback", R.RUNNING), ("failover", R.SUCCEEDED)], S.FAILING_BACK),
        ([("failback", R.SUCCEEDED), ("failover", R.SUCCEEDED)], S.READY),
        ([("failback", R.HALTED)], S.FAILBACK_HALTED),
        ([("failback", R.FAILED)], S.FAILBACK_INCOMPLETE),
        ([("undo_failover", R.SUCCEEDED), ("failover", R.HALTED)], S.READY),
        ([("undo_failover", R.RUNNING)], S.UNDOING_FAILOVER),
        ([("undo_failover", R.HALTED)], S.UNDO_HALTED),
        ([("undo_failover", R.CANCELLED)], S.UNDO_INCOMPLETE),
    ],
)
def test_the_recovery_state_follows_the_latest_recovery_run(
    history: list[tuple[str, RunStatus]], expected: RecoveryState
) -> None:
    """Each latest procedure and outcome puts the plan in its state."""
    runs = [RecoveryRun(procedure=p, status=s) for p, s in history]

    assert recovery_state(runs) is expected


@pytest.mark.parametrize(
    ("state", "procedure"),
    [
        (S.READY, "failover"),
        (S.FAILED_OVER, "failback"),
        (S.FAILED_OVER, "undo_failover"),
        (S.FAILED_OVER, "protect"),
        (S.FAILOVER_HALTED, "undo_failover"),
        (S.FAILBACK_INCOMPLETE, "failback"),
        (S.IN_FAILOVER, "run"),
    ],
)
def test_a_state_allows_its_procedures(state: RecoveryState, procedure: str) -> None:
    """Allowed procedures pass the check."""
    check_procedure(state, procedure, plan="p")


@pytest.mark.parametrize(
    ("state", "procedure"),
    [
        (S.READY, "failback"),
        (S.READY, "undo_failover"),
        (S.READY, "protect"),
        (S.IN_FAILOVER, "failover"),
        (S.FAILED_OVER, "failover"),
        (S.FAILING_BACK, "undo_failover"),
        (S.PROTECTING, "failback"),
    ],
)
def test_a_state_refuses_other_procedures_with_a_conflict(
    state: RecoveryState, procedure: str
) -> None:
    """A procedure that makes no sense in the state is a conflict naming both."""
    with pytest.raises(errors.InvalidTransitionError) as raised:
        check_procedure(state, procedure, plan="p")

    assert raised.value.state == state.value
    assert procedure in raised.value.command


def test_a_chain_cycle_is_found_with_its_path() -> None:
    """a -> b -> c -> a is a cycle, named in order."""
    chains = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}

    assert find_cycle("a", lambda name: chains.get(name, [])) == ["a", "b", "c", "a"]


def test_a_chain_without_cycle_passes() -> None:
    """Diamonds and unknown plans are not cycles."""
    chains = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": ["unknown"]}

    assert find_cycle("a", lambda name: chains.get(name, [])) is None
