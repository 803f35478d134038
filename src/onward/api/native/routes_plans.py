"""
Native routes of plans: apply (from YAML or JSON), read, versions, validate, delete,
enable and disable.

A plan body is one of: a YAML text (``application/yaml``, ``text/yaml``,
``application/x-yaml``), any text guessed by its first character
(``text/plain``), a JSON object ``{"source": "...", "format": "yaml"|"json"}``,
or a JSON plan document itself (``application/json``).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.body_limit import LimitedRoute
from onward.api.deps import Author, Reader, Services, ServicesDep
from onward.api.idempotency import Idem, Idempotency, Reply
from onward.api.native.schemas import (
    API_PREFIX,
    COMMON_PROBLEMS,
    NAME_LENGTH,
    PlanListOut,
    PlanOut,
    PlanSourceIn,
    PlanSummaryOut,
    PlanVersionListOut,
    PlanVersionOut,
    PlanVersionSummaryOut,
    ValidationOut,
    problem_responses,
)
from onward.service.commands import Caller
from onward.service.ports import PlanVersion

router = APIRouter(
    tags=["plans"],
    responses=problem_responses(*COMMON_PROBLEMS),
    route_class=LimitedRoute,
)

_YAML_TYPES: Final = ("application/yaml", "text/yaml", "application/x-yaml")
_PLAN_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "A plan in YAML or JSON, or {source, format}.",
        "content": {
            **{kind: {"schema": {"type": "string"}} for kind in _YAML_TYPES},
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/PlanSourceIn"},
                        {"type": "object", "description": "a plan document"},
                    ]
                }
            },
        },
    }
}
_WRITE: Final = problem_responses(400, 409, 415)

PlanName = Annotated[str, Path(max_length=NAME_LENGTH)]


@dataclass(frozen=True, slots=True)
class PlanText:
    """A plan text from a request body, and its format when told."""

    text: str
    format: str | None


async def plan_text(request: Request) -> PlanText:
    """Read the plan text of a request body in any of the accepted forms."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if media in _YAML_TYPES:
        return PlanText(_decoded(body), "yaml")
    if media == "text/plain":
        return PlanText(_decoded(body), None)
    if media != "application/json":
        raise HTTPException(
            415, "Send application/yaml, text/plain or application/json"
        )
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from None
    if isinstance(document, dict) and "source" in document:
        try:
            given = PlanSourceIn.model_validate(document)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from None
        return PlanText(given.source, given.format)
    if isinstance(document, dict):
        return PlanText(_decoded(body), "json")
    msg = "expected a plan document (an object) or {source, format}"
    raise RequestValidationError([{"type": "type", "loc": ("body",), "msg": msg}])


PlanBody = Annotated[PlanText, Depends(plan_text)]


@router.get("/workspaces/{workspace}/plans", response_model=PlanListOut)
async def list_plans(scope: Reader, services: ServicesDep) -> PlanListOut:
    """List the workspace's plans by name, each with its latest version."""
    plans = await services.plans.list_plans(scope.workspace)
    return PlanListOut(plans=[PlanSummaryOut.of(p) for p in plans])


@router.post(
    "/workspaces/{workspace}/plans",
    status_code=201,
    response_model=PlanVersionOut,
    responses={
        200: {"description": "Unchanged: the latest version already is this plan"},
        **_WRITE,
    },
    openapi_extra=_PLAN_BODY,
)
async def apply_plan(
    body: PlanBody, scope: Author, idem: Idem, services: ServicesDep
) -> Response:
    """Store a plan as its next version (201), or answer 200 when unchanged."""

    async def act(caller: Caller) -> Reply:
        applied = await services.plans.apply(caller, body.text, format=body.format)
        return _applied(scope.workspace, applied.version, created=applied.created)

    return await idem.run(act)


@router.post(
    "/workspaces/{workspace}/plans/validate",
    response_model=ValidationOut,
    responses=problem_responses(400, 415),
    openapi_extra=_PLAN_BODY,
)
async def validate_plan(
    body: PlanBody, scope: Reader, services: ServicesDep
) -> ValidationOut:
    """Check a plan without storing it: every problem, with its path and line."""
    return ValidationOut.of(services.plans.validate(body.text, format=body.format))


