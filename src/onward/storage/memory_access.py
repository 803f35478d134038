"""
MemoryAccessStore: workspaces, users, bindings, credentials, operations in memory.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from onward import errors
from onward.domain.access import (
    SESSION_KINDS,
    Credential,
    CredentialKind,
    RoleBinding,
    User,
    Workspace,
)
from onward.service.ports import Operation
from onward.storage._storable import storable_arguments

#: the workspace every store starts with (service.auth.DEFAULT_WORKSPACE)
DEFAULT_WORKSPACE: Final = "default"
_CREATED: Final = datetime(2026, 1, 1, tzinfo=UTC)


@storable_arguments
class MemoryAccessStore:
    """The in-memory AccessStore; MemoryStore inherits it.

    It takes its arguments with their text as the SQL store binds it
    (:func:`~onward.storage._storable.storable_arguments`).
    """

    def __init__(self) -> None:
        # like a migrated database, a new store holds the default workspace
        self._workspaces: dict[str, Workspace] = {
            DEFAULT_WORKSPACE: Workspace(name=DEFAULT_WORKSPACE, created_at=_CREATED)
        }
        self._users: dict[str, User] = {}
        self._bindings: dict[tuple[str, str], RoleBinding] = {}
        self._credentials: dict[str, Credential] = {}
        self._operations: dict[str, Operation] = {}

    async def add_operation(self, operation: Operation) -> None:
        """Store an accepted operation."""
        self._operations[operation.operation_id] = operation

    async def get_operation(self, operation_id: str) -> Operation:
        """Return an operation; raise OperationNotFoundError."""
        try:
            return self._operations[operation_id]
        except KeyError:
            raise errors.OperationNotFoundError(operation_id=operation_id) from None

    async def list_operations(
        self, *, workspace: str, run_id: str | None = None, limit: int = 100
    ) -> list[Operation]:
        """Return a workspace's operations, newest first."""
        chosen = [
            op
            for op in self._operations.values()
            if op.workspace == workspace and (run_id is None or op.run_id == run_id)
        ]
        chosen.sort(key=lambda op: (op.created_at, op.operation_id), reverse=True)
        return chosen[: max(limit, 0)]

    async def create_workspace(self, workspace: Workspace) -> None:
        """Store a new workspace; raise AlreadyExistsError if the name is taken."""
        if workspace.name in self._workspaces:
            raise errors.AlreadyExistsError(kind="workspace", name=workspace.name)
        self._workspaces[workspace.name] = workspace

    async def get_workspace(self, name: str) -> Workspace:
        """Return a workspace; raise WorkspaceNotFoundError."""
        try:
            return self._workspaces[name]
        except KeyError:
            raise errors.WorkspaceNotFoundError(workspace=name) from None

    async def list_workspaces(self) -> list[Workspace]:
        """Return every workspace by name."""
        return [self._workspaces[name] for name in sorted(self._workspaces)]

    async def create_user(self, user: User) -> None:
        """Store a new user; raise AlreadyExistsError if the username is taken."""
        if await self.find_user(user.username) is not None:
            raise errors.AlreadyExistsError(kind="user", name=user.username)
        self._users[user.user_id] = user

    async def update_user(self, user: User) -> None:
        """Replace a user's record; raise UserNotFoundError or AlreadyExistsError."""
        await self.get_user(user.user_id)
        holder = await self.find_user(user.username)
        if holder is not None and holder.user_id != user.user_id:
            raise errors.AlreadyExistsError(kind="user", name=user.username)
        self._users[user.user_id] = user

    async def get_user(self, user_id: str) -> User:
        """Return a user by id; raise UserNotFoundError."""
        try:
            return self._users[user_id]
        except KeyError:
            raise errors.UserNotFoundError(user=user_id) from None

    async def find_user(self, username: str) -> User | None:
        """Return the user with this username, if any."""
        return next((u for u in self._users.values() if u.username == username), None)

    async def list_users(self) -> list[User]:
        """Return every user by username."""
        return sorted(self._users.values(), key=lambda user: user.username)

    async def put_binding(self, binding: RoleBinding) -> None:
        """Give a user a role in a workspace (replacing any role there)."""
        await self.get_workspace(binding.workspace)
        await self.get_user(binding.user_id)
        self._bindings[(binding.workspace, binding.user_id)] = binding

    async def delete_binding(self, *, workspace: str, user_id: str) -> None:
        """Remove a user's role in a workspace (no error if it had none)."""
        self._bindings.pop((workspace, user_id), None)

    async def list_bindings(
        self, *, workspace: str | None = None, user_id: str | None = None
    ) -> list[RoleBinding]:
        """Return bindings, filtered, by (workspace, user_id)."""
        return [
            binding
            for key, binding in sorted(self._bindings.items())
            if (workspace is None or key[0] == workspace)
            and (user_id is None or key[1] == user_id)
        ]

    async def add_credential(self, credential: Credential) -> None:
        """Store a credential (its secret's hash only)."""
        await self.get_user(credential.user_id)
        self._credentials[credential.credential_id] = credential

    async def find_credential(self, secret_hash: str) -> Credential | None:
        """Return the credential whose secret has this hash, if any."""
        return next(
            (c for c in self._credentials.values() if c.secret_hash == secret_hash),
            None,
        )

    async def get_credential(self, credential_id: str) -> Credential:
        """Return a credential by id; raise CredentialNotFoundError."""
        try:
            return self._credentials[credential_id]
        except KeyError:
            raise errors.CredentialNotFoundError(credential_id=credential_id) from None

    async def revoke_credential(self, credential_id: str, *, at: datetime) -> None:
        """Mark a credential revoked; raise CredentialNotFoundError."""
        credential = await self.get_credential(credential_id)
        if credential.revoked_at is None:
            self._credentials[credential_id] = replace(credential, revoked_at=at)

    async def list_credentials(
        self, *, user_id: str | None = None, kind: CredentialKind | None = None
    ) -> list[Credential]:
        """Return credentials, filtered, oldest first."""
        return sorted(
            (
                c
                for c in self._credentials.values()
                if (user_id is None or c.user_id == user_id)
                and (kind is None or c.kind is kind)
            ),
            key=lambda c: (c.created_at, c.credential_id),
        )

    async def purge_sessions(self, *, ended_before: datetime) -> int:
        """Delete the login sessions (and refresh tokens) that ended before a time."""
        ended = [
            c.credential_id
            for c in self._credentials.values()
            if c.kind in SESSION_KINDS
            and any(
                moment is not None and moment < ended_before
                for moment in (c.expires_at, c.revoked_at)
            )
        ]
        for credential_id in ended:
            del self._credentials[credential_id]
        return len(ended)
