"""
Enterprise Manager routes under ``/api``: logon sessions, jobs and tasks.

An EM job is an Onward plan (its ID the plan's UUID), a job session a run, a
task an operation. ``start`` starts the plan's ``run`` procedure, ``stop``
cancels its newest run gracefully, ``retry`` retries its newest run, which must
have ended failed. The task they answer with (202) is Running until the run
rests, then Finished with the outcome. Reading needs the read permission,
actions and stopping a task the operate permission. Under the vendor's paths,
a method a resource does not support is 405 (with ``Allow``), a path that names
no resource 404, both in the vendor's ``Error``.
"""

import uuid
from base64 import b64decode
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match

from onward import errors
from onward.api.dialects.routing import AnyMethod
from onward.api.dialects.veeam_em import render, resources
from onward.api.dialects.veeam_em.deps import (
    Operator,
    Reader,
    ServicesDep,
    SignedIn,
)
from onward.api.dialects.veeam_em.errors import (
    EmRequestError,
    EmRoute,
    job_refusal,
    task_refused,
)
from onward.api.dialects.veeam_em.schemas import (
    ACTIONS,
    REALM,
    SESSION_HEADER,
    check_version,
    job_id,
    operation_id,
    shown,
)
from onward.service.commands import Caller
from onward.service.operations import OperationView
from onward.service.plan_runs import PlanOperations

router = APIRouter(route_class=EmRoute, include_in_schema=False)

Format = Annotated[str | None, Query(alias="format")]
_ENTITY: Final = "entity"
#: what each job action asks of the plan's operations
_ACTS: Final[
    Mapping[
        str,
        Callable[[PlanOperations, Caller, uuid.UUID], Awaitable[OperationView]],
    ]
] = {
    "start": PlanOperations.start,
    "stop": PlanOperations.cancel_newest,
    "retry": PlanOperations.retry_newest,
}
#: the vendor's paths: the root, and the collections with the trees below them
_ROOTS: Final = ("/api", "/api/")
_TREES: Final = ("/api/sessionMngr", "/api/logonSessions", "/api/jobs", "/api/tasks")


@router.get("/api/")
@router.get("/api")
async def root(request: Request) -> Response:
    """Return the API root: the links to log on (no credentials needed)."""
    return render.respond(
        request, resources.enterprise_manager(render.base_url(request))
    )


