"""
Access use cases: workspaces, users, members, API keys, each checked against the caller.

Who may do what:

* reading a workspace needs a role there; a principal with no role there is
  told the workspace does not exist (its existence is not revealed);
* members are managed by the workspace's admins;
* workspaces and users are managed by superusers, signed in with an unlimited
  credential (an API key limited to a workspace or a role is not a superuser);
* API keys (and access keys, ``service.access_keys``) belong to the user who
  made them: each user lists, makes and revokes their own (a superuser may
  revoke anyone's, and list and make other users'); a limited key only makes
  keys within its own limits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from onward import errors
from onward.clock import Clock
from onward.domain.access import (
    Credential,
    CredentialKind,
    Permission,
    Principal,
    Role,
    RoleBinding,
    User,
    Workspace,
)
from onward.service.auth import AuthService, IssuedSecret
from onward.service.ports import AccessStore

_log = structlog.get_logger("onward.access")


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A user's role in a workspace, with the user's name."""

    workspace: str
    user_id: str
    username: str
    role: Role


class AccessService:
    """Manages workspaces, users, members and API keys for a signed-in principal."""

    def __init__(self, *, store: AccessStore, auth: AuthService, clock: Clock) -> None:
        self._store = store
        self._auth = auth
        self._clock = clock

    async def authorize(
        self, principal: Principal, permission: Permission, workspace: str
    ) -> None:
        """Raise unless the principal holds the permission in an existing workspace.

        Raises:
            WorkspaceNotFoundError: no role there, or no such workspace.
            PermissionDeniedError: the role there is too low.
        """
        self._auth.require(principal, permission, workspace)
        await self._store.get_workspace(workspace)

    async def logout(self, principal: Principal) -> None:
        """End the login session the principal signed in with."""
        credential = await self._store.get_credential(principal.credential_id)
        if credential.kind is not CredentialKind.SESSION:
            msg = (
                "Logging out ends a login session; this request used an API key "
                "(revoke it with DELETE /api/v1/api-keys/{key_id})"
            )
            raise errors.ConflictError(msg)
        await self._auth.logout(principal)

    # -- workspaces ------------------------------------------------------------

    async def list_workspaces(self, principal: Principal) -> list[Workspace]:
        """Return the workspaces the principal has a role in."""
        return [
            workspace
            for workspace in await self._store.list_workspaces()
            if principal.role_in(workspace.name) is not None
        ]

    async def get_workspace(self, principal: Principal, name: str) -> Workspace:
        """Return a workspace the principal may read."""
        self._auth.require(principal, Permission.READ, name)
        return await self._store.get_workspace(name)

    async def create_workspace(
        self, principal: Principal, *, name: str, description: str = ""
    ) -> Workspace:
        """Create a workspace (superusers only)."""
        _require_superuser(principal, "create workspaces")
        workspace = await self._auth.create_workspace(name, description)
        _log.info("workspace.created", workspace=name, actor=principal.username)
        return workspace

    # -- users -----------------------------------------------------------------

    async def list_users(self, principal: Principal) -> list[User]:
        """Return every user (superusers only)."""
        _require_superuser(principal, "manage users")
        return await self._store.list_users()

    async def get_user(self, principal: Principal, user: str) -> User:
        """Return a user by id or username (superusers only)."""
        _require_superuser(principal, "manage users")
        return await self._find_user(user)

    async def create_user(
        self,
        principal: Principal,
        *,
        username: str,
        password: str = "",
        superuser: bool = False,
    ) -> User:
        """Create a user (superusers only)."""
        _require_superuser(principal, "manage users")
        user = await self._auth.create_user(username, password, superuser=superuser)
        _log.info("user.created", user_id=user.user_id, actor=principal.username)
        return user

    async def update_user(
        self,
        principal: Principal,
        user: str,
        *,
        password: str | None = None,
        disabled: bool | None = None,
        superuser: bool | None = None,
    ) -> User:
        """Change a user's password, disabled or superuser flag (superusers only)."""
        _require_superuser(principal, "manage users")
        found = await self._find_user(user)
        if found.user_id == principal.user_id and (disabled or superuser is False):
            msg = "You cannot disable yourself or take away your own superuser flag"
            raise errors.ConflictError(msg)
        if password is not None:
            found = await self._auth.set_password(found.user_id, password)
        changed = replace(
            found,
            disabled=found.disabled if disabled is None else disabled,
            superuser=found.superuser if superuser is None else superuser,
        )
        if changed != found:
            await self._store.update_user(changed)
        _log.info("user.updated", user_id=found.user_id, actor=principal.username)
        return changed

    # -- members ---------------------------------------------------------------

    async def list_members(self, principal: Principal, workspace: str) -> list[Member]:
        """Return a workspace's members by username (workspace admins)."""
        await self.authorize(principal, Permission.ADMINISTER, workspace)
        bindings = await self._store.list_bindings(workspace=workspace)
        members = [await self._member(binding) for binding in bindings]
        return sorted(members, key=lambda member: member.username)

    async def get_member(
        self, principal: Principal, workspace: str, user: str
    ) -> Member:
        """Return one member of a workspace (workspace admins)."""
        await self.authorize(principal, Permission.ADMINISTER, workspace)
        found = await self._find_user(user)
        for binding in await self._store.list_bindings(
            workspace=workspace, user_id=found.user_id
        ):
            return _member_of(binding, found)
        raise errors.UserNotFoundError(user=user)

    async def put_member(
        self, principal: Principal, workspace: str, user: str, role: Role
    ) -> Member:
        """Give a user a role in a workspace, replacing any (workspace admins)."""
        await self.authorize(principal, Permission.ADMINISTER, workspace)
        found = await self._find_user(user)
        binding = RoleBinding(workspace=workspace, user_id=found.user_id, role=role)
        await self._store.put_binding(binding)
        _log.info(
            "member.set",
            workspace=workspace,
            user_id=found.user_id,
            role=role.value,
            actor=principal.username,
        )
        return _member_of(binding, found)

    async def remove_member(
        self, principal: Principal, workspace: str, user: str
    ) -> None:
        """Take a user's role in a workspace away (workspace admins)."""
        member = await self.get_member(principal, workspace, user)
        await self._store.delete_binding(workspace=workspace, user_id=member.user_id)
        _log.info(
            "member.removed",
            workspace=workspace,
            user_id=member.user_id,
            actor=principal.username,
        )

    # -- API keys --------------------------------------------------------------

    async def list_api_keys(
        self, principal: Principal, *, user: str | None = None
    ) -> list[Credential]:
        """Return the principal's API keys (another user's, for a superuser)."""
        return await self.list_keys(principal, CredentialKind.API_KEY, user=user)

    async def list_keys(
        self, principal: Principal, kind: CredentialKind, *, user: str | None = None
    ) -> list[Credential]:
        """Return the principal's keys of a kind (another user's, for a superuser)."""
        owner = await self.key_owner(principal, user)
        return await self._store.list_credentials(user_id=owner.user_id, kind=kind)

    async def create_api_key(
        self,
        principal: Principal,
        *,
        name: str,
        workspace: str | None = None,
        role: Role | None = None,
        expires_in: timedelta | None = None,
        user: str | None = None,
    ) -> IssuedSecret:
        """Issue an API key acting as the principal, within the principal's limits.

        A superuser may issue one acting as another ``user`` (a service account
        without a password, say). A key limited to a workspace needs its user
        to have a role there; a key made with a limited key is held to that
        key's limits (its role lowered to them).
        """
        owner = await self.key_owner(principal, user, workspace=workspace)
        return await self._auth.create_api_key(
            owner,
            name=name,
            workspace=workspace,
            role=role,
            expires_in=expires_in,
        )

    async def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        """Revoke one of the principal's API keys (anyone's, for a superuser).

        Raises:
            CredentialNotFoundError: no such API key of the principal's (an
                access key or session id is not an API key).
        """
        await self._auth.revoke(principal, key_id, kind=CredentialKind.API_KEY)

    async def key_owner(
        self,
        principal: Principal,
        user: str | None,
        *,
        workspace: str | None = None,
    ) -> Principal:
        """Return who keys are listed or made for: the principal, or ``user``.

        Args:
            principal: who asks.
            user: another user (id or username), for a superuser.
            workspace: the workspace a new key is limited to, where the owner
                must have a role.

        Raises:
            SuperuserRequiredError: ``user`` is another user and the principal
                is no unlimited superuser.
            UserNotFoundError: no such user.
            WorkspaceNotFoundError: the owner has no role in ``workspace``.
        """
        owner = principal
        if user is not None and user not in (principal.user_id, principal.username):
            _require_superuser(principal, "manage other users' keys")
            found = await self._find_user(user)
            bindings = await self._store.list_bindings(user_id=found.user_id)
            owner = Principal(
                user_id=found.user_id,
                username=found.username,
                superuser=found.superuser,
                roles={b.workspace: b.role for b in bindings},
            )
        if workspace is not None:
            await self.authorize(owner, Permission.READ, workspace)
        return owner

    # -- helpers ---------------------------------------------------------------

    async def _find_user(self, user: str) -> User:
        """Return a user by id, else by username."""
        try:
            return await self._store.get_user(user)
        except errors.UserNotFoundError:
            found = await self._store.find_user(user)
            if found is None:
                raise
            return found

    async def _member(self, binding: RoleBinding) -> Member:
        return _member_of(binding, await self._store.get_user(binding.user_id))


def _member_of(binding: RoleBinding, user: User) -> Member:
    return Member(
        workspace=binding.workspace,
        user_id=user.user_id,
        username=user.username,
        role=binding.role,
    )


def _require_superuser(principal: Principal, action: str) -> None:
    if not principal.has_superuser_powers:
        raise errors.SuperuserRequiredError(action=action)
