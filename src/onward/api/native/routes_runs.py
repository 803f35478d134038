"""
Native routes of runs: start, list, read, operator commands, preview, audit, logs.

Every command answers 202 Accepted with the operation that follows it, in the
body and in ``Location``.
"""

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import AwareDatetime

from onward.api.body_limit import LimitedRoute
from onward.api.deps import Operator, Reader, ServicesDep
from onward.api.idempotency import Idem, Reply
from onward.api.native.operation_schemas import AcceptedOut, AuditOut, LogsOut
from onward.api.native.run_schemas import (
    CancelIn,
    ContinueIn,
    DecisionIn,
    PreviewIn,
    PreviewOut,
    RetryIn,
    RunDetailOut,
    RunPageOut,
    StartRunIn,
    StepRefIn,
    refs,
)
from onward.api.native.schemas import (
    API_PREFIX,
    COMMON_PROBLEMS,
    NAME_LENGTH,
    problem_responses,
)
from onward.domain.runs import RunStatus
from onward.service.commands import Caller, RecoveryOptions
from onward.service.operations import OperationView
from onward.service.ports import RunFilter

router = APIRouter(
    tags=["runs"],
    responses=problem_responses(*COMMON_PROBLEMS),
    route_class=LimitedRoute,
)

_RUN: Final = "/workspaces/{workspace}/runs/{run_id}"


def _command(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a command route: 202 with the operation, or a problem."""
    return router.post(
        path,
        status_code=202,
        response_model=AcceptedOut,
        responses=problem_responses(400, 409),
    )


def accepted(view: OperationView) -> Reply:
    """Return the 202 answer of an accepted command."""
    op = view.operation
    location = f"{API_PREFIX}/workspaces/{op.workspace}/operations/{op.operation_id}"
    return Reply(status=202, body=AcceptedOut.of(view), location=location)


@_command("/workspaces/{workspace}/runs")
async def start_run(
    body: StartRunIn, scope: Operator, idem: Idem, services: ServicesDep
) -> Response:
    """Start a run of a plan version (the latest by default) with parameters."""

    async def act(caller: Caller) -> Reply:
        return accepted(
            await services.operations.start_run(
                caller,
                body.plan,
                version=body.version,
                procedure=body.procedure,
                params=body.params,
                chain=body.chain,
                recovery=RecoveryOptions(
                    restore_point=(
                        body.restore_point.isoformat() if body.restore_point else None
                    ),
                    protect_after=body.protect_after,
                ),
            )
        )

    return await idem.run(act, atomic=True)


@router.get("/workspaces/{workspace}/runs", response_model=RunPageOut)
async def list_runs(
    scope: Reader,
    services: ServicesDep,
    plan: Annotated[str | None, Query(max_length=NAME_LENGTH)] = None,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    created_after: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunPageOut:
    """List runs newest first; pass ``next_cursor`` as ``cursor`` for the next page."""
    run_filter = RunFilter(
        workspace=scope.workspace,
        plan_name=plan,
        statuses=tuple(status or ()),
        created_after=created_after,
        created_before=created_before,
        cursor=cursor,
        limit=limit,
    )
    return RunPageOut.of(await services.runs.list_runs(run_filter))


@router.get(_RUN, response_model=RunDetailOut)
async def get_run(run_id: str, scope: Reader, services: ServicesDep) -> RunDetailOut:
    """Return a run with its whole stage/target/step/attempt tree."""
    return RunDetailOut.detail(await services.runs.detail(scope.workspace, run_id))


@_command(f"{_RUN}/continue")
async def continue_run(
    run_id: str, body: ContinueIn, scope: Operator, idem: Idem, services: ServicesDep
) -> Response:
    """Go on with a halted run by one of the six options, at all or some halt points."""

    async def act(caller: Caller) -> Reply:
        return accepted(
            await services.operations.continue_run(
                caller,
                run_id,
                body.option,
                points=refs(body.points),
                input_overrides=body.input_overrides,
                preview_token=body.preview_token,
            )
        )

    return await idem.run(act, atomic=True)


@_command(f"{_RUN}/retry")
async def retry_run(
    run_id: str,
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
    body: Annotated[RetryIn | None, Body()] = None,
) -> Response:
    """Run a failed run again from each failed step."""
    token = body.preview_token if body is not None else None

    async def act(caller: Caller) -> Reply:
        view = await services.operations.retry_run(caller, run_id, preview_token=token)
        return accepted(view)

    return await idem.run(act, atomic=True)


@_command(f"{_RUN}/cancel")
async def cancel_run(
    run_id: str,
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
    body: Annotated[CancelIn | None, Body()] = None,
) -> Response:
    """Cancel a run: gracefully (default), or with ``force`` killing running steps."""
    force = body.force if body is not None else False

    async def act(caller: Caller) -> Reply:
        return accepted(
            await services.operations.cancel_run(caller, run_id, force=force)
        )

    return await idem.run(act, atomic=True)


@_command(f"{_RUN}/approve")
async def approve(
    run_id: str,
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> Response:
    """Approve the waiting approval step (or the named attempt)."""
    return await _decide(run_id, body or DecisionIn(), idem, services, approved=True)


@_command(f"{_RUN}/reject")
async def reject(
    run_id: str,
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
    body: Annotated[DecisionIn | None, Body()] = None,
) -> Response:
    """Reject the waiting approval step (or the named attempt): the step fails."""
    return await _decide(run_id, body or DecisionIn(), idem, services, approved=False)


@_command(f"{_RUN}/resume")
async def resume_run(
    run_id: str, body: StepRefIn, scope: Operator, idem: Idem, services: ServicesDep
) -> Response:
    """Resume a halted run's target at a chosen step of its stage."""

    async def act(caller: Caller) -> Reply:
        view = await services.operations.resume_run(caller, run_id, body.ref())
        return accepted(view)

    return await idem.run(act, atomic=True)


@router.post(
    f"{_RUN}/preview",
    response_model=PreviewOut,
    responses=problem_responses(400, 409),
)
async def preview(
    run_id: str, body: PreviewIn, scope: Reader, services: ServicesDep
) -> PreviewOut:
    """Tell what a continue or retry would start and skip, with a token to apply it."""
    found = await services.runs.preview(
        scope.workspace,
        run_id,
        body.command,
        option=body.option,
        points=refs(body.points),
        input_overrides=body.input_overrides,
    )
    return PreviewOut.of(found)


@router.get(f"{_RUN}/audit", response_model=AuditOut)
async def audit(run_id: str, scope: Reader, services: ServicesDep) -> AuditOut:
    """Return the run's audit trail: who asked what, why, and the states around it."""
    return AuditOut.of(await services.runs.audit(scope.workspace, run_id))


@router.get(f"{_RUN}/logs", response_model=LogsOut)
async def logs(
    run_id: str,
    scope: Reader,
    services: ServicesDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    attempt_id: Annotated[str | None, Query(max_length=NAME_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> LogsOut:
    """Return log lines after ``after``; pass ``next_after`` for the next ones."""
    entries = await services.runs.logs(
        scope.workspace, run_id, after_seq=after, attempt_id=attempt_id, limit=limit
    )
    return LogsOut.of(entries, after)


async def _decide(
    run_id: str, body: DecisionIn, idem: Idem, services: ServicesDep, *, approved: bool
) -> Response:
    async def act(caller: Caller) -> Reply:
        view = await services.operations.decide_approval(
            caller,
            run_id,
            approved=approved,
            attempt_id=body.attempt_id,
            comment=body.comment,
        )
        return accepted(view)

    return await idem.run(act, atomic=True)
