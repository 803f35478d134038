"""
JP1/AO routes under ``/Automation/v1``: tasks, their action descriptors, invoke.

Credentials: ``Authorization: Basic`` (an Onward username and password; a
success is remembered for 30 s, see ``service.credential_cache``), or
``Authorization: HSSO <secret>`` / ``Bearer <secret>`` with an Onward session
token or API key. A successful answer to Basic carries ``WWW-Authenticate:
HSSO <token>``, the token of the login's session (one per username and
password, reused: ``service.password_sessions``); one to HSSO gives back the
token sent; one to Bearer none.

Listing needs a role in the dialect's workspace (without one the list is
empty); a task needs the read permission, an invoke the operate permission
(JP1/AO answers 404 to an invalid permission). Tasks are addressed by their
instanceID, the number the store gave the run.

A GET path answers HEAD too; a method a path does not take is a 405 with
``Allow``; OPTIONS on any path is a CORS preflight (200).
"""

import binascii
from base64 import b64decode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Self, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.routing import Match

from onward import errors
from onward.api.dialects import values
from onward.api.dialects.jp1ao import hql, schemas
from onward.api.dialects.jp1ao.errors import (
    NOT_FOUND_MESSAGE,
    Jp1RequestError,
    Jp1Route,
    error_response,
    refusal,
    remember_token,
)
from onward.api.dialects.routing import AnyMethod
from onward.clock import Clock
from onward.domain.access import Permission, Principal
from onward.runtime import Runtime
from onward.service.auth import AuthService
from onward.service.commands import Caller
from onward.service.credential_cache import PasswordCache
from onward.service.numbers import NumberedRun, Numbers
from onward.service.password_sessions import PasswordSessions
from onward.service.run_control import RunControls, controls_for

router = APIRouter(prefix=schemas.PREFIX, route_class=Jp1Route, include_in_schema=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Jp1Services:
    """The use cases the dialect calls, built once per app."""

    auth: AuthService
    logins: PasswordSessions
    numbers: Numbers
    controls: RunControls
    clock: Clock

    @classmethod
    def build(cls, runtime: Runtime) -> Self:
        """Wire the dialect's services over a runtime."""
        clock = runtime.engine.clock
        return cls(
            auth=runtime.auth,
            logins=PasswordSessions(
                auth=runtime.auth,
                passwords=PasswordCache(auth=runtime.auth, clock=clock),
                store=runtime.store,
                clock=clock,
            ),
            numbers=Numbers(store=runtime.store),
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
    """Return who the request's Basic or HSSO/Bearer credentials belong to.

    Basic and HSSO name the HSSO token a successful answer gives back.
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, token = scheme.lower(), value.strip()
    if scheme == "basic":
        username, password = _basic(value)
        address = request.client.host if request.client else "unknown"
        login = await services.logins.sign_in(username, password, address=address)
        remember_token(request, login.token)
        return login.principal
    if scheme in ("hsso", "bearer") and token:
        principal = await services.auth.authenticate(token)
        if scheme == "hsso":
            remember_token(request, token)
        return principal
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


def _task_of(permission: Permission) -> Callable[..., Awaitable[NumberedRun]]:
    async def task(
        task_id: str, principal: SignedIn, services: ServicesDep
    ) -> NumberedRun:
        number = hql.whole_number(task_id)
        if number is None:
            raise Jp1RequestError(404, NOT_FOUND_MESSAGE)
        services.auth.require(principal, permission, schemas.WORKSPACE)
        return await services.numbers.find_run(schemas.WORKSPACE, number)

    return task


#: the path's task, readable by the principal
ReadTask = Annotated[NumberedRun, Depends(_task_of(Permission.READ))]
#: the path's task, which the principal may operate
OperableTask = Annotated[NumberedRun, Depends(_task_of(Permission.OPERATE))]


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
        page = await services.numbers.scan(
            query.run_filter,
            offset=query.offset,
            limit=query.limit,
            keep=query.keep,
            key=query.key,
            descending=query.descending,
        )
        tasks, total = page.runs, page.total
    else:
        tasks, total = (), 0
    data = [schemas.task_body(task, query.fields) for task in tasks]
    return _json({"data": data, "count": total})


@router.get("/objects/Tasks/{task_id}")
async def get_task(task: ReadTask) -> JSONResponse:
    """Return one task."""
    return _json(schemas.task_body(task))


@router.get("/objects/Tasks/{task_id}/actions")
async def list_actions(request: Request, task: ReadTask) -> JSONResponse:
    """Return the descriptors of the actions the task allows now."""
    names = schemas.action_names(controls_for(task.run))
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
    run = task.run
    caller = Caller(
        actor=principal.username, reason=f"JP1/AO {action}", workspace=run.workspace
    )
    try:
        await services.controls.apply(control, run.run_id, caller=caller)
    except errors.ConflictError as exc:
        raise refusal(
            exc, action=action, number=task.number, run_id=run.run_id, status=run.status
        ) from exc
    now = schemas.iso(services.clock.now()) or ""
    return _json(
        schemas.InvokeResult(
            instance_id=str(task.number),
            created=now,
            updated=now,
            completed=now,
            state="success",
            affected_resources=[schemas.task_url(_base(request), task)],
        )
    )


async def unknown(request: Request) -> Response:
    """Answer what no route takes: a preflight (200), a wrong method (405) or 404."""
    allowed = _methods_of(request)
    if request.method == "OPTIONS":
        headers = {"Allow": allowed} if allowed else {}
        return Response(status_code=200, headers=headers)
    if allowed:
        msg = f"The {request.method} method is not supported by this resource."
        return error_response(request, 405, msg, headers={"Allow": allowed})
    return error_response(request, 404, NOT_FOUND_MESSAGE)


class _Fallback(AnyMethod, Jp1Route):
    """A route of what the resources leave: every method, in JP1/AO's shapes."""


#: the last route, for any path under /Automation (another API version, or the
#: version's own path, too) and any method: Starlette's own 404, 405 and
#: trailing-slash redirect would answer without JP1/AO's body and headers
fallback = APIRouter(route_class=_Fallback, include_in_schema=False)
fallback.add_api_route(f"{schemas.ROOT}/{{path:path}}", unknown)


def _methods_of(request: Request) -> str:
    """Return the ``Allow`` value of the request's path ("" for no resource)."""
    methods = {
        method
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.matches(request.scope)[0] is not Match.NONE
        for method in route.methods or ()
    }
    return ", ".join(sorted(methods | {"OPTIONS"})) if methods else ""


def _check_descriptor(raw: bytes, action: str) -> None:
    """Refuse an invoke body that is not the action's descriptor (none is fine)."""
    if not raw.strip():
        return
    try:
        body = values.load_json(raw)
    except values.JsonBodyError as exc:
        raise Jp1RequestError(400, str(exc), message_id="generic error") from None
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
