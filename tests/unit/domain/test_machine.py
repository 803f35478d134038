"""Behaviour of the run state machine, driven through the pure Simulation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from onward import errors
from onward.domain import events
from onward.domain.events import ContinueOption
from onward.domain.machine import ALLOWED
from onward.domain.plans import CriticalFailurePolicy, InterruptPolicy
from onward.domain.runs import AttemptStatus, CancelMode, RunStatus
from onward.testing import Place, Simulation, fail_at, plan, step, succeed_all


def two_groups(**options: object) -> Simulation:
    """Return a started simulation of db (2 targets) then web (3 targets)."""
    definition = plan(
        {
            "db": (["db1", "db2"], [step("stop"), step("verify")]),
            "web": (["w1", "w2", "w3"], [step("a"), step("b")]),
        },
        **options,  # type: ignore[arg-type]
    )
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    return sim


def places(sim: Simulation, start: int = 0) -> list[tuple[str, str, str]]:
    """Return the claimed places from ``start`` on, as tuples."""
    return [(p.stage, p.target, p.step) for p in sim.claimed[start:]]


def test_a_plan_without_failures_runs_every_step_once_in_order() -> None:
    """Groups run one after another, targets in order, steps in order."""
    sim = two_groups()

    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim) == [
        ("db", "db1", "stop"),
        ("db", "db1", "verify"),
        ("db", "db2", "stop"),
        ("db", "db2", "verify"),
        ("web", "w1", "a"),
        ("web", "w1", "b"),
        ("web", "w2", "a"),
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


def test_every_decision_stamps_the_run_with_its_time() -> None:
    """A run's updated_at is the time of the last decision that wrote it."""
    sim = two_groups()
    started = sim.state.run.updated_at
    sim.now += timedelta(minutes=5)

    run = sim.work(fail_at(("db", "db1", "stop")))

    assert started is not None
    assert run.updated_at == started + timedelta(minutes=5)


def test_a_critical_failure_halts_the_run_with_its_halt_point() -> None:
    """A failed critical step halts the run and names target, step and error."""
    sim = two_groups()

    run = sim.work(fail_at(("web", "w2", "a")))

    assert run.status is RunStatus.HALTED
    assert [
        (p.lane.stage, p.lane.target, p.step, p.error) for p in run.halt_points
    ] == [(1, 1, 0, "a broke")]
    assert places(sim)[-1] == ("web", "w2", "a")


def test_retry_failed_step_reruns_only_the_failed_step_then_goes_on() -> None:
    """RetryFailedStep starts the failed step again, then its later steps."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.RETRY_STEP))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark) == [
        ("web", "w2", "a"),
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


def test_proceed_to_next_step_leaves_the_step_failed_and_counts_a_warning() -> None:
    """ProceedToNextStep goes on with the next step; the failure stays recorded."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.PROCEED_STEP))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert run.warnings == 1
    assert places(sim, mark) == [
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


def test_retry_failed_target_reruns_all_its_steps_of_the_group() -> None:
    """RetryFailedVm runs every step of the target's group again from the first."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "b")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.RETRY_TARGET))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark) == [
        ("web", "w2", "a"),
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


def test_proceed_to_next_target_skips_its_steps_and_marks_it_failed() -> None:
    """ProceedToNextVm skips the target's remaining steps; the next target goes on."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.PROCEED_TARGET))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark) == [("web", "w3", "a"), ("web", "w3", "b")]
    assert sim.lane_statuses()[("web", "w2")] == "failed"
    assert [
        s.status.value for s in sim.state.lanes[sorted(sim.state.lanes)[3]].steps
    ] == [
        "failed",
        "skipped",
    ]


def test_retry_failed_group_reruns_every_target_of_the_group_done_or_not() -> None:
    """RetryFailedGroup runs the group's steps again for all its targets."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.RETRY_GROUP))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark) == [
        ("web", "w1", "a"),
        ("web", "w1", "b"),
        ("web", "w2", "a"),
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


def test_proceed_to_next_group_skips_what_is_unfinished_and_starts_the_next_group() -> (
    None
):
    """ProceedToNextGroup skips the group's unfinished targets and steps."""
    sim = two_groups()
    sim.work(fail_at(("db", "db1", "stop")))
    mark = len(sim.claimed)

    sim.send(events.ContinueRequested(option=ContinueOption.PROCEED_GROUP))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark)[0] == ("web", "w1", "a")
    assert sim.lane_statuses()[("db", "db1")] == "failed"
    assert sim.lane_statuses()[("db", "db2")] == "skipped"


