"""
SecMaster routes: list, show and operate playbook instances (Onward runs).

Credentials: ``X-Auth-Token`` (an Onward session token or API key), or an
AK/SK signature (``service.access_keys``, ``signing``). ``workspace_id`` names
the Onward workspace; ``project_id`` is accepted as any value and echoed back.
Reading needs a role in the workspace, an operation the operate permission.
Any other path under ``/v1``, or a method a path does not take, is the 404 of
Huawei Cloud's API gateway (APIG.0101: it routes by path and method alike).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Final, Self, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from onward import errors
from onward.api.deps import Services
from onward.api.dialects.routing import AnyMethod
from onward.api.dialects.secmaster import schemas, signing
from onward.api.dialects.secmaster.errors import (
    NOT_FOUND,
    UNAUTHENTICATED,
    SecMasterRequestError,
    SecMasterRoute,
    error_response,
)
from onward.api.dialects.secmaster.instances import Instance, Instances
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

#: the longest workspace or instance id looked up
_MAX_ID: Final = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class SecMasterServices:
    """The use cases the dialect calls, built once per app."""

    auth: AuthService
    access: AccessService
    keys: AccessKeys
    instances: Instances
    clock: Clock

    @classmethod
    def build(cls, runtime: Runtime, *, keys: AccessKeys) -> Self:
        """Wire the dialect's services over a runtime, with the app's access keys."""
        clock = runtime.engine.clock
        return cls(
            auth=runtime.auth,
            access=AccessService(store=runtime.store, auth=runtime.auth, clock=clock),
            keys=keys,
            instances=Instances(
                scans=RunScans(store=runtime.store),
                queries=runtime.queries,
                controls=RunControls(commands=runtime.commands),
            ),
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


def _may_name_a_record(name: str) -> bool:
    """Tell whether a path's name is worth looking up.

    No record has a name longer than ``_MAX_ID`` or with control characters,
    and a NUL would make PostgreSQL fail rather than find nothing.
    """
    return len(name) <= _MAX_ID and name.isprintable()


def _scope(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    async def scope(
        workspace_id: str, principal: SignedIn, services: ServicesDep
    ) -> Principal:
        if not _may_name_a_record(workspace_id):
            raise errors.WorkspaceNotFoundError(workspace=workspace_id[:_MAX_ID])
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
    if not _may_name_a_record(instance_id):
        raise errors.RunNotFoundError(run_id=instance_id[:_MAX_ID])
    return await services.instances.get(workspace_id, instance_id)


Found = Annotated[FoundRun, Depends(_instance)]


def _body(instance: Instance, project_id: str) -> JSONResponse:
    return JSONResponse(
        schemas.instance_body(
            instance.run, instance.source, project_id, retried=instance.retried
        )
    )


@router.get(schemas.PREFIX)
async def list_instances(
    request: Request,
    project_id: str,
    workspace_id: str,
    principal: Reader,
    services: ServicesDep,
) -> JSONResponse:
    """Return a page of the workspace's playbook instances and their count."""
    query = schemas.parse_list_query(workspace_id, request.query_params.multi_items())
    page = await services.instances.page(query)
    instances = [
        schemas.instance_body(i.run, i.source, project_id, retried=i.retried)
        for i in page.instances
    ]
    return JSONResponse({"count": page.count, "instances": instances})


@router.get(f"{schemas.PREFIX}/{{instance_id}}")
async def show_instance(
    project_id: str, found: Found, services: ServicesDep
) -> JSONResponse:
    """Return one playbook instance."""
    return _body(await services.instances.show(found), project_id)


@router.post(f"{schemas.PREFIX}/{{instance_id}}/operation")
async def operate_instance(
    request: Request,
    project_id: str,
    found: Found,
    principal: Operator,
    services: ServicesDep,
) -> JSONResponse:
    """RETRY (from the failed step) or TERMINATE a playbook instance."""
    operation = schemas.parse_operation(
        request.headers.get("content-type"), await request.body()
    )
    caller = Caller(
        actor=principal.username,
        reason=f"SecMaster {operation}",
        workspace=found.run.workspace,
    )
    instance = await services.instances.operate(found, operation, caller=caller)
    return _body(instance, project_id)


async def unknown(path: str) -> JSONResponse:
    """Any other SecMaster path, or a method its path does not take, is no API."""
    return error_response(404, NOT_FOUND, "The requested API does not exist")


class _Fallback(AnyMethod, SecMasterRoute):
    """The route of what the others leave: every method, as the gateway answers."""


# any method a path lacks, too: the gateway answers it with a 404
router.add_api_route("/v1/{path:path}", unknown, route_class_override=_Fallback)
