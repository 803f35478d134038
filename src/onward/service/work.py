"""
The worker's port into the service: claim an attempt, describe its work, report it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from onward import errors
from onward.domain import events
from onward.domain.plans import Plan, Stage, Step, Target
from onward.domain.runs import Attempt, AttemptStatus, Run, Trigger
from onward.service.engine import Engine
from onward.service.ports import LogEntry

_log = structlog.get_logger("onward.work")


@dataclass(frozen=True, slots=True, kw_only=True)
class Work:
    """What a worker needs to run one attempt."""

    run: Run
    plan: Plan
    stage: Stage
    target: Target
    step: Step
    attempt: Attempt
    #: the step's inputs before rendering (the plan's, or an operator's edit)
    inputs: Mapping[str, Any]
    #: the template context: run, plan, group, target, steps, attempt
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """How an attempt ended, as a worker tells it."""

    status: AttemptStatus
    error: str | None = None
    output: Mapping[str, Any] = field(default_factory=dict)
    retryable: bool = True


class WorkService:
    """Claims attempts for workers and records what they report."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def claim(
        self, *, run_id: str, attempt_id: str, worker_id: str
    ) -> Work | None:
        """Take a queued attempt; return None when it is no longer to be run."""
        try:
            decision = await self.engine.apply(
                run_id,
                events.AttemptClaimed(attempt_id=attempt_id, worker_id=worker_id),
            )
        except (errors.InvalidTransitionError, errors.RunNotFoundError):
            _log.info("attempt.not_claimed", run_id=run_id, attempt_id=attempt_id)
            return None
        return await self._work(decision.run, decision.attempts[attempt_id])

    async def describe(self, *, run_id: str, attempt_id: str) -> Work | None:
        """Return the work of an attempt already claimed (None if it is not running)."""
        state = await self.engine.state(run_id)
        attempt = state.attempts.get(attempt_id)
        if attempt is None or attempt.status is not AttemptStatus.RUNNING:
            return None
        return await self._work(state.run, attempt)

    async def finish(self, *, run_id: str, attempt_id: str, report: Report) -> bool:
        """Record an attempt's end; return False if the run no longer expected it."""
        event = events.AttemptFinished(
            attempt_id=attempt_id,
            status=report.status,
            error=report.error,
            output=report.output,
            retryable=report.retryable,
        )
        try:
            await self.engine.apply(run_id, event)
        except errors.InvalidTransitionError:
            _log.warning("attempt.report_dropped", run_id=run_id, attempt_id=attempt_id)
            return False
        return True

    async def log(self, entries: Sequence[LogEntry]) -> None:
        """Append lines to run logs."""
        if entries:
            await self.engine.store.append_logs(entries)

    async def _event_of(self, run: Run) -> dict[str, Any] | None:
        """Return the data object that started an event-triggered run, for templates."""
        if run.trigger is not Trigger.EVENT:
            return None
        try:
            found = await self.engine.store.get_data_object(run.triggered_by)
        except errors.DataObjectNotFoundError:
            return None
        return {
            "id": found.object_id,
            "dataclass": found.dataclass,
            "data": dict(found.content),
        }

    async def _work(self, run: Run, attempt: Attempt) -> Work:
        plan = await self.engine.plan_of(run)
        state = await self.engine.state(run.run_id)
        stage = state.stages[attempt.lane.stage]
        target = stage.targets[attempt.lane.target]
        step = stage.steps[attempt.step]
        inputs = {**step.inputs, **attempt.input_overrides}
        outputs = (
            await self.engine.store.step_outputs(run.run_id, attempt.lane)
            if _mentions_steps(inputs)
            else {}
        )
        context = {
            "run": {
                "id": run.run_id,
                "params": dict(run.params),
                "procedure": run.procedure,
                "attempt": run.run_attempt,
            },
            "plan": {
                "name": plan.name,
                "version": run.plan_version,
                "kind": plan.kind.value,
            },
            "group": {"name": stage.name},
            "target": {"name": target.name, "vars": dict(target.vars)},
            "steps": {
                stage.steps[i].name: {"output": out} for i, out in outputs.items()
            },
            "attempt": {"number": attempt.number},
            "trigger": {"kind": run.trigger.value, "source": run.triggered_by},
            "event": await self._event_of(run),
        }
        return Work(
            run=run,
            plan=plan,
            stage=stage,
            target=target,
            step=step,
            attempt=attempt,
            inputs=inputs,
            context=context,
        )


def _mentions_steps(inputs: Mapping[str, Any]) -> bool:
    """Tell whether the inputs' templates may read earlier steps' outputs.

    Reading outputs is a database query; most steps never use them.
    """
    return "steps" in json.dumps(inputs, default=str)
