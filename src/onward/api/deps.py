"""
Annotated dependencies of the native API: services, the signed-in principal, scopes.

Credentials come as ``Authorization: Bearer <secret>``, where the secret is a
session token from ``POST /api/v1/auth/login`` or an API key; a missing or
invalid one is a 401 problem with ``WWW-Authenticate: Bearer``. A workspace
scope (``Reader``, ``Operator``, ``Author``, ``Admin``) also checks the
principal's role in the ``{workspace}`` of the path: no role there is a 404
(the workspace's existence is not revealed), too low a role a 403.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Self, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from onward import errors
from onward.domain.access import Permission, Principal
from onward.runtime import Runtime
from onward.service.access import AccessService
from onward.service.access_keys import AccessKeys
from onward.service.auth import AuthService
from onward.service.operations import Operations
from onward.service.plan_library import PlanLibrary
from onward.service.plan_switches import PlanSwitches
from onward.service.run_events import RunChanges
from onward.service.workspace_runs import WorkspaceRuns


@dataclass(frozen=True, slots=True, kw_only=True)
class Services:
    """The use cases the native API calls, built once per app."""

    runtime: Runtime
    auth: AuthService
    access: AccessService
    #: the one AccessKeys of the app: native routes make keys, dialects verify them
    access_keys: AccessKeys
    plans: PlanLibrary
    #: turns plans off and on, and reads a plan with its switch
    switches: PlanSwitches
    runs: WorkspaceRuns
    operations: Operations
    changes: RunChanges

    @classmethod
    def build(
        cls, runtime: Runtime, *, poll_interval: timedelta = timedelta(seconds=1)
    ) -> Self:
        """Wire the API's services over a runtime."""
        clock = runtime.engine.clock
        return cls(
            runtime=runtime,
            auth=runtime.auth,
            access=AccessService(store=runtime.store, auth=runtime.auth, clock=clock),
            access_keys=AccessKeys(
                store=runtime.store,
                auth=runtime.auth,
                clock=clock,
                master=runtime.settings.access_key_master,
            ),
            plans=PlanLibrary(commands=runtime.commands),
            switches=PlanSwitches(store=runtime.store, clock=clock),
            runs=WorkspaceRuns(queries=runtime.queries),
            operations=Operations(store=runtime.store, commands=runtime.commands),
            changes=RunChanges(engine=runtime.engine, poll_interval=poll_interval),
        )


def get_services(request: Request) -> Services:
    """Return the services of the app serving the request."""
    return cast("Services", request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token from POST /api/v1/auth/login, or an API key.",
)


async def current_principal(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Return who the bearer credential belongs to; raise AuthenticationError."""
    if credentials is None:
        msg = "Send Authorization: Bearer <session token or API key>"
        raise errors.AuthenticationError(msg)
    return await services.auth.authenticate(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """A principal allowed to act in one workspace."""

    principal: Principal
    workspace: str


def _scope(permission: Permission) -> Callable[..., Awaitable[Scope]]:
    async def scope(
        workspace: str, principal: CurrentPrincipal, services: ServicesDep
    ) -> Scope:
        await services.access.authorize(principal, permission, workspace)
        return Scope(principal=principal, workspace=workspace)

    scope.__doc__ = (
        f"Require the {permission.value} permission in the path's workspace."
    )
    return scope


#: may read the workspace's plans, runs and operations (any role)
Reader = Annotated[Scope, Depends(_scope(Permission.READ))]
#: may start runs and decide how they go on (operator, author, admin)
Operator = Annotated[Scope, Depends(_scope(Permission.OPERATE))]
#: may change plans (author, admin)
Author = Annotated[Scope, Depends(_scope(Permission.AUTHOR))]
#: may manage the workspace's members (admin)
Admin = Annotated[Scope, Depends(_scope(Permission.ADMINISTER))]
