"""
Native routes of access: workspaces, users, workspace members, API and access keys.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from onward.api.body_limit import LimitedRoute
from onward.api.deps import Admin, CurrentPrincipal, Reader, ServicesDep
from onward.api.idempotency import Idem, Reply
from onward.api.native.schemas import (
    API_PREFIX,
    COMMON_PROBLEMS,
    NAME_LENGTH,
    AccessKeyCreatedOut,
    AccessKeyIn,
    AccessKeyListOut,
    AccessKeyOut,
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyListOut,
    ApiKeyOut,
    MemberIn,
    MemberListOut,
    MemberOut,
    UserIn,
    UserListOut,
    UserOut,
    UserPatchIn,
    WorkspaceIn,
    WorkspaceListOut,
    WorkspaceOut,
    problem_responses,
)
from onward.service.commands import Caller

router = APIRouter(
    responses=problem_responses(*COMMON_PROBLEMS), route_class=LimitedRoute
)
_WRITE = problem_responses(400, 409)

# -- workspaces --------------------------------------------------------------------


@router.get("/workspaces", tags=["workspaces"], response_model=WorkspaceListOut)
async def list_workspaces(
    principal: CurrentPrincipal, services: ServicesDep
) -> WorkspaceListOut:
    """List the workspaces the caller has a role in."""
    found = await services.access.list_workspaces(principal)
    return WorkspaceListOut(workspaces=[WorkspaceOut.of(w, principal) for w in found])


@router.post(
    "/workspaces",
    tags=["workspaces"],
    status_code=201,
    response_model=WorkspaceOut,
    responses=_WRITE,
)
async def create_workspace(
    body: WorkspaceIn, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Create a workspace (superusers)."""

    async def act(caller: Caller) -> Reply:
        created = await services.access.create_workspace(
            principal, name=body.name, description=body.description
        )
        location = f"{API_PREFIX}/workspaces/{created.name}"
        return Reply(
            status=201, body=WorkspaceOut.of(created, principal), location=location
        )

    return await idem.run(act)


@router.get("/workspaces/{workspace}", tags=["workspaces"], response_model=WorkspaceOut)
async def get_workspace(scope: Reader, services: ServicesDep) -> WorkspaceOut:
    """Return a workspace the caller has a role in."""
    found = await services.access.get_workspace(scope.principal, scope.workspace)
    return WorkspaceOut.of(found, scope.principal)


# -- users -------------------------------------------------------------------------


@router.get("/users", tags=["users"], response_model=UserListOut)
async def list_users(principal: CurrentPrincipal, services: ServicesDep) -> UserListOut:
    """List every user (superusers)."""
    users = await services.access.list_users(principal)
    return UserListOut(users=[UserOut.of(u) for u in users])


