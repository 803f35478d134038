"""
Authentication and authorization: passwords, sessions, API keys, roles, login limits.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import argon2

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
from onward.ids import new_id
from onward.service.ports import AccessStore

#: the workspace every installation starts with
DEFAULT_WORKSPACE: Final = "default"
#: the prefix of every secret Onward issues (helps secret scanners)
SECRET_PREFIX: Final = "onw_"  # noqa: S105 - a prefix, not a secret
_HASHER: Final = argon2.PasswordHasher()  # argon2id with the library's defaults
#: a hash to verify against when the user does not exist (keeps timing alike)
_DUMMY_HASH: Final = _HASHER.hash(secrets.token_urlsafe(16))
#: the limiter forgets expired failures of every key past this many keys
_LIMITER_SWEEP_AT: Final = 10_000
#: roles from the least to the most allowed
_ROLE_ORDER: Final = (Role.VIEWER, Role.OPERATOR, Role.AUTHOR, Role.ADMIN)
_WORKSPACE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def hash_secret(secret: str) -> str:
    """Return the stored form of a random secret (sha256: secrets are 256-bit)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedSecret:
    """A secret shown once to its owner, and the credential that stores its hash."""

    secret: str
    credential: Credential


class LoginLimiter:
    """Refuses logins after too many failures per account or per address."""

    def __init__(
        self,
        *,
        clock: Clock,
        failures: int = 5,
        window: timedelta = timedelta(minutes=5),
    ) -> None:
        self._clock = clock
        self._failures = failures
        self._window = window
        self._seen: dict[str, deque[datetime]] = {}

    def check(self, *keys: str) -> None:
        """Raise RateLimitedError if any key has failed too often lately."""
        now = self._clock.now()
        for key in keys:
            recent = self._recent(key, now)
            if len(recent) >= self._failures:
                wait = recent[0] + self._window - now
                # rounded up: a client waiting retry_after seconds is let in
                raise errors.RateLimitedError(
                    retry_after=max(math.ceil(wait.total_seconds()), 1)
                )

    def failed(self, *keys: str) -> None:
        """Count a failure against every key."""
        now = self._clock.now()
        if len(self._seen) >= _LIMITER_SWEEP_AT:
            # keys are chosen by whoever sends logins: forget the idle ones
            for key in list(self._seen):
                self._recent(key, now)
        for key in keys:
            self._recent(key, now)
            self._seen.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        """Forget an account's failures after a good login."""
        self._seen.pop(key, None)

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        """Return the key's failures within the window; forget the key if none."""
        recent = self._seen.get(key)
        if recent is None:
            return deque()
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        if not recent:
            del self._seen[key]
        return recent


