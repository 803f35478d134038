"""
VAO dependencies: services, the bearer principal, permissions, path values.

Credentials: ``Authorization: Bearer <access token>`` from the token endpoint,
or an Onward API key. The dialect acts in the workspace of the credential's
limit, else ``default``.

Query values are read as Web API binds them: names in any case, the first
value of a name repeated; ``start`` and ``limit`` are the vendor's ``Int32``
(ASCII digits, at most 2,147,483,647), ``onlyEnabled`` a .NET ``Boolean``
(``true`` or ``false`` in any case, surrounding spaces ignored).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Self, cast

from fastapi import Depends, Path, Request

from onward import errors
from onward.api.dialects import values
from onward.clock import Clock
from onward.domain.access import Permission, Principal
from onward.runtime import Runtime
from onward.service.auth import DEFAULT_WORKSPACE, AuthService
from onward.service.commands import Caller
from onward.service.plan_runs import PlanRuns
from onward.service.plan_status import PlanStatuses
from onward.service.plan_switches import PlanSwitches
from onward.service.plan_uuids import parse_uuid
from onward.service.sessions import Sessions


@dataclass(frozen=True, slots=True, kw_only=True)
class VaoServices:
    """The use cases the dialect calls, built once per app."""

    sessions: Sessions
    statuses: PlanStatuses
    switches: PlanSwitches
    runs: PlanRuns
    clock: Clock

    @classmethod
    def build(cls, runtime: Runtime) -> Self:
        """Wire the dialect's services over a runtime."""
        clock = runtime.engine.clock
        return cls(
            sessions=Sessions(auth=runtime.auth, store=runtime.store, clock=clock),
            statuses=PlanStatuses(engine=runtime.engine),
            switches=PlanSwitches(store=runtime.store, clock=clock),
            runs=PlanRuns(commands=runtime.commands),
            clock=clock,
        )


def get_services(request: Request) -> VaoServices:
    """Return the dialect's services of the app serving the request."""
    state = request.app.state
    services = getattr(state, "vao", None)
    if services is None:
        services = VaoServices.build(cast("Runtime", state.runtime))
        state.vao = services
    return cast("VaoServices", services)


ServicesDep = Annotated[VaoServices, Depends(get_services)]


async def signed_in(request: Request, services: ServicesDep) -> Principal:
    """Return who the bearer access token belongs to."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        msg = "Send Authorization: Bearer <access token>"
        raise errors.AuthenticationError(msg)
    return await services.sessions.authenticate(token.strip())


def _allowed(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    async def caller(principal: Annotated[Principal, Depends(signed_in)]) -> Caller:
        workspace = principal.workspace_limit or DEFAULT_WORKSPACE
        AuthService.require(principal, permission, workspace)
        return Caller(actor=principal.username, workspace=workspace)

    caller.__doc__ = f"Require the {permission.value} permission."
    return caller


#: the signed-in principal (any permission)
SignedIn = Annotated[Principal, Depends(signed_in)]
#: may read plans
Reader = Annotated[Caller, Depends(_allowed(Permission.READ))]
#: may run, continue and halt plans
Operator = Annotated[Caller, Depends(_allowed(Permission.OPERATE))]
#: may change plans
Author = Annotated[Caller, Depends(_allowed(Permission.AUTHOR))]


def query_value(request: Request, name: str) -> str | None:
    """Return the first value of a query parameter named in any case, if any."""
    wanted = name.lower()
    return next(
        (
            value
            for key, value in request.query_params.multi_items()
            if key.lower() == wanted
        ),
        None,
    )


def start_of(request: Request) -> int:
    """Return ``start``: how many items of the collection to skip (0 if absent)."""
    text = query_value(request, "start")
    return 0 if text is None else _int32(text, "start")


def limit_of(request: Request) -> int | None:
    """Return ``limit``: at most how many items to return (None: all)."""
    text = query_value(request, "limit")
    return None if text is None else _int32(text, "limit")


def only_enabled_of(request: Request) -> bool:
    """Return ``onlyEnabled``: whether to list the enabled plans only."""
    name = "onlyEnabled"
    text = query_value(request, name)
    if text is None:
        return False
    word = text.strip().lower()
    if word not in ("true", "false"):
        raise not_valid(name, text)
    return word == "true"


#: collection paging: items skipped, and at most how many returned
Start = Annotated[int, Depends(start_of)]
Limit = Annotated[int | None, Depends(limit_of)]
#: list only the enabled plans
OnlyEnabled = Annotated[bool, Depends(only_enabled_of)]


def not_valid(name: str, text: str) -> errors.InvalidDefinitionError:
    """Return the refusal of a value that cannot be read (Web API's binding words)."""
    msg = f"The value '{text}' is not valid for {name}."
    return errors.InvalidDefinitionError([errors.Problem(name, msg)], subject="request")


def _int32(text: str, name: str) -> int:
    found = values.decimal(text, maximum=values.INT32_MAX)
    if found is None:
        raise not_valid(name, text)
    return found


def _uuid_of(name: str) -> Callable[[str], uuid.UUID]:
    def value(text: Annotated[str, Path(alias=name)]) -> uuid.UUID:
        found = parse_uuid(text)
        if found is None:
            raise not_valid(name, text)
        return found

    value.__doc__ = f"Return the {name} of the path as a UUID."
    return value


PlanId = Annotated[uuid.UUID, Depends(_uuid_of("planId"))]
GroupId = Annotated[uuid.UUID, Depends(_uuid_of("groupId"))]
VmId = Annotated[uuid.UUID, Depends(_uuid_of("vmId"))]