@router.post(
    "/users", tags=["users"], status_code=201, response_model=UserOut, responses=_WRITE
)
async def create_user(
    body: UserIn, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Create a user (superusers); without a password it signs in by API key."""

    async def act(caller: Caller) -> Reply:
        user = await services.access.create_user(
            principal,
            username=body.username,
            password=body.password,
            superuser=body.superuser,
        )
        location = f"{API_PREFIX}/users/{user.user_id}"
        return Reply(status=201, body=UserOut.of(user), location=location)

    return await idem.run(act)


@router.get("/users/{user}", tags=["users"], response_model=UserOut)
async def get_user(
    user: str, principal: CurrentPrincipal, services: ServicesDep
) -> UserOut:
    """Return a user by id or username (superusers)."""
    return UserOut.of(await services.access.get_user(principal, user))


@router.patch("/users/{user}", tags=["users"], response_model=UserOut, responses=_WRITE)
async def update_user(
    user: str,
    body: UserPatchIn,
    principal: CurrentPrincipal,
    idem: Idem,
    services: ServicesDep,
) -> Response:
    """Change a user's password, disabled or superuser flag (superusers)."""

    async def act(caller: Caller) -> Reply:
        changed = await services.access.update_user(
            principal,
            user,
            password=body.password,
            disabled=body.disabled,
            superuser=body.superuser,
        )
        return Reply(status=200, body=UserOut.of(changed))

    return await idem.run(act)


# -- members -----------------------------------------------------------------------


@router.get(
    "/workspaces/{workspace}/members", tags=["members"], response_model=MemberListOut
)
async def list_members(scope: Admin, services: ServicesDep) -> MemberListOut:
    """List the workspace's members and their roles (workspace admins)."""
    members = await services.access.list_members(scope.principal, scope.workspace)
    return MemberListOut(members=[MemberOut.of(m) for m in members])


@router.get(
    "/workspaces/{workspace}/members/{user}",
    tags=["members"],
    response_model=MemberOut,
)
async def get_member(user: str, scope: Admin, services: ServicesDep) -> MemberOut:
    """Return a member's role, by user id or username (workspace admins)."""
    member = await services.access.get_member(scope.principal, scope.workspace, user)
    return MemberOut.of(member)


@router.put(
    "/workspaces/{workspace}/members/{user}",
    tags=["members"],
    response_model=MemberOut,
    responses=_WRITE,
)
async def put_member(
    user: str, body: MemberIn, scope: Admin, idem: Idem, services: ServicesDep
) -> Response:
    """Give a user a role in the workspace, replacing any (workspace admins)."""

    async def act(caller: Caller) -> Reply:
        member = await services.access.put_member(
            scope.principal, scope.workspace, user, body.role
        )
        return Reply(status=200, body=MemberOut.of(member))

    return await idem.run(act)


@router.delete(
    "/workspaces/{workspace}/members/{user}",
    tags=["members"],
    status_code=204,
    response_class=Response,
)
async def remove_member(
    user: str, scope: Admin, idem: Idem, services: ServicesDep
) -> Response:
    """Take a user's role in the workspace away (workspace admins)."""

    async def act(caller: Caller) -> Reply:
        await services.access.remove_member(scope.principal, scope.workspace, user)
        return Reply(status=204)

    return await idem.run(act)


# -- API keys ----------------------------------------------------------------------


@router.get("/api-keys", tags=["api keys"], response_model=ApiKeyListOut)
async def list_api_keys(
    principal: CurrentPrincipal,
    services: ServicesDep,
    user: Annotated[str | None, Query(max_length=NAME_LENGTH)] = None,
) -> ApiKeyListOut:
    """List the caller's API keys, revoked ones included (a user's: superusers)."""
    keys = await services.access.list_api_keys(principal, user=user)
    return ApiKeyListOut(api_keys=[ApiKeyOut.of(k) for k in keys])


@router.post(
    "/api-keys",
    tags=["api keys"],
    status_code=201,
    response_model=ApiKeyCreatedOut,
    responses=_WRITE,
)
async def create_api_key(
    body: ApiKeyIn, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Make an API key acting as the caller; its secret is shown this once."""

    async def act(caller: Caller) -> Reply:
        issued = await services.access.create_api_key(
            principal,
            name=body.name,
            workspace=body.workspace,
            role=body.role,
            expires_in=body.lifetime(),
            user=body.user,
        )
        key = ApiKeyCreatedOut.issued(issued)
        return Reply(status=201, body=key, secret_fields=("secret",))

    return await idem.run(act)


@router.delete(
    "/api-keys/{key_id}",
    tags=["api keys"],
    status_code=204,
    response_class=Response,
)
async def revoke_api_key(
    key_id: str, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Revoke one of the caller's API keys (anyone's, for a superuser)."""

    async def act(caller: Caller) -> Reply:
        await services.access.revoke_api_key(principal, key_id)
        return Reply(status=204)

    return await idem.run(act)


# -- access keys (AK/SK) -----------------------------------------------------------


@router.get("/access-keys", tags=["access keys"], response_model=AccessKeyListOut)
async def list_access_keys(
    principal: CurrentPrincipal,
    services: ServicesDep,
    user: Annotated[str | None, Query(max_length=NAME_LENGTH)] = None,
) -> AccessKeyListOut:
    """List the caller's access keys, revoked ones included (a user's: superusers)."""
    keys = await services.access_keys.list_keys(principal, user=user)
    return AccessKeyListOut(access_keys=[AccessKeyOut.of(k) for k in keys])


@router.post(
    "/access-keys",
    tags=["access keys"],
    status_code=201,
    response_model=AccessKeyCreatedOut,
    responses=_WRITE,
)
async def create_access_key(
    body: AccessKeyIn, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Make an access key acting as the caller; its secret key is shown this once.

    The access key id (AK) and secret key (SK) sign the requests of clients
    that authenticate by request signing (HMAC-SHA256). A server without
    ONWARD_ACCESS_KEY_MASTER makes none: 409.
    """

    async def act(caller: Caller) -> Reply:
        issued = await services.access_keys.create(
            principal,
            name=body.name,
            workspace=body.workspace,
            role=body.role,
            expires_in=body.lifetime(),
            user=body.user,
        )
        key = AccessKeyCreatedOut.issued(issued)
        return Reply(status=201, body=key, secret_fields=("secret_key",))

    return await idem.run(act)


@router.delete(
    "/access-keys/{access_key_id}",
    tags=["access keys"],
    status_code=204,
    response_class=Response,
)
async def revoke_access_key(
    access_key_id: str, principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """Revoke one of the caller's access keys (anyone's, for a superuser)."""

    async def act(caller: Caller) -> Reply:
        await services.access_keys.revoke(principal, access_key_id)
        return Reply(status=204)

    return await idem.run(act)