@router.get("/workspaces/{workspace}/plans/{name}", response_model=PlanOut)
async def get_plan(name: PlanName, scope: Reader, services: ServicesDep) -> PlanOut:
    """Return a plan's latest version, with its text and document, and its switch."""
    return PlanOut.current(await services.switches.current(scope.workspace, name))


@router.put(
    "/workspaces/{workspace}/plans/{name}",
    status_code=201,
    response_model=PlanVersionOut,
    responses={200: {"description": "Unchanged"}, **_WRITE},
    openapi_extra=_PLAN_BODY,
)
async def put_plan(
    name: PlanName, body: PlanBody, scope: Author, idem: Idem, services: ServicesDep
) -> Response:
    """Store a plan of this name as its next version (its name must match)."""

    async def act(caller: Caller) -> Reply:
        applied = await services.plans.apply(
            caller, body.text, format=body.format, name=name
        )
        return _applied(scope.workspace, applied.version, created=applied.created)

    return await idem.run(act)


@router.delete(
    "/workspaces/{workspace}/plans/{name}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(409),
)
async def delete_plan(
    name: PlanName, scope: Author, idem: Idem, services: ServicesDep
) -> Response:
    """Delete a plan and all its versions; refused (409) while runs use it."""

    async def act(caller: Caller) -> Reply:
        await services.plans.delete(scope.workspace, name)
        return Reply(status=204)

    return await idem.run(act)


def _switch_route(switch: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a route that turns a plan on or off: 200 with the plan, or a problem."""
    return router.post(
        f"/workspaces/{{workspace}}/plans/{{name}}/{switch}",
        response_model=PlanOut,
        responses=problem_responses(409),
    )


@_switch_route("enable")
async def enable_plan(
    name: PlanName, scope: Author, idem: Idem, services: ServicesDep
) -> Response:
    """Enable a plan: it starts runs again and its triggers fire (200, the plan).

    Enabling an enabled plan changes nothing. ``X-Reason`` is logged with the
    actor.
    """
    return await _switch(name, idem, services, enabled=True)


@_switch_route("disable")
async def disable_plan(
    name: PlanName, scope: Author, idem: Idem, services: ServicesDep
) -> Response:
    """Disable a plan: it starts no run, manual, triggered or chained (200, the plan).

    Runs already started go on. Disabling a disabled plan changes nothing.
    ``X-Reason`` is logged with the actor.
    """
    return await _switch(name, idem, services, enabled=False)


async def _switch(
    name: str, idem: Idempotency, services: Services, *, enabled: bool
) -> Response:
    async def act(caller: Caller) -> Reply:
        switched = await services.switches.set_plan_enabled(
            name, enabled=enabled, caller=caller
        )
        return Reply(status=200, body=PlanOut.current(switched))

    return await idem.run(act)


@router.get(
    "/workspaces/{workspace}/plans/{name}/versions", response_model=PlanVersionListOut
)
async def list_plan_versions(
    name: PlanName, scope: Reader, services: ServicesDep
) -> PlanVersionListOut:
    """List every version of a plan, oldest first."""
    versions = await services.plans.versions(scope.workspace, name)
    return PlanVersionListOut(versions=[PlanVersionSummaryOut.of(v) for v in versions])


@router.get(
    "/workspaces/{workspace}/plans/{name}/versions/{version}",
    response_model=PlanVersionOut,
)
async def get_plan_version(
    name: PlanName,
    version: Annotated[int, Path(ge=1, le=2**31)],
    scope: Reader,
    services: ServicesDep,
) -> PlanVersionOut:
    """Return one version of a plan, with its text and document."""
    return PlanVersionOut.of(await services.plans.get(scope.workspace, name, version))


def _applied(workspace: str, version: PlanVersion, *, created: bool) -> Reply:
    location = (
        f"{API_PREFIX}/workspaces/{workspace}/plans/{version.name}"
        f"/versions/{version.version}"
    )
    return Reply(
        status=201 if created else 200,
        body=PlanVersionOut.of(version),
        location=location,
    )


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        problem = errors.Problem("", "the plan text is not UTF-8")
        raise errors.InvalidDefinitionError([problem], subject="plan") from None