@router.post("/api/sessionMngr/")
@router.post("/api/sessionMngr")
async def logon(
    request: Request,
    services: ServicesDep,
    version: Annotated[str | None, Query(alias="v")] = None,
) -> Response:
    """Open a logon session with Basic credentials (201, the token in a header)."""
    check_version(version)
    username, password = _basic(request)
    address = request.client.host if request.client is not None else ""
    try:
        grant = await services.sessions.login(username, password, address=address)
    except errors.RateLimitedError:
        raise
    except errors.AuthenticationError as exc:
        raise EmRequestError(
            401, exc.message, headers={"WWW-Authenticate": REALM}
        ) from exc
    base = render.base_url(request)
    session = resources.session_id(grant.credential_id)
    response = render.respond(
        request,
        resources.logon_session(base, username=grant.username, session=session),
        status=201,
        headers={
            SESSION_HEADER: grant.access_token,
            "Location": f"{base}logonSessions/{session}",
        },
    )
    response.set_cookie(
        SESSION_HEADER,
        grant.access_token,
        path="/api",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.get("/api/logonSessions")
async def list_logon_sessions(request: Request, principal: SignedIn) -> Response:
    """Return the logon sessions this session sees: itself."""
    return render.respond(
        request,
        resources.logon_sessions(
            render.base_url(request),
            username=principal.username,
            session=resources.session_id(principal.credential_id),
        ),
    )


@router.get("/api/logonSessions/{session}")
async def get_logon_session(
    request: Request, principal: SignedIn, session: str
) -> Response:
    """Return this logon session (another is not found)."""
    found = _own_session(principal.credential_id, session)
    base = render.base_url(request)
    element = resources.logon_session(base, username=principal.username, session=found)
    return render.respond(request, element)


@router.delete("/api/logonSessions/{session}")
async def logout(principal: SignedIn, services: ServicesDep, session: str) -> Response:
    """Log out: end this logon session (another is not found)."""
    _own_session(principal.credential_id, session)
    try:
        await services.sessions.logout(principal)
    except errors.ConflictError as exc:
        msg = "Logging out ends a logon session; this request used an API key"
        raise EmRequestError(409, msg) from exc
    return Response(status_code=204)


@router.get("/api/jobs")
async def list_jobs(
    request: Request, caller: Reader, services: ServicesDep, shape: Format = None
) -> Response:
    """Return the jobs (every plan of the workspace): references, or entities."""
    entity = _entity(shape)
    statuses, _ = await services.statuses.list_statuses(caller.workspace)
    base = render.base_url(request)
    if entity:
        return render.respond(request, resources.jobs(base, statuses))
    return render.respond(request, resources.job_references(base, statuses))


@router.get("/api/jobs/{job}")
async def get_job(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    job: str,
    shape: Format = None,
) -> Response:
    """Return a job: its reference, or its entity with ``?format=Entity``."""
    entity = _entity(shape)
    status = await services.statuses.get(caller.workspace, job_id(job))
    base = render.base_url(request)
    if entity:
        return render.respond(request, resources.job(base, status))
    return render.respond(
        request, resources.job_reference(base, status, name="EntityRef")
    )


@router.post("/api/jobs/{job}")
async def act_on_job(
    request: Request,
    caller: Operator,
    services: ServicesDep,
    job: str,
    action: Annotated[str | None, Query(alias="action")] = None,
) -> Response:
    """Start, stop or retry a job; answer 202 with the task that follows it."""
    plan = job_id(job)
    if action is None or action not in ACTIONS:
        known = ", ".join(ACTIONS)
        msg = f"Unknown action '{shown(action or '')}'; supported: {known}"
        raise EmRequestError(400, msg)
    try:
        view = await _ACTS[action](services.operations, caller, plan)
    except (errors.InvalidTransitionError, errors.InvalidDefinitionError) as exc:
        # the refusal names the job, and its last session, as the client knows them
        status = await services.statuses.get(caller.workspace, plan)
        raise job_refusal(action, status, exc) from exc
    return _accepted(request, view)


@router.get("/api/tasks/{task}")
async def get_task(
    request: Request, caller: Reader, services: ServicesDep, task: str
) -> Response:
    """Return a task: Running until its run rests, then Finished with the outcome."""
    view = await services.operations.get(caller.workspace, _operation(task))
    return render.respond(request, resources.task(render.base_url(request), view))


@router.delete("/api/tasks/{task}")
async def delete_task(caller: Operator, services: ServicesDep, task: str) -> Response:
    """Stop a running task's run (gracefully); a finished task is left as it is."""
    try:
        await services.operations.stop(caller, _operation(task))
    except errors.InvalidTransitionError as exc:
        raise EmRequestError(409, task_refused(task, exc.state)) from exc
    return Response(status_code=204)


async def no_resource(request: Request) -> Response:
    """Answer a method a resource does not support (405), or no resource (404)."""
    allowed = sorted(
        {
            method
            for route in router.routes
            if isinstance(route, APIRoute)
            and route.endpoint is not no_resource
            and route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods or ()
        }
    )
    path = shown(request.url.path)
    if allowed:
        msg = f"Method {shown(request.method)} is not allowed on {path}"
        raise EmRequestError(405, msg, headers={"Allow": ", ".join(allowed)})
    msg = f"Resource not found: {shown(request.method)} {path}"
    raise EmRequestError(404, msg)


class _Fallback(AnyMethod, EmRoute):
    """A route of what the resources leave: every method, in the vendor's envelope."""


# after every resource: what they leave unanswered under the vendor's paths
for _path in (*_ROOTS, *_TREES, *(f"{tree}/{{path:path}}" for tree in _TREES)):
    router.add_api_route(_path, no_resource, route_class_override=_Fallback)


def _accepted(request: Request, view: OperationView) -> Response:
    element = resources.task(render.base_url(request), view)
    href = str(element.attrs["Href"])
    return render.respond(request, element, status=202, headers={"Location": href})


def _entity(shape: str | None) -> bool:
    if shape is None:
        return False
    if shape.lower() == _ENTITY:
        return True
    msg = f"Unknown format '{shape}'; supported: Entity"
    raise EmRequestError(400, msg)


def _operation(task: str) -> str:
    """Return the operation id a task ID names; a task ID of no task is not found."""
    found = operation_id(task)
    if found is None:
        msg = f"Task not found: {shown(task)}"
        raise EmRequestError(404, msg)
    return found


def _own_session(credential_id: str, session: str) -> uuid.UUID:
    mine = resources.session_id(credential_id)
    if session.strip().lower() != str(mine):
        msg = f"Logon session not found: {shown(session)}"
        raise EmRequestError(404, msg)
    return mine


def _basic(request: Request) -> tuple[str, str]:
    """Return the Basic credentials (DOMAIN\\USER is USER: Onward has no domains).

    Credentials that are not base64, not UTF-8 once decoded, without a colon,
    or without a username, or a username with characters no username has (NUL,
    other control characters) are refused as no credentials.
    """
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII text
        decoded = ""
    username, colon, password = decoded.partition(":")
    valid = colon and username and username.isprintable()
    if scheme.lower() != "basic" or not valid:
        msg = "Authentication required: send Basic credentials"
        raise EmRequestError(401, msg, headers={"WWW-Authenticate": REALM})
    return username.rpartition("\\")[2], password