def test_a_non_critical_failure_is_a_warning_and_the_target_goes_on() -> None:
    """A failed non-critical step is recorded and the target's next step runs."""
    definition = plan({"g": (["t1"], [step("check", critical=False), step("next")])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())

    run = sim.work(fail_at(("g", "t1", "check")))

    assert run.status is RunStatus.SUCCEEDED
    assert run.warnings == 1
    assert places(sim) == [("g", "t1", "check"), ("g", "t1", "next")]


def test_automatic_retries_try_again_with_backoff_before_failing() -> None:
    """A step with attempts=3 is tried three times, each retry due after its backoff."""
    definition = plan({"g": (["t1"], [step("flaky", attempts=3, backoff=10)])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    start = sim.now

    run = sim.work(fail_at(("g", "t1", "flaky"), times=2))

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim) == [("g", "t1", "flaky")] * 3
    assert sim.now - start == timedelta(seconds=30)


def test_on_critical_failure_fail_ends_the_run_failed_and_retry_resumes_it() -> None:
    """With on_critical_failure=fail the run fails; retry resumes at the failed step."""
    sim = two_groups(on_critical_failure=CriticalFailurePolicy.FAIL)
    run = sim.work(fail_at(("web", "w2", "a")))
    assert run.status is RunStatus.FAILED
    mark = len(sim.claimed)

    sim.send(events.RetryRequested())
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert run.run_attempt == 2
    assert places(sim, mark) == [
        ("web", "w2", "a"),
        ("web", "w2", "b"),
        ("web", "w3", "a"),
        ("web", "w3", "b"),
    ]


@pytest.mark.parametrize(
    "event",
    [
        events.ContinueRequested(option=ContinueOption.RETRY_STEP),
        events.RetryRequested(),
    ],
    ids=["continue", "retry"],
)
def test_commands_are_refused_on_a_running_run(event: events.Event) -> None:
    """Continue needs a halted run and retry a failed one; otherwise a refusal."""
    sim = two_groups()

    with pytest.raises(errors.InvalidTransitionError) as raised:
        sim.send(event)

    assert raised.value.state == "running"


def test_cancelling_a_finished_run_is_refused() -> None:
    """A succeeded run cannot be cancelled."""
    sim = two_groups()
    sim.work(succeed_all)

    with pytest.raises(errors.InvalidTransitionError):
        sim.send(events.CancelRequested())


def test_graceful_cancel_lets_the_running_attempt_finish_and_starts_nothing() -> None:
    """Graceful cancel waits for the running attempt, then the run is cancelled."""
    sim = two_groups()
    attempt = sim.queued()[0]
    sim.send(events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w"))

    sim.send(events.CancelRequested(mode=CancelMode.GRACEFUL))
    assert sim.state.run.status is RunStatus.CANCELLING
    sim.send(
        events.AttemptFinished(
            attempt_id=attempt.attempt_id, status=AttemptStatus.SUCCEEDED
        )
    )

    assert sim.state.run.status is RunStatus.CANCELLED
    assert sim.queued() == []


def test_force_cancel_asks_to_kill_running_attempts() -> None:
    """Force cancel emits a kill for every running attempt."""
    sim = two_groups()
    attempt = sim.queued()[0]
    sim.send(events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w"))

    decision = sim.send(events.CancelRequested(mode=CancelMode.FORCE))

    assert [type(e).__name__ for e in decision.effects] == ["KillAttempt"]


def test_an_approval_step_puts_the_run_in_waiting_until_approved() -> None:
    """Approval steps wait for a person; approving lets the target go on."""
    definition = plan({"g": (["t1"], [step("ok?", action="approval"), step("go")])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    assert sim.state.run.status is RunStatus.WAITING

    sim.send(
        events.ApprovalDecided(attempt_id=sim.approvals()[0].attempt_id, approved=True)
    )
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim) == [("g", "t1", "go")]


def test_rejecting_an_approval_is_a_step_failure() -> None:
    """A rejected approval fails its (critical) step and halts the run."""
    definition = plan({"g": (["t1"], [step("ok?", action="approval"), step("go")])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())

    sim.send(
        events.ApprovalDecided(
            attempt_id=sim.approvals()[0].attempt_id, approved=False, comment="not now"
        )
    )

    assert sim.state.run.status is RunStatus.HALTED
    assert sim.state.run.halt_points[0].error == "rejected: not now"


def test_an_interrupted_idempotent_step_is_retried() -> None:
    """A crash mid-step with on_interrupt=retry starts the step again."""
    definition = plan({"g": (["t1"], [step("s", on_interrupt=InterruptPolicy.RETRY)])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())

    run = sim.work(
        lambda _, n: AttemptStatus.INTERRUPTED if n == 1 else AttemptStatus.SUCCEEDED
    )

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim) == [("g", "t1", "s"), ("g", "t1", "s")]


def test_an_interrupted_step_halts_by_default_even_when_not_critical() -> None:
    """A crash mid-step with on_interrupt=halt makes it a halt point."""
    definition = plan({"g": (["t1"], [step("s", critical=False)])})
    sim = Simulation(definition)
    sim.send(events.StartRequested())

    run = sim.work(lambda _, __: AttemptStatus.INTERRUPTED)

    assert run.status is RunStatus.HALTED


def test_a_halt_in_plan_level_steps_refuses_target_and_group_options() -> None:
    """Halts in before/after steps accept only the step options."""
    definition = plan({"g": (["t1"], [step("s")])}, before=[step("notify")])
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    sim.work(fail_at(("before", "plan", "notify")))

    with pytest.raises(errors.InvalidTransitionError) as raised:
        sim.send(events.ContinueRequested(option=ContinueOption.RETRY_GROUP))

    assert "only retry-step or proceed-step" in raised.value.message


def test_no_new_attempt_starts_while_a_halt_waits_for_running_work() -> None:
    """With parallel targets, a failure stops new starts; running ones finish first."""
    definition = plan(
        {"g": (["t1", "t2", "t3"], [step("a"), step("b")])}, parallel={"g": 2}
    )
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    first, second = sim.queued()
    for attempt in (first, second):
        sim.send(events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w"))

    sim.send(
        events.AttemptFinished(
            attempt_id=first.attempt_id, status=AttemptStatus.FAILED, error="x"
        )
    )
    assert sim.state.run.status is RunStatus.RUNNING
    assert sim.queued() == []
    sim.send(
        events.AttemptFinished(
            attempt_id=second.attempt_id, status=AttemptStatus.SUCCEEDED
        )
    )

    assert sim.state.run.status is RunStatus.HALTED
    assert sim.queued() == []


def test_several_halt_points_are_all_continued_by_one_option() -> None:
    """Two targets failing at once are both held, and both retried by one continue."""
    definition = plan({"g": (["t1", "t2"], [step("a")])}, parallel={"g": 2})
    sim = Simulation(definition)
    sim.send(events.StartRequested())
    running = sim.queued()
    for attempt in running:
        sim.send(events.AttemptClaimed(attempt_id=attempt.attempt_id, worker_id="w"))
    for attempt in running:
        sim.send(
            events.AttemptFinished(
                attempt_id=attempt.attempt_id, status=AttemptStatus.FAILED, error="x"
            )
        )
    assert sim.state.run.status is RunStatus.HALTED
    assert len(sim.state.run.halt_points) == 2

    sim.send(events.ContinueRequested(option=ContinueOption.RETRY_STEP))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim) == [("g", "t1", "a"), ("g", "t2", "a")]


def test_the_transition_table_has_no_exit_from_final_states() -> None:
    """Succeeded and cancelled runs are final."""
    assert ALLOWED[RunStatus.SUCCEEDED] == frozenset()
    assert ALLOWED[RunStatus.CANCELLED] == frozenset()


def test_resume_at_a_chosen_step_restarts_the_target_there() -> None:
    """Resume-at runs the halted target from the chosen step on."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "b")))
    point = sim.state.run.halt_points[0]
    mark = len(sim.claimed)

    sim.send(events.ResumeRequested(lane=point.lane, step=0))
    run = sim.work(succeed_all)

    assert run.status is RunStatus.SUCCEEDED
    assert places(sim, mark)[:2] == [("web", "w2", "a"), ("web", "w2", "b")]


def test_retry_step_with_edited_inputs_records_them_on_the_new_attempt() -> None:
    """Edited step inputs ride on the retried attempt."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))

    sim.send(
        events.ContinueRequested(
            option=ContinueOption.RETRY_STEP, input_overrides={"command": "true"}
        )
    )

    assert sim.queued()[0].input_overrides == {"command": "true"}
    assert sim.place(sim.queued()[0]) == Place("web", "w2", "a")


def test_continuing_with_an_empty_list_of_halt_points_is_refused() -> None:
    """points=() names no halt point: a clear input error, nothing changes."""
    sim = two_groups()
    sim.work(fail_at(("web", "w2", "a")))

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        sim.send(events.ContinueRequested(option=ContinueOption.RETRY_STEP, points=()))

    assert raised.value.problems[0].path == "points"
    assert sim.state.run.status is RunStatus.HALTED
