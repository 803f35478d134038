"""
The run state machine: the transition table and ``decide(state, event, now)``.

``decide`` is pure: it reads a RunState and an event and returns a Decision
(changed records and effects); ``service.engine`` saves and carries it out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from onward import errors
from onward.domain import continuation, effects, events
from onward.domain.drafts import RunDraft
from onward.domain.plans import CriticalFailurePolicy, InterruptPolicy
from onward.domain.runs import (
    Attempt,
    AttemptStatus,
    CancelMode,
    LaneKey,
    RunState,
    RunStatus,
    StageProgress,
    StepStatus,
    TargetStatus,
)
from onward.ids import new_attempt_id

S = RunStatus

#: every run status change the machine may make; anything else is a bug or a refusal
ALLOWED: Final[Mapping[RunStatus, frozenset[RunStatus]]] = {
    S.PENDING: frozenset({S.RUNNING, S.CANCELLED}),
    S.RUNNING: frozenset(
        {S.WAITING, S.HALTED, S.SUCCEEDED, S.FAILED, S.CANCELLING, S.CANCELLED}
    ),
    S.WAITING: frozenset(
        {S.RUNNING, S.HALTED, S.SUCCEEDED, S.FAILED, S.CANCELLING, S.CANCELLED}
    ),
    S.HALTED: frozenset({S.RUNNING, S.WAITING, S.CANCELLING, S.CANCELLED}),
    S.FAILED: frozenset({S.RUNNING}),
    S.CANCELLING: frozenset({S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.CANCELLED: frozenset(),
}

_RESTING: Final = frozenset({S.HALTED, S.SUCCEEDED, S.FAILED, S.CANCELLED})
_FAILURES: Final = frozenset(
    {AttemptStatus.FAILED, AttemptStatus.TIMED_OUT, AttemptStatus.INTERRUPTED}
)


def decide(
    state: RunState,
    event: events.Event,
    *,
    now: datetime,
    new_id: Callable[[], str] = new_attempt_id,
) -> effects.Decision:
    """Return the run's next state and the effects to carry out; performs no I/O.

    Raises:
        InvalidTransitionError: the event is impossible in the run's state.
    """
    draft = RunDraft(state, now=now, new_attempt_id=new_id)
    _HANDLERS[type(event)](draft, event)
    _settle(draft)
    return draft.decision()


def _on_start(draft: RunDraft, _: Any) -> None:
    draft.require_status("start", S.PENDING)
    draft.run = replace(draft.run, status=S.RUNNING, started_at=draft.now)


def _on_claimed(draft: RunDraft, event: events.AttemptClaimed) -> None:
    attempt = _attempt_in_flight(draft, event.attempt_id, "claim")
    if attempt.status is not AttemptStatus.QUEUED or attempt.approval:
        raise errors.InvalidTransitionError(
            subject=f"attempt {attempt.attempt_id}",
            state=attempt.status.value,
            command="claim",
            reason="it is not queued",
        )
    draft.put_attempt(
        replace(
            attempt,
            status=AttemptStatus.RUNNING,
            worker_id=event.worker_id,
            started_at=draft.now,
        )
    )


def _on_finished(draft: RunDraft, event: events.AttemptFinished) -> None:
    if event.status.is_in_flight:
        raise errors.InvalidTransitionError(
            subject=f"attempt {event.attempt_id}",
            state=event.status.value,
            command="finish",
            reason="an attempt finishes with a final status",
        )
    attempt = _attempt_in_flight(draft, event.attempt_id, "finish")
    _close_attempt(
        draft,
        attempt,
        event.status,
        error=event.error,
        output=event.output,
        retryable=event.retryable,
    )


def _on_approval(draft: RunDraft, event: events.ApprovalDecided) -> None:
    attempt = _attempt_in_flight(draft, event.attempt_id, "decide")
    if not attempt.approval:
        raise errors.InvalidTransitionError(
            subject=f"attempt {attempt.attempt_id}",
            state=attempt.status.value,
            command="approve or reject",
            reason="it is not an approval step",
        )
    if event.approved:
        _close_attempt(
            draft,
            attempt,
            AttemptStatus.SUCCEEDED,
            output={"approved": True, "comment": event.comment},
        )
        return
    reason = f"rejected: {event.comment}" if event.comment else "rejected"
    _close_attempt(
        draft,
        attempt,
        AttemptStatus.FAILED,
        error=reason,
        output={"approved": False, "comment": event.comment},
        retryable=False,
    )


def _on_cancel(draft: RunDraft, event: events.CancelRequested) -> None:
    run = draft.run
    if run.status is S.CANCELLING and event.mode is CancelMode.FORCE:
        pass  # a graceful cancel may be hurried
    else:
        draft.require_status("cancel", S.PENDING, S.RUNNING, S.WAITING, S.HALTED)
    draft.run = replace(run, cancel_mode=event.mode)
    draft.withdraw_queued(approvals=True)
    draft.ready.clear()
    if event.mode is CancelMode.FORCE:
        for attempt in draft.in_flight():
            draft.effects.append(
                effects.KillAttempt(attempt_id=attempt.attempt_id, run_id=run.run_id)
            )


def _on_retry(draft: RunDraft, _: events.RetryRequested) -> None:
    draft.require_status("retry", S.FAILED)
    points = draft.run.halt_points
    draft.run = replace(
        draft.run,
        status=S.RUNNING,
        failing=False,
        halt_points=(),
        run_attempt=draft.run.run_attempt + 1,
        finished_at=None,
    )
    for point in points:
        lane = draft.lane(point.lane)
        draft.put_lane(
            replace(lane, status=TargetStatus.RUNNING, halted=False, cursor=point.step)
        )
        draft.put_step(
            point.lane, point.step, status=StepStatus.PENDING, tries=0, error=None
        )
        draft.add_active(point.lane.stage, 1)
        draft.ready.append(point.lane)


def _attempt_in_flight(draft: RunDraft, attempt_id: str, command: str) -> Attempt:
    attempt = draft.attempt(attempt_id)
    if attempt is None or not attempt.status.is_in_flight:
        state = attempt.status.value if attempt else "unknown"
        raise errors.InvalidTransitionError(
            subject=f"attempt {attempt_id}",
            state=state,
            command=command,
            reason="it is not queued or running in this run",
        )
    return attempt


def _close_attempt(
    draft: RunDraft,
    attempt: Attempt,
    status: AttemptStatus,
    *,
    error: str | None = None,
    output: Mapping[str, Any] | None = None,
    retryable: bool = True,
) -> None:
    draft.finish_attempt(attempt, status, error=error, output=output)
    key, index = attempt.lane, attempt.step
    if status is AttemptStatus.SUCCEEDED:
        draft.put_step(key, index, status=StepStatus.SUCCEEDED, error=None)
        _advance_unless_stopping(draft, key, index)
    elif status is AttemptStatus.CANCELLED and draft.run.cancel_mode is not None:
        draft.put_step(key, index, status=StepStatus.FAILED, error=error or "cancelled")
    elif status is AttemptStatus.CANCELLED:
        # stopped without a cancel of the run (its worker shut down): a crash
        _on_step_failure(
            draft,
            attempt,
            AttemptStatus.INTERRUPTED,
            error or "stopped",
            retryable=retryable,
        )
    else:
        _on_step_failure(
            draft, attempt, status, error or status.value, retryable=retryable
        )


def _advance_unless_stopping(draft: RunDraft, key: LaneKey, index: int) -> None:
    if draft.run.cancel_mode is not None:
        return
    draft.advance(key, index)


def _on_step_failure(
    draft: RunDraft,
    attempt: Attempt,
    status: AttemptStatus,
    error: str,
    *,
    retryable: bool,
) -> None:
    key, index = attempt.lane, attempt.step
    step = draft.step_of(key, index)
    state = draft.put_step(key, index, status=StepStatus.FAILED, error=error).steps[
        index
    ]
    if draft.run.cancel_mode is not None:
        return
    if status is AttemptStatus.INTERRUPTED:
        if step.on_interrupt is InterruptPolicy.RETRY:
            draft.put_step(key, index, status=StepStatus.PENDING, tries=state.tries - 1)
            draft.continue_lane(key)
        else:
            _critical_failure(draft, key, index, error, halt=True)
        return
    if retryable and state.tries < step.retry.maximum_attempts:
        draft.put_step(key, index, status=StepStatus.PENDING)
        if draft.may_start_work():
            delay = step.retry.delay_after(state.tries)
            draft.start_step(
                key, index, not_before=draft.now + delay if delay else None
            )
        elif key not in draft.ready:
            draft.ready.append(key)
        return
    if not step.critical:
        draft.run = replace(draft.run, warnings=draft.run.warnings + 1)
        draft.advance(key, index)
        return
    _critical_failure(draft, key, index, error, halt=False)


def _critical_failure(
    draft: RunDraft, key: LaneKey, index: int, error: str, *, halt: bool
) -> None:
    lane = draft.lane(key)
    draft.add_halt_point(key, index, error)
    if halt or draft.state.plan.on_critical_failure is CriticalFailurePolicy.HALT:
        draft.put_lane(replace(lane, status=TargetStatus.FAILED, halted=True))
        draft.run = replace(draft.run, holding=True)
    else:
        draft.put_lane(replace(lane, status=TargetStatus.FAILED, halted=False))
        draft.add_active(key.stage, -1)
        draft.run = replace(draft.run, failing=True)
    draft.withdraw_queued()


def _settle(draft: RunDraft) -> None:
    """Work out the run's status after the event, starting what may start."""
    old = draft.state.run.status
    middle = draft.run.status
    new = _next_status(draft)
    _check_transition(draft, old, middle)
    _check_transition(draft, middle, new)
    draft.run = replace(draft.run, status=new)
    if new is not old and new in _RESTING:
        if new is not S.HALTED:
            draft.run = replace(draft.run, finished_at=draft.now)
        draft.effects.append(effects.RunEnded(run_id=draft.run.run_id, status=new))


