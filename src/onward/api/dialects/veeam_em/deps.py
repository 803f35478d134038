"""
Enterprise Manager dependencies: services, the logon session's principal, permissions.

A request names its logon session by the ``X-RestSvcSessionId`` header, or the
cookie of that name, which wins when both are sent (as the vendor does). The
token is an Onward session (from the logon) or API key. The dialect acts in the
workspace of the credential's limit, else ``default``.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Self, cast

from fastapi import Depends, Request

from onward.api.dialects.veeam_em.errors import EmRequestError
from onward.api.dialects.veeam_em.schemas import SESSION_HEADER
from onward.domain.access import Permission, Principal
from onward.runtime import Runtime
from onward.service.auth import DEFAULT_WORKSPACE, AuthService
from onward.service.commands import Caller
from onward.service.operations import Operations
from onward.service.plan_runs import PlanOperations
from onward.service.plan_status import PlanStatuses
from onward.service.sessions import Sessions


@dataclass(frozen=True, slots=True, kw_only=True)
class EmServices:
    """The use cases the dialect calls, built once per app."""

    sessions: Sessions
    statuses: PlanStatuses
    operations: PlanOperations

    @classmethod
    def build(cls, runtime: Runtime) -> Self:
        """Wire the dialect's services over a runtime."""
        return cls(
            sessions=Sessions(
                auth=runtime.auth, store=runtime.store, clock=runtime.engine.clock
            ),
            statuses=PlanStatuses(engine=runtime.engine),
            operations=PlanOperations(
                operations=Operations(store=runtime.store, commands=runtime.commands),
                store=runtime.store,
            ),
        )


def get_services(request: Request) -> EmServices:
    """Return the dialect's services of the app serving the request."""
    state = request.app.state
    services = getattr(state, "veeam_em", None)
    if services is None:
        services = EmServices.build(cast("Runtime", state.runtime))
        state.veeam_em = services
    return cast("EmServices", services)


ServicesDep = Annotated[EmServices, Depends(get_services)]


async def signed_in(request: Request, services: ServicesDep) -> Principal:
    """Return who the logon session (cookie, else header) belongs to."""
    token = request.cookies.get(SESSION_HEADER) or request.headers.get(SESSION_HEADER)
    if not token or not token.strip():
        msg = f"Authentication required: send the {SESSION_HEADER} header"
        raise EmRequestError(401, msg)
    return await services.sessions.authenticate(token.strip())


def _allowed(permission: Permission) -> Callable[..., Awaitable[Caller]]:
    async def caller(principal: Annotated[Principal, Depends(signed_in)]) -> Caller:
        workspace = principal.workspace_limit or DEFAULT_WORKSPACE
        AuthService.require(principal, permission, workspace)
        return Caller(actor=principal.username, workspace=workspace)

    caller.__doc__ = f"Require the {permission.value} permission."
    return caller


#: the logon session's principal (any permission)
SignedIn = Annotated[Principal, Depends(signed_in)]
#: may read jobs and tasks
Reader = Annotated[Caller, Depends(_allowed(Permission.READ))]
#: may start, stop and retry jobs, and stop tasks
Operator = Annotated[Caller, Depends(_allowed(Permission.OPERATE))]