class AuthService:
    """Signs people in and tells what they may do."""

    def __init__(
        self,
        *,
        store: AccessStore,
        clock: Clock,
        session_lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self._store = store
        self._clock = clock
        self._session_lifetime = session_lifetime
        self.limiter = LoginLimiter(clock=clock)

    async def ensure_workspace(self, name: str = DEFAULT_WORKSPACE) -> Workspace:
        """Return the workspace, creating it if it does not exist."""
        try:
            return await self._store.get_workspace(name)
        except errors.WorkspaceNotFoundError:
            workspace = Workspace(name=name, created_at=self._clock.now())
            await self._store.create_workspace(workspace)
            return workspace

    async def create_admin(
        self, username: str, password: str, *, reset: bool = False
    ) -> User:
        """Create a superuser, admin of the default workspace (or reset it)."""
        await self.ensure_workspace()
        existing = await self._store.find_user(username)
        if existing is not None and not reset:
            raise errors.AlreadyExistsError(kind="user", name=username)
        if existing is not None:
            _check_password(password)
            user = replace(
                existing,
                password_hash=_hash_password(password),
                superuser=True,
                disabled=False,
            )
            await self._store.update_user(user)
        else:
            user = await self.create_user(username, password, superuser=True)
        await self._store.put_binding(
            RoleBinding(
                workspace=DEFAULT_WORKSPACE, user_id=user.user_id, role=Role.ADMIN
            )
        )
        return user

    async def create_user(
        self, username: str, password: str = "", *, superuser: bool = False
    ) -> User:
        """Create a user; with no password the user signs in with API keys only."""
        _check_username(username)
        if password:
            _check_password(password)
        user = User(
            user_id=new_id("usr"),
            username=username,
            password_hash=_hash_password(password) if password else "",
            superuser=superuser,
            created_at=self._clock.now(),
        )
        await self._store.create_user(user)
        return user

    async def set_password(self, user_id: str, password: str) -> User:
        """Replace a user's password."""
        _check_password(password)
        user = replace(
            await self._store.get_user(user_id), password_hash=_hash_password(password)
        )
        await self._store.update_user(user)
        return user

    async def has_users(self) -> bool:
        """Tell whether any user exists (an installation has none at first)."""
        return bool(await self._store.list_users())

    async def create_workspace(self, name: str, description: str = "") -> Workspace:
        """Create a workspace; raise AlreadyExistsError if the name is taken."""
        if not _WORKSPACE_NAME.fullmatch(name):
            msg = (
                "1 to 64 letters, digits, '.', '-' or '_'; the first a letter or digit"
            )
            raise errors.InvalidDefinitionError(
                [errors.Problem("name", msg)], subject="workspace"
            )
        workspace = Workspace(
            name=name, description=description, created_at=self._clock.now()
        )
        await self._store.create_workspace(workspace)
        return workspace

    async def grant(self, username: str, workspace: str, role: Role) -> RoleBinding:
        """Give a user a role in a workspace, replacing any role there.

        Raises:
            UserNotFoundError: no user has this username.
            WorkspaceNotFoundError: the workspace does not exist.
        """
        user = await self._user_named(username)
        await self._store.get_workspace(workspace)
        binding = RoleBinding(workspace=workspace, user_id=user.user_id, role=role)
        await self._store.put_binding(binding)
        return binding

    async def revoke_grant(self, username: str, workspace: str) -> bool:
        """Remove a user's role in a workspace; tell whether there was one.

        Raises:
            UserNotFoundError: no user has this username.
        """
        user = await self._user_named(username)
        held = await self._store.list_bindings(
            workspace=workspace, user_id=user.user_id
        )
        await self._store.delete_binding(workspace=workspace, user_id=user.user_id)
        return bool(held)

    async def login(
        self, username: str, password: str, *, address: str
    ) -> IssuedSecret:
        """Check a password and issue a session token; failures are rate limited."""
        user = await self._password_user(username, password, address=address)
        return await self._issue(
            user,
            CredentialKind.SESSION,
            expires_at=self._clock.now() + self._session_lifetime,
        )

    async def issue_session(self, principal: Principal) -> IssuedSecret:
        """Issue a session token to a principal who signed in with a password.

        For APIs that verify the password themselves (``verify_password``) and
        give the client a token to send instead of it.

        Raises:
            ConflictError: the principal signed in with a token or an API key
                (whose limits a session would not keep).
            AuthenticationError: the user has been disabled since.
        """
        if principal.credential_id:
            msg = "A session is issued for a password sign-in, not for a token"
            raise errors.ConflictError(msg)
        user = await self._store.get_user(principal.user_id)
        if user.disabled:
            msg = "The account is disabled"
            raise errors.AuthenticationError(msg)
        return await self._issue(
            user,
            CredentialKind.SESSION,
            expires_at=self._clock.now() + self._session_lifetime,
        )

    async def verify_password(
        self, username: str, password: str, *, address: str
    ) -> Principal:
        """Return who a username and password belong to, issuing no session.

        For APIs that send the password with every request (HTTP Basic);
        failures are rate limited as logins are.
        """
        user = await self._password_user(username, password, address=address)
        return await self._principal(user)

    async def _password_user(
        self, username: str, password: str, *, address: str
    ) -> User:
        account_key, address_key = f"user:{username}", f"addr:{address}"
        self.limiter.check(account_key, address_key)
        # a name create_user refuses belongs to no one: it is not looked up
        user = await self._store.find_user(username) if _is_username(username) else None
        # verified even for an unknown or disabled user, so that timing tells nothing
        verified = _verify(user.password_hash if user is not None else "", password)
        if user is None or user.disabled or not verified:
            self.limiter.failed(account_key, address_key)
            msg = "Invalid username or password"
            raise errors.AuthenticationError(msg)
        self.limiter.succeeded(account_key)
        return user

    async def logout(self, principal: Principal) -> None:
        """Revoke the session the principal used."""
        await self._store.revoke_credential(
            principal.credential_id, at=self._clock.now()
        )

    async def create_api_key(
        self,
        principal: Principal,
        *,
        name: str,
        workspace: str | None = None,
        role: Role | None = None,
        expires_in: timedelta | None = None,
    ) -> IssuedSecret:
        """Issue an API key acting as the principal, optionally limited.

        A key made with an API key is held to that key's limits too.

        Raises:
            WorkspaceNotFoundError: the principal's own key is limited to
                another workspace.
        """
        workspace, role = within_limits(principal, workspace, role)
        expires_at = self._clock.now() + expires_in if expires_in else None
        user = await self._store.get_user(principal.user_id)
        return await self._issue(
            user,
            CredentialKind.API_KEY,
            expires_at=expires_at,
            workspace=workspace,
            role=role,
            name=name,
        )

    async def revoke(
        self,
        principal: Principal,
        credential_id: str,
        *,
        kind: CredentialKind | None = None,
    ) -> None:
        """Revoke one of the principal's credentials (any, for a superuser).

        A superuser's API key limited to a workspace or a role acts as the
        user's own credential here: it revokes only the user's credentials.

        Args:
            principal: who revokes.
            credential_id: the credential to revoke.
            kind: revoke only a credential of this kind; one of another kind
                is not found (an access key id sent to revoke an API key,
                say).

        Raises:
            CredentialNotFoundError: no such credential (of that kind) that
                the principal may revoke.
        """
        credential = await self._store.get_credential(credential_id)
        if (kind is not None and credential.kind is not kind) or (
            credential.user_id != principal.user_id
            and not principal.has_superuser_powers
        ):
            raise errors.CredentialNotFoundError(credential_id=credential_id)
        await self._store.revoke_credential(credential_id, at=self._clock.now())

    async def authenticate(self, secret: str) -> Principal:
        """Return who a bearer secret belongs to; raise AuthenticationError."""
        credential = await self._store.find_credential(hash_secret(secret))
        if (
            credential is None
            # an access key id is public: it is never a bearer secret
            or credential.kind in (CredentialKind.ACCESS_KEY, CredentialKind.REFRESH)
            or not credential.is_valid(self._clock.now())
        ):
            msg = "The token or API key is unknown, expired or revoked"
            raise errors.AuthenticationError(msg)
        return await self.principal_of(credential)

    async def principal_of(self, credential: Credential) -> Principal:
        """Return who a valid credential acts for; raise AuthenticationError.

        Raises:
            AuthenticationError: the credential's user is disabled.
        """
        user = await self._store.get_user(credential.user_id)
        return await self._principal(user, credential)

    async def _principal(
        self, user: User, credential: Credential | None = None
    ) -> Principal:
        if user.disabled:
            msg = "The account is disabled"
            raise errors.AuthenticationError(msg)
        bindings = await self._store.list_bindings(user_id=user.user_id)
        return Principal(
            user_id=user.user_id,
            username=user.username,
            superuser=user.superuser,
            roles={b.workspace: b.role for b in bindings},
            credential_id=credential.credential_id if credential else "",
            workspace_limit=credential.workspace if credential else None,
            role_limit=credential.role if credential else None,
        )

    @staticmethod
    def require(principal: Principal, permission: Permission, workspace: str) -> None:
        """Raise unless the principal holds the permission in the workspace.

        Raises:
            WorkspaceNotFoundError: the principal has no role there at all, so the
                workspace's existence is not revealed.
            PermissionDeniedError: the role there is too low.
        """
        if principal.role_in(workspace) is None:
            raise errors.WorkspaceNotFoundError(workspace=workspace)
        if not principal.may(permission, workspace):
            raise errors.PermissionDeniedError(
                permission=permission.value, workspace=workspace
            )

    async def _user_named(self, username: str) -> User:
        user = await self._store.find_user(username)
        if user is None:
            raise errors.UserNotFoundError(user=username)
        return user

    async def _issue(
        self,
        user: User,
        kind: CredentialKind,
        *,
        expires_at: datetime | None,
        workspace: str | None = None,
        role: Role | None = None,
        name: str = "",
    ) -> IssuedSecret:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        credential = Credential(
            credential_id=new_id("key" if kind is CredentialKind.API_KEY else "ses"),
            kind=kind,
            user_id=user.user_id,
            secret_hash=hash_secret(secret),
            created_at=self._clock.now(),
            expires_at=expires_at,
            workspace=workspace,
            role=role,
            name=name,
        )
        await self._store.add_credential(credential)
        return IssuedSecret(secret=secret, credential=credential)


def within_limits(
    principal: Principal, workspace: str | None, role: Role | None
) -> tuple[str | None, Role | None]:
    """Return a new key's limits, no wider than those of the principal's key.

    Raises:
        WorkspaceNotFoundError: the principal's key is limited to another
            workspace.
    """
    if principal.workspace_limit is not None:
        if workspace is not None and workspace != principal.workspace_limit:
            raise errors.WorkspaceNotFoundError(workspace=workspace)
        workspace = principal.workspace_limit
    if principal.role_limit is not None:
        role = (
            principal.role_limit
            if role is None
            else min(role, principal.role_limit, key=_ROLE_ORDER.index)
        )
    return workspace, role


def _hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and bool(
            password_hash
        )
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False


def _is_username(username: str) -> bool:
    """Tell whether a user may have this name: 1 to 64 letters, digits, ``.-_@``."""
    return 1 <= len(username) <= 64 and (
        username.replace(".", "")
        .replace("-", "")
        .replace("_", "")
        .replace("@", "")
        .isalnum()
    )


def _check_username(username: str) -> None:
    if not _is_username(username):
        msg = "1 to 64 letters, digits, '.', '-', '_' or '@'"
        raise errors.InvalidDefinitionError(
            [errors.Problem("username", msg)], subject="user"
        )


def _check_password(password: str) -> None:
    if len(password) < 8:
        msg = "at least 8 characters"
        raise errors.InvalidDefinitionError(
            [errors.Problem("password", msg)], subject="user"
        )