def _check_transition(draft: RunDraft, old: RunStatus, new: RunStatus) -> None:
    if new is not old and new not in ALLOWED[old]:
        raise errors.InvalidTransitionError(
            subject=f"run {draft.run.run_id}",
            state=old.value,
            command=f"move to {new}",
        )


def _next_status(draft: RunDraft) -> RunStatus:
    run = draft.run
    if run.status in (S.SUCCEEDED, S.CANCELLED):
        return run.status
    if run.cancel_mode is not None:
        return S.CANCELLING if any(draft.in_flight()) else S.CANCELLED
    if run.status is S.PENDING:
        return run.status
    if run.failing or run.holding or run.status in (S.HALTED, S.FAILED):
        return _stopping_status(draft)
    return _working_status(draft)


def _stopping_status(draft: RunDraft) -> RunStatus:
    """Status of a run that starts nothing new: failing, holding, halted or failed."""
    run = draft.run
    if run.failing:
        if any(not a.approval for a in draft.in_flight()):
            return S.RUNNING
        draft.withdraw_queued(approvals=True)
        return S.FAILED
    if run.holding:
        working = any(not a.approval for a in draft.in_flight())
        return S.RUNNING if working else S.HALTED
    return run.status


def _working_status(draft: RunDraft) -> RunStatus:
    """Status of a running run, once everything that may start has started."""
    run = draft.run
    draft.fill()
    in_flight = list(draft.in_flight())
    if all(draft.stage_done(stage.index) for stage in draft.state.stages):
        return S.SUCCEEDED
    if any(not a.approval for a in in_flight):
        return S.RUNNING
    if in_flight:
        return S.WAITING
    if run.halt_points:
        return S.HALTED
    msg = f"run {run.run_id} has nothing to run and is not finished"
    raise errors.OnwardError(msg)


