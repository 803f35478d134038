"""
Operator commands, one async method each: apply plans, start, continue, retry, cancel.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from onward import errors
from onward.domain import events
from onward.domain.chains import find_cycle
from onward.domain.plan_schema import coerce_params, iter_document_steps, parse_plan
from onward.domain.plans import DEFAULT_PROCEDURE, Plan
from onward.domain.runs import Attempt, CancelMode, LaneKey, Run, RunState, Trigger
from onward.ids import new_run_id
from onward.service.engine import Command, Engine
from onward.service.plan_files import detect_format, document_digest, read_document
from onward.service.plan_switches import require_enabled
from onward.service.ports import ActionChecker, IdempotencyRecord, PlanVersion
from onward.service.recovery import check_recovery_start
from onward.service.schedules import schedule_problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """Who sends a command, why, and under which idempotency key."""

    actor: str = "operator"
    reason: str = ""
    idempotency_key: str | None = None
    workspace: str = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryOptions:
    """Choices of a failover: the restore point, and protecting storage after it."""

    #: the restore point to fail over to (ISO 8601); None: the latest
    restore_point: str | None = None
    #: run the plan's ``protect`` procedure once the failover succeeds
    protect_after: bool = False

    def as_request(self) -> dict[str, Any]:
        """Return the options as they count for idempotency (only when set)."""
        chosen: dict[str, Any] = {}
        if self.restore_point is not None:
            chosen["restore_point"] = self.restore_point
        if self.protect_after:
            chosen["protect_after"] = True
        return chosen

    def params_for(self, plan: Plan, procedure: str) -> dict[str, Any]:
        """Return the run parameters the options add; refuse misplaced options.

        A failover run always has ``restore_point`` (None: the latest).
        """
        problems = []
        if procedure != "failover" and self != RecoveryOptions():
            msg = "restore points and protect-after apply to failover only"
            problems.append(errors.Problem("procedure", msg))
        if self.protect_after and plan.procedure("protect") is None:
            msg = f"plan {plan.name!r} has no protect procedure"
            problems.append(errors.Problem("protect_after", msg))
        restore_point = _restore_point(self.restore_point, problems)
        if problems:
            raise errors.InvalidDefinitionError(problems, subject="run")
        return {"restore_point": restore_point} if procedure == "failover" else {}


def _restore_point(value: str | None, problems: list[errors.Problem]) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.append(
            errors.Problem("restore_point", f"not an ISO 8601 date-time: {value!r}")
        )
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


class Commands:
    """The use cases that change plans and runs."""

    def __init__(self, *, engine: Engine, checker: ActionChecker) -> None:
        self.engine = engine
        self.store = engine.store
        self._checker = checker

    def check_plan(
        self, text: str, *, source: str = "<plan>", format: str | None = None
    ) -> tuple[Plan, dict[str, Any]]:
        """Validate a plan text, actions included; raise InvalidDefinitionError.

        Problems of the document and of its steps' action inputs are reported
        together.
        """
        document = read_document(text, source=source, format=format)
        problems = [
            errors.Problem(f"{path}.with.{problem.path}".rstrip("."), problem.message)
            if problem.path
            else errors.Problem(f"{path}.action", problem.message)
            for path, action, inputs in iter_document_steps(document)
            for problem in self._checker.check(action, inputs)
        ]
        try:
            plan = parse_plan(document)
        except errors.InvalidDefinitionError as exc:
            raise errors.InvalidDefinitionError(
                [*exc.problems, *problems], subject="plan"
            ) from None
        problems.extend(schedule_problems(plan))
        if problems:
            raise errors.InvalidDefinitionError(problems, subject="plan")
        return plan, document

    async def apply_plan(
        self,
        text: str,
        *,
        source: str = "<plan>",
        format: str | None = None,
        caller: Caller = Caller(),
    ) -> PlanVersion:
        """Validate and store a plan; a changed plan gets a new version."""
        plan, document = self.check_plan(text, source=source, format=format)
        await self._refuse_chain_cycle(plan, workspace=caller.workspace)
        return await self.store.save_plan_version(
            workspace=caller.workspace,
            name=plan.name,
            source=text,
            format=detect_format(text, format),
            document=document,
            digest=document_digest(document),
            created_by=caller.actor,
            now=self.engine.clock.now(),
        )

    async def _refuse_chain_cycle(self, plan: Plan, *, workspace: str) -> None:
        """Refuse a plan whose chain leads back to itself through stored plans."""
        chains: dict[str, tuple[str, ...]] = {plan.name: plan.chain}
        waiting = list(plan.chain)
        while waiting:
            name = waiting.pop()
            if name in chains:
                continue
            try:
                stored = await self.store.get_plan_version(
                    workspace=workspace, name=name
                )
            except errors.PlanNotFoundError:
                chains[name] = ()
                continue
            chain = stored.document.get("chain") or ()
            chains[name] = tuple(c for c in chain if isinstance(c, str))
            waiting.extend(chains[name])
        cycle = find_cycle(plan.name, lambda name: chains.get(name, ()))
        if cycle is not None:
            msg = "the chain leads back to the plan: " + " -> ".join(cycle)
            raise errors.InvalidDefinitionError(
                [errors.Problem("chain", msg)], subject="plan"
            )

    async def start_run(
        self,
        plan_name: str,
        *,
        version: int | None = None,
        procedure: str = DEFAULT_PROCEDURE,
        params: Mapping[str, Any] | None = None,
        params_from_strings: bool = False,
        chain: bool = False,
        recovery: RecoveryOptions = RecoveryOptions(),
        trigger: Trigger = Trigger.MANUAL,
        triggered_by: str = "",
        follows: tuple[str, ...] | None = None,
        caller: Caller = Caller(),
    ) -> Run:
        """Start a run of a plan version (the latest by default).

        ``chain`` starts the plan's chained plans in order once the run succeeds
        (``follows`` names them instead, for runs started by a chain). A
        disabled plan starts no run (InvalidTransitionError, state ``disabled``).
        """
        request = {
            "plan": plan_name,
            "version": version,
            "procedure": procedure,
            "params": dict(params or {}),
            "chain": chain,
            **recovery.as_request(),
        }
        replay, record = await self._idempotency(caller, "start", request)
        if replay is not None:
            return replay
        stored = await self.store.get_plan_version(
            workspace=caller.workspace, name=plan_name, version=version
        )
        await require_enabled(self.store, workspace=caller.workspace, name=plan_name)
        plan = await self.engine.plan_version(
            workspace=stored.workspace, name=stored.name, version=stored.version
        )
        definition = plan.procedure(procedure)
        if definition is None:
            msg = f"plan {plan.name!r} has no procedure {procedure!r}"
            raise errors.InvalidDefinitionError(
                [errors.Problem("procedure", msg)], subject="run"
            )
        values = coerce_params(plan, params or {}, from_strings=params_from_strings)
        for key, value in recovery.params_for(plan, procedure).items():
            if value is not None or key not in values:
                values[key] = value
        await check_recovery_start(
            self.store, workspace=caller.workspace, plan=plan.name, procedure=procedure
        )
        run = Run(
            run_id=new_run_id(),
            plan_id=stored.plan_id,
            plan_name=stored.name,
            plan_version=stored.version,
            procedure=procedure,
            workspace=caller.workspace,
            params=values,
            created_at=self.engine.clock.now(),
            trigger=trigger,
            triggered_by=triggered_by or caller.actor,
            chain=chain or follows is not None,
            chain_rest=follows
            if follows is not None
            else (plan.chain if chain else ()),
            then_procedure="protect" if recovery.protect_after else None,
        )
        state = RunState(
            run=run, plan=plan, stages=definition.stages(), lanes={}, attempts={}
        )
        decision = await self.engine.create(
            state, _command(caller, "start", request, record)
        )
        return decision.run

    async def continue_run(
        self,
        run_id: str,
        option: events.ContinueOption | str,
        *,
        points: tuple[tuple[LaneKey, int], ...] | None = None,
        input_overrides: Mapping[str, Any] | None = None,
        preview_token: str | None = None,
        caller: Caller = Caller(),
    ) -> Run:
        """Go on with a halted run by one of the six continue options."""
        event = events.ContinueRequested(
            option=parse_option(option),
            points=points,
            input_overrides=dict(input_overrides or {}),
        )
        details = {
            "option": event.option.value,
            "points": [[k.stage, k.target, s] for k, s in points or ()],
            "input_overrides": dict(event.input_overrides),
        }
        return await self._send(
            run_id, event, "continue", details, caller, preview_token
        )

    async def retry_run(
        self,
        run_id: str,
        *,
        preview_token: str | None = None,
        caller: Caller = Caller(),
    ) -> Run:
        """Run a failed run again from each failed step."""
        return await self._send(
            run_id, events.RetryRequested(), "retry", {}, caller, preview_token
        )

    async def cancel_run(
        self, run_id: str, *, force: bool = False, caller: Caller = Caller()
    ) -> Run:
        """Cancel a run: gracefully, or killing running attempts."""
        mode = CancelMode.FORCE if force else CancelMode.GRACEFUL
        return await self._send(
            run_id,
            events.CancelRequested(mode=mode),
            "cancel",
            {"mode": mode.value},
            caller,
        )

    async def resume_run(
        self, run_id: str, *, lane: LaneKey, step: int, caller: Caller = Caller()
    ) -> Run:
        """Resume a halted target at a chosen step."""
        event = events.ResumeRequested(lane=lane, step=step)
        details = {"stage": lane.stage, "target": lane.target, "step": step}
        return await self._send(run_id, event, "resume", details, caller)

    async def decide_approval(
        self,
        run_id: str,
        *,
        approved: bool,
        attempt_id: str | None = None,
        comment: str = "",
        caller: Caller = Caller(),
    ) -> Run:
        """Approve or reject a waiting approval (the only one, or the named one).

        A step whose ``approvers`` input names people may be decided by them only.
        """
        state = await self._state_in_workspace(run_id, caller)
        waiting = {a.attempt_id: a for a in state.attempts.values() if a.approval}
        chosen = attempt_id or (next(iter(waiting)) if len(waiting) == 1 else None)
        if chosen is None or chosen not in waiting:
            reason = (
                "no such approval is waiting"
                if not waiting or chosen is not None
                else f"{len(waiting)} approvals wait; name one: "
                + ", ".join(sorted(waiting))
            )
            raise errors.InvalidTransitionError(
                subject=f"run {run_id}",
                state=state.run.status.value,
                command="approve" if approved else "reject",
                reason=reason,
            )
        _check_approver(state, waiting[chosen], caller)
        event = events.ApprovalDecided(
            attempt_id=chosen, approved=approved, comment=comment
        )
        name = "approve" if approved else "reject"
        return await self._send(
            run_id, event, name, {"attempt_id": chosen, "comment": comment}, caller
        )

    async def _send(
        self,
        run_id: str,
        event: events.Event,
        name: str,
        details: dict[str, Any],
        caller: Caller,
        preview_token: str | None = None,
    ) -> Run:
        request = {"run_id": run_id, **details}
        replay, record = await self._idempotency(caller, name, request)
        if replay is not None:
            return replay
        state = await self._state_in_workspace(run_id, caller)
        if preview_token is not None and preview_token != preview_token_of(state):
            raise errors.StaleStateError(
                subject=f"Run {run_id} (preview)",
                expected_version=_token_version(preview_token),
            )
        decision = await self.engine.apply(
            run_id, event, _command(caller, name, details, record)
        )
        return decision.run

    async def _state_in_workspace(self, run_id: str, caller: Caller) -> RunState:
        """Return a run's state; a run of another workspace is not found."""
        state = await self.engine.state(run_id)
        if state.run.workspace != caller.workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        return state

    async def _idempotency(
        self, caller: Caller, name: str, request: Mapping[str, Any]
    ) -> tuple[Run | None, IdempotencyRecord | None]:
        if caller.idempotency_key is None:
            return None, None
        digest = _digest({"command": name, **request})
        found = await self.store.find_idempotency(
            workspace=caller.workspace, key=caller.idempotency_key
        )
        if found is not None:
            if found.request_digest != digest:
                raise errors.IdempotencyConflictError(key=caller.idempotency_key)
            return await self.store.get_run(found.run_id), None
        record = IdempotencyRecord(
            workspace=caller.workspace,
            key=caller.idempotency_key,
            command=name,
            request_digest=digest,
            run_id="",
            created_at=self.engine.clock.now(),
        )
        return None, record


