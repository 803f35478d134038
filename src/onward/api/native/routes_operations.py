"""
Native routes of operations: follow an accepted command, list them, cancel one.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from onward.api.body_limit import LimitedRoute
from onward.api.deps import Operator, Reader, ServicesDep
from onward.api.idempotency import Idem, Reply
from onward.api.native.operation_schemas import (
    AcceptedOut,
    OperationListOut,
    OperationOut,
)
from onward.api.native.routes_runs import accepted
from onward.api.native.schemas import COMMON_PROBLEMS, NAME_LENGTH, problem_responses
from onward.service.commands import Caller

router = APIRouter(
    tags=["operations"],
    responses=problem_responses(*COMMON_PROBLEMS),
    route_class=LimitedRoute,
)
_OPERATION = "/workspaces/{workspace}/operations/{operation_id}"


@router.get("/workspaces/{workspace}/operations", response_model=OperationListOut)
async def list_operations(
    scope: Reader,
    services: ServicesDep,
    run_id: Annotated[str | None, Query(max_length=NAME_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> OperationListOut:
    """List the workspace's operations (of one run, if named), newest first."""
    found = await services.operations.list_operations(
        scope.workspace, run_id=run_id, limit=limit
    )
    return OperationListOut(operations=[OperationOut.of(v) for v in found])


@router.get(_OPERATION, response_model=OperationOut)
async def get_operation(
    operation_id: str, scope: Reader, services: ServicesDep
) -> OperationOut:
    """Return an operation: running until its run rests, then done with the result."""
    return OperationOut.of(await services.operations.get(scope.workspace, operation_id))


@router.delete(
    _OPERATION,
    status_code=202,
    response_model=AcceptedOut,
    responses=problem_responses(409),
)
async def cancel_operation(
    operation_id: str,
    scope: Operator,
    idem: Idem,
    services: ServicesDep,
    force: bool = False,
) -> Response:
    """Cancel the run of a running operation; answers the cancel's own operation."""

    async def act(caller: Caller) -> Reply:
        view = await services.operations.cancel(caller, operation_id, force=force)
        return accepted(view)

    return await idem.run(act, atomic=True)