_HANDLERS: Final[dict[type, Callable[[RunDraft, Any], None]]] = {
    events.StartRequested: _on_start,
    events.AttemptClaimed: _on_claimed,
    events.AttemptFinished: _on_finished,
    events.ApprovalDecided: _on_approval,
    events.CancelRequested: _on_cancel,
    events.RetryRequested: _on_retry,
    events.ContinueRequested: continuation.on_continue,
    events.ResumeRequested: continuation.on_resume,
}


def new_run_state(state: RunState) -> RunState:
    """Return a pending run's state with its stage counters laid out."""
    run = replace(state.run, stages=tuple(StageProgress() for _ in state.stages))
    return replace(state, run=run)


def apply_decision(
    state: RunState, decision: effects.Decision, *, in_place: bool = False
) -> RunState:
    """Return the state after a decision, as the store will hold it.

    With ``in_place`` the state's own lane and attempt dictionaries are updated
    (for a caller that owns them, like the engine's cache) instead of copied.
    """
    lanes = (
        state.lanes if in_place and isinstance(state.lanes, dict) else dict(state.lanes)
    )
    attempts = (
        state.attempts
        if in_place and isinstance(state.attempts, dict)
        else dict(state.attempts)
    )
    lanes.update(decision.lanes)
    for attempt_id, attempt in decision.attempts.items():
        if attempt.status.is_in_flight:
            attempts[attempt_id] = attempt
        else:
            attempts.pop(attempt_id, None)
    return replace(state, run=decision.run, lanes=lanes, attempts=attempts)
