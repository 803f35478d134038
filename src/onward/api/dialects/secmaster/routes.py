"""
SecMaster routes: list, show and operate playbook instances (Onward runs).

Credentials: ``X-Auth-Token`` (an Onward session token or API key), or an
AK/SK signature (``service.access_keys``, ``signing``). ``workspace_id`` names
the Onward workspace; ``project_id`` is accepted as any value and echoed back.
Reading needs a role in the workspace, an operation the operate permission.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Self, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from onward.api.deps import Services
from onward.api.dialects.secmaster import schemas, signing
from onward.api.dialects.secmaster.errors import (
    NOT_FOUND,
    UNAUTHENTICATED,
    SecMasterRequestError,
    SecMasterRoute,
    error_response,
)
from onward.clock import Clock
from onward.domain.access import Permission, Principal
from onward.runtime import Runtime
from onward.service.access import AccessService
from onward.service.access_keys import AccessKeys
from onward.service.auth import AuthService
from onward.service.commands import Caller
from onward.service.run_control import RunControls
from onward.service.run_scans import FoundRun, RunScans

router = APIRouter(route_class=SecMasterRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecMasterServices:
    """The use cases the dialect calls, built once per app."""

    auth: AuthService
    access: AccessService
    keys: AccessKeys
    scans: RunScans
    controls: RunControls
    clock: Clock

    @classmethod
    def build(cls, runtime: Runtime, *, keys: AccessKeys) -> Self:
        """Wire the dialect's services over a runtime, with the app's access keys."""
        clock = runtime.engine.clock
        return cls(
            auth=runtime.auth,
            access=AccessService(store=runtime.store, auth=runtime.auth, clock=clock),
            keys=keys,
            scans=RunScans(store=runtime.store),
            controls=RunControls(commands=runtime.commands),
            clock=clock,
        )


def get_services(request: Request) -> SecMasterServices:
    """Return the dialect's services of the app serving the request."""
    state = request.app.state
    services = getattr(state, "secmaster", None)
    if services is None:
        # the native API's AccessKeys: the keys it makes are the ones verified here
        native = cast("Services", state.services)
        services = SecMasterServices.build(
            cast("Runtime", state.runtime), keys=native.access_keys
        )
        state.secmaster = services
    return cast("SecMasterServices", services)


ServicesDep = Annotated[SecMasterServices, Depends(get_services)]


async def signed_in(request: Request, services: ServicesDep) -> Principal:
    """Return who the X-Auth-Token or the AK/SK signature belongs to."""
    token = request.headers.get("x-auth-token", "").strip()
    if token:
        return await services.auth.authenticate(token)
    if signing.is_signed(request):
        return await signing.verify(request, services.keys, now=services.clock.now())
    raise SecMasterRequestError(
        401, UNAUTHENTICATED, "Send X-Auth-Token or an SDK-HMAC-SHA256 signature"
    )


SignedIn = Annotated[Principal, Depends(signed_in)]


def _scope(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def scope(
        workspace_id: str, principal: SignedIn, services: ServicesDep
    ) -> Principal:
        await services.access.authorize(principal, permission, workspace_id)
        return principal

    return scope


#: a principal that may read the path's workspace
Reader = Annotated[Principal, Depends(_scope(Permission.READ))]
#: a principal that may operate runs of the path's workspace
Operator = Annotated[Principal, Depends(_scope(Permission.OPERATE))]


async def _instance(
    workspace_id: str, instance_id: str, principal: Reader, services: ServicesDep
) -> FoundRun:
    return await services.scans.get(workspace_id, instance_id)


Instance = Annotated[FoundRun, Depends(_instance)]


@router.get(schemas.PREFIX)
async def list_instances(
    request: Request,
    project_id: str,
    workspace_id: str,
    principal: Reader,
    services: ServicesDep,
) -> JSONResponse:
    """Return a page of the workspace's playbook instances and their count."""
    query = schemas.parse_list_query(workspace_id, request.query_params)
    page = await services.scans.scan(
        query.run_filter,
        offset=query.offset,
        limit=query.limit,
        keep=query.keep,
        sources=True,
    )
    instances = [
        schemas.instance_body(run, page.sources.get(run.run_id), project_id)
        for run in page.runs
    ]
    return JSONResponse({"count": page.total, "instances": instances})


@router.get(f"{schemas.PREFIX}/{{instance_id}}")
async def show_instance(project_id: str, found: Instance) -> JSONResponse:
    """Return one playbook instance."""
    return JSONResponse(schemas.instance_body(found.run, found.source, project_id))


@router.post(f"{schemas.PREFIX}/{{instance_id}}/operation")
async def operate_instance(
    request: Request,
    project_id: str,
    found: Instance,
    principal: Operator,
    services: ServicesDep,
) -> JSONResponse:
    """RETRY (from the failed step) or TERMINATE a playbook instance."""
    control = schemas.parse_operation(await request.body())
    caller = Caller(
        actor=principal.username,
        reason=f"SecMaster {control.value}",
        workspace=found.run.workspace,
    )
    run = await services.controls.apply(control, found.run.run_id, caller=caller)
    return JSONResponse(schemas.instance_body(run, found.source, project_id))


@router.api_route(
    "/v1/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
)
async def unknown(path: str) -> JSONResponse:
    """Any other SecMaster path or method does not exist here."""
    return error_response(404, NOT_FOUND, "The requested API does not exist")
