"""
Access rules: roles, what each may do, users, role bindings, API keys and sessions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """A user's role in one workspace."""

    #: manages the workspace: users' roles, API keys, everything below
    ADMIN = "admin"
    #: edits plans, and everything an operator may do
    AUTHOR = "author"
    #: starts runs and decides how they go on: continue, retry, cancel, approve
    OPERATOR = "operator"
    #: reads plans and runs
    VIEWER = "viewer"


class Permission(StrEnum):
    """What a request needs to be allowed."""

    READ = "read"
    OPERATE = "operate"
    AUTHOR = "author"
    ADMINISTER = "administer"


#: the permissions each role holds
GRANTS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.OPERATOR: frozenset({Permission.READ, Permission.OPERATE}),
    Role.AUTHOR: frozenset({Permission.READ, Permission.OPERATE, Permission.AUTHOR}),
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role | None, permission: Permission) -> bool:
    """Tell whether a role holds a permission (no role holds none)."""
    return role is not None and permission in GRANTS[role]


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """A tenant boundary: plans, runs, bindings and keys belong to one."""

    name: str
    description: str = ""
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A person or system account that signs in."""

    user_id: str
    username: str
    #: argon2id hash of the password ("" for accounts that only use API keys)
    password_hash: str = ""
    #: may create workspaces and users, and is admin in every workspace
    superuser: bool = False
    disabled: bool = False
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleBinding:
    """A user's role in a workspace."""

    workspace: str
    user_id: str
    role: Role


class CredentialKind(StrEnum):
    """What kind of secret a credential is."""

    #: a bearer token from login; expires, revoked at logout
    SESSION = "session"
    #: a long-lived API key made by a user; expires if asked, revocable
    API_KEY = "api_key"
    #: an access key id for signed requests; its secret key is derived, never stored
    ACCESS_KEY = "access_key"
    #: exchanges for a new session once; never a bearer credential itself
    REFRESH = "refresh"


#: the kinds of credential a login makes: they end, and are purged once ended
SESSION_KINDS: Final = frozenset({CredentialKind.SESSION, CredentialKind.REFRESH})


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    """A secret's stored form: only its hash is kept."""

    credential_id: str
    kind: CredentialKind
    user_id: str
    #: sha256 of the secret
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    #: an API key may be limited to one workspace and a lower role
    workspace: str | None = None
    role: Role | None = None
    name: str = ""

    def is_valid(self, now: datetime) -> bool:
        """Tell whether the credential may be used at ``now``."""
        return self.revoked_at is None and (
            self.expires_at is None or now < self.expires_at
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who a request comes from, with their roles."""

    user_id: str
    username: str
    superuser: bool = False
    roles: Mapping[str, Role] = field(default_factory=dict)
    #: the credential used, when it limits the roles (API key)
    credential_id: str = ""
    workspace_limit: str | None = None
    role_limit: Role | None = None

    def role_in(self, workspace: str) -> Role | None:
        """Return the principal's effective role in a workspace."""
        if self.workspace_limit is not None and workspace != self.workspace_limit:
            return None
        role = Role.ADMIN if self.superuser else self.roles.get(workspace)
        if role is None or self.role_limit is None:
            return role
        return _lower(role, self.role_limit)

    def may(self, permission: Permission, workspace: str) -> bool:
        """Tell whether the principal holds a permission in a workspace."""
        return allows(self.role_in(workspace), permission)

    @property
    def has_superuser_powers(self) -> bool:
        """Tell whether a superuser signed in without a key's limits."""
        return (
            self.superuser
            and self.workspace_limit is None
            and self.role_limit in (None, Role.ADMIN)
        )


_ORDER: Final = (Role.VIEWER, Role.OPERATOR, Role.AUTHOR, Role.ADMIN)


def _lower(first: Role, second: Role) -> Role:
    return min(first, second, key=_ORDER.index)
