"""
JP1/AO routes under ``/Automation/v1``: tasks, their action descriptors, invoke.

Credentials: ``Authorization: Basic`` (an Onward username and password; a
success is remembered for 30 s, see ``service.credential_cache``), or
``Authorization: HSSO <secret>`` / ``Bearer <secret>`` with an Onward session
token or API key. Listing needs a role in the dialect's workspace (without one
the list is empty); a task needs the read permission, an invoke the operate
permission (JP1/AO answers 404 to an invalid permission).
"""

import binascii
import json
from base64 import b64decode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Self, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from onward.api.dialects.jp1ao import hql, schemas
from onward.api.dialects.jp1ao.errors import (
    NOT_FOUND_MESSAGE,
    Jp1RequestError,
    Jp1Route,
    error_response,
)
from onward.clock import Clock
from onward.domain.access import Permission, Principal
from onward.domain.runs import Run
from onward.runtime import Runtime
from onward.service.auth import AuthService
from onward.service.commands import Caller
from onward.service.credential_cache import PasswordCache
from onward.service.numbers import Numbers
from onward.service.run_control import RunControls, controls_for
from onward.service.run_scans import RunScans

router = APIRouter(prefix=schemas.PREFIX, route_class=Jp1Route, include_in_schema=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Jp1Services:
    """The use cases the dialect calls, built once per app."""

    auth: AuthService
    passwords: PasswordCache
    numbers: Numbers
    scans: RunScans
    controls: RunControls
    clock: Clock

    @classmethod
    def build(cls, runtime: Runtime) -> Self:
        """Wire the dialect's services over a runtime."""
        clock = runtime.engine.clock
        return cls(
            auth=runtime.auth,
            passwords=PasswordCache(auth=runtime.auth, clock=clock),
            numbers=Numbers(store=runtime.store),
            scans=RunScans(store=runtime.store),
            controls=RunControls(commands=runtime.commands),
            clock=clock,
        )


def get_services(request: Request) -> Jp1Services:
    """Return the dialect's services of the app serving the request."""
    state = request.app.state
    services = getattr(state, "jp1ao", None)
    if services is None:
        services = Jp1Services.build(cast("Runtime", state.runtime))
        state.jp1ao = services
    return cast("Jp1Services", services)


ServicesDep = Annotated[Jp1Services, Depends(get_services)]


async def signed_in(request: Request, services: ServicesDep) -> Principal:
    """Return who the request's Basic or HSSO/Bearer credentials belong to."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        username, password = _basic(value)
        address = request.client.host if request.client else "unknown"
        return await services.passwords.verify(username, password, address=address)
    if scheme.lower() in ("hsso", "bearer") and value.strip():
        return await services.auth.authenticate(value.strip())
    raise Jp1RequestError(401, "The user does not have login permission.")


SignedIn = Annotated[Principal, Depends(signed_in)]


def _basic(value: str) -> tuple[str, str]:
    """Return the username and password of Basic credentials; raise a 401."""
    try:
        decoded = b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    username, colon, password = decoded.partition(":")
    if not colon:
        raise Jp1RequestError(401, "The Basic credentials cannot be read.")
    return username, password


def _task_of(permission: Permission) -> Callable[..., Awaitable[Run]]:
    async def task(task_id: str, principal: SignedIn, services: ServicesDep) -> Run:
        if not task_id.isdigit() or len(task_id) > 19:
            raise Jp1RequestError(404, NOT_FOUND_MESSAGE)
        services.auth.require(principal, permission, schemas.WORKSPACE)
        return await services.numbers.find_run(schemas.WORKSPACE, int(task_id))

    return task


#: the path's task, readable by the principal
ReadTask = Annotated[Run, Depends(_task_of(Permission.READ))]
#: the path's task, which the principal may operate
OperableTask = Annotated[Run, Depends(_task_of(Permission.OPERATE))]


def _json(body: Any) -> JSONResponse:
    if hasattr(body, "model_dump"):
        body = body.model_dump(by_alias=True, mode="json")
    return JSONResponse(body)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/objects/Tasks")
async def list_tasks(
    request: Request, principal: SignedIn, services: ServicesDep
) -> JSONResponse:
    """Return the tasks (runs) the user may see, filtered, sorted and paged."""
    query = hql.parse_list_query(request.query_params.multi_items())
    if principal.may(Permission.READ, schemas.WORKSPACE):
        page = await services.scans.scan(
            query.run_filter,
            offset=query.offset,
            limit=query.limit,
            keep=query.keep,
            oldest_first=query.oldest_first,
        )
        runs, total = page.runs, page.total
    else:
        runs, total = (), 0
    data = [schemas.task_body(run, query.fields) for run in runs]
    return _json({"data": data, "count": total})


@router.get("/objects/Tasks/{task_id}")
async def get_task(task: ReadTask) -> JSONResponse:
    """Return one task."""
    return _json(schemas.task_body(task))


@router.get("/objects/Tasks/{task_id}/actions")
async def list_actions(request: Request, task: ReadTask) -> JSONResponse:
    """Return the descriptors of the actions the task allows now."""
    names = schemas.action_names(controls_for(task))
    data = [schemas.descriptor(_base(request), task, name) for name in names]
    return _json(schemas.ActionList(data=data, count=len(data)))


@router.get("/objects/Tasks/{task_id}/actions/{action}")
async def get_action(request: Request, action: str, task: ReadTask) -> JSONResponse:
    """Return the descriptor to post back to invoke an action."""
    if action not in schemas.ACTIONS:
        raise Jp1RequestError(404, NOT_FOUND_MESSAGE)
    return _json(schemas.descriptor(_base(request), task, action))


@router.post("/objects/Tasks/{task_id}/actions/{action}/invoke")
async def invoke_action(
    request: Request,
    action: str,
    task: OperableTask,
    principal: SignedIn,
    services: ServicesDep,
) -> JSONResponse:
    """Carry out an action: stop, forceStop, rerunStart or rerunStepStart."""
    control = schemas.ACTIONS.get(action)
    if control is None:
        raise Jp1RequestError(404, NOT_FOUND_MESSAGE)
    _check_descriptor(await request.body(), action)
    caller = Caller(
        actor=principal.username, reason=f"JP1/AO {action}", workspace=task.workspace
    )
    run = await services.controls.apply(control, task.run_id, caller=caller)
    now = schemas.iso(services.clock.now()) or ""
    number = schemas.task_number(run)
    return _json(
        schemas.InvokeResult(
            instance_id=str(number),
            created=now,
            updated=now,
            completed=now,
            state="success",
            affected_resources=[f"{_base(request)}{schemas.TASKS}/{number}"],
        )
    )


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"],
)
async def unknown(request: Request, path: str) -> Response:
    """Answer a CORS preflight; any other path or method does not exist."""
    if request.method == "OPTIONS":
        return Response(status_code=200)
    return error_response(request, 404, NOT_FOUND_MESSAGE)


def _check_descriptor(raw: bytes, action: str) -> None:
    """Refuse an invoke body that is not the action's descriptor (none is fine)."""
    if not raw.strip():
        return
    try:
        body = json.loads(raw)
    except ValueError:
        raise Jp1RequestError(
            400, "The request body is not valid JSON.", message_id="generic error"
        ) from None
    if not isinstance(body, dict):
        raise Jp1RequestError(400, "The argument is invalid: expected an object.")
    if "name" in body and body["name"] != action:
        msg = f"The argument is invalid: name must be {action!r}."
        raise Jp1RequestError(400, msg)
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, list):
        raise Jp1RequestError(400, "The argument is invalid: parameters is a list.")
    if parameters:
        raise Jp1RequestError(400, f"The argument is invalid: {action} takes none.")