def parse_option(option: events.ContinueOption | str) -> events.ContinueOption:
    """Return the continue option named by ``option``; raise InvalidDefinitionError."""
    try:
        return events.ContinueOption(option)
    except ValueError:
        known = ", ".join(o.value for o in events.ContinueOption)
        msg = f"unknown continue option {option!r}; expected one of: {known}"
        raise errors.InvalidDefinitionError(
            [errors.Problem("option", msg)], subject="continue request"
        ) from None


def preview_token_of(state: RunState) -> str:
    """Return the token that proves a preview was made on this state of the run."""
    return f"{state.run.run_id}.v{state.run.version}"


def _token_version(token: str) -> int:
    _, _, version = token.rpartition(".v")
    return int(version) if version.isdigit() else -1


def _command(
    caller: Caller,
    name: str,
    details: Mapping[str, Any],
    record: IdempotencyRecord | None,
) -> Command:
    return Command(
        actor=caller.actor,
        name=name,
        reason=caller.reason,
        details=dict(details),
        idempotency=record,
    )


def _digest(request: Mapping[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_approver(state: RunState, attempt: Attempt, caller: Caller) -> None:
    """Refuse a caller who is not among the approval step's ``approvers``."""
    step = state.stages[attempt.lane.stage].steps[attempt.step]
    approvers = step.inputs.get("approvers") or ()
    if approvers and caller.actor not in approvers:
        raise errors.PermissionDeniedError(
            permission=f"decide the approval {attempt.attempt_id}",
            workspace=state.run.workspace,
        )
