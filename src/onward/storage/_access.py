"""
Access statements: workspaces, users, role bindings, credentials and operations.

Each function runs inside the caller's transaction; SqlStore opens it. A name
already taken raises AlreadyExistsError; a record that refers to a missing
workspace, user or run raises that record's NotFoundError (rather than the
database's foreign key error).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection

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
from onward.storage import rows
from onward.storage._upsert import insert_ignoring_conflicts, upsert
from onward.storage.tables import (
    credentials,
    operations,
    role_bindings,
    runs,
    users,
    workspaces,
)

# the statements of every authenticated request (and of the checks) are built once
_GET_WORKSPACE = sa.select(workspaces).where(
    workspaces.c.name == sa.bindparam("of_name")
)
_GET_USER = sa.select(users).where(users.c.user_id == sa.bindparam("of_user_id"))
_FIND_USER = sa.select(users).where(users.c.username == sa.bindparam("of_username"))
#: the columns to set are the other parameters given
_UPDATE_USER = users.update().where(users.c.user_id == sa.bindparam("where_user_id"))
_BINDINGS_OF_USER = sa.select(role_bindings).where(
    role_bindings.c.user_id == sa.bindparam("of_user_id")
)
_FIND_CREDENTIAL = sa.select(credentials).where(
    credentials.c.secret_hash == sa.bindparam("of_secret_hash")
)
_GET_CREDENTIAL = sa.select(credentials).where(
    credentials.c.credential_id == sa.bindparam("of_credential_id")
)
# revoking keeps the first revocation's time
_REVOKE_CREDENTIAL = (
    credentials.update()
    .where(
        credentials.c.credential_id == sa.bindparam("of_credential_id"),
        credentials.c.revoked_at.is_(None),
    )
    .values(revoked_at=sa.bindparam("at"))
)
_GET_OPERATION = sa.select(operations).where(
    operations.c.operation_id == sa.bindparam("of_operation_id")
)
_RUN_EXISTS = sa.select(runs.c.run_id).where(runs.c.run_id == sa.bindparam("of_run_id"))


def create_workspace(conn: Connection, workspace: Workspace) -> None:
    """Store a new workspace; raise AlreadyExistsError if the name is taken."""
    row = rows.workspace_to_row(workspace)
    if not insert_ignoring_conflicts(conn, workspaces, row, keys=("name",)):
        raise errors.AlreadyExistsError(kind="workspace", name=workspace.name)


def get_workspace(conn: Connection, name: str) -> Workspace:
    """Return a workspace; raise WorkspaceNotFoundError."""
    row = conn.execute(_GET_WORKSPACE, {"of_name": name}).mappings().first()
    if row is None:
        raise errors.WorkspaceNotFoundError(workspace=name)
    return rows.workspace_from_row(row)


def list_workspaces(conn: Connection) -> list[Workspace]:
    """Return every workspace by name."""
    found = conn.execute(sa.select(workspaces)).mappings()
    # sorted here, not in SQL: a database collation may order names differently
    return sorted(
        (rows.workspace_from_row(row) for row in found), key=lambda ws: ws.name
    )


def create_user(conn: Connection, user: User) -> None:
    """Store a new user; raise AlreadyExistsError if the username is taken."""
    row = rows.user_to_row(user)
    if not insert_ignoring_conflicts(conn, users, row, keys=("username",)):
        raise errors.AlreadyExistsError(kind="user", name=user.username)


def update_user(conn: Connection, user: User) -> None:
    """Replace a user's record; raise UserNotFoundError.

    Raises:
        UserNotFoundError: no user has the record's id.
        AlreadyExistsError: the record's username is another user's.
    """
    row = rows.user_to_row(user)
    row["where_user_id"] = row.pop("user_id")
    try:
        updated = conn.execute(_UPDATE_USER, row).rowcount
    except exc.IntegrityError as error:
        raise errors.AlreadyExistsError(kind="user", name=user.username) from error
    if updated != 1:
        raise errors.UserNotFoundError(user=user.user_id)


def get_user(conn: Connection, user_id: str) -> User:
    """Return a user by id; raise UserNotFoundError."""
    row = conn.execute(_GET_USER, {"of_user_id": user_id}).mappings().first()
    if row is None:
        raise errors.UserNotFoundError(user=user_id)
    return rows.user_from_row(row)


def find_user(conn: Connection, username: str) -> User | None:
    """Return the user with this username, if any."""
    row = conn.execute(_FIND_USER, {"of_username": username}).mappings().first()
    return rows.user_from_row(row) if row is not None else None


def list_users(conn: Connection) -> list[User]:
    """Return every user by username."""
    found = conn.execute(sa.select(users)).mappings()
    return sorted(
        (rows.user_from_row(row) for row in found), key=lambda user: user.username
    )


def put_binding(conn: Connection, binding: RoleBinding) -> None:
    """Give a user a role in a workspace (replacing any role there).

    Raises:
        WorkspaceNotFoundError: the workspace does not exist.
        UserNotFoundError: the user does not exist.
    """
    get_workspace(conn, binding.workspace)
    get_user(conn, binding.user_id)
    upsert(
        conn,
        role_bindings,
        [rows.binding_to_row(binding)],
        keys=("workspace", "user_id"),
    )


def delete_binding(conn: Connection, *, workspace: str, user_id: str) -> None:
    """Remove a user's role in a workspace (no error if it had none)."""
    conn.execute(
        role_bindings.delete().where(
            role_bindings.c.workspace == workspace, role_bindings.c.user_id == user_id
        )
    )


def list_bindings(
    conn: Connection, *, workspace: str | None, user_id: str | None
) -> list[RoleBinding]:
    """Return bindings, filtered, by (workspace, user_id)."""
    if workspace is None and user_id is not None:
        found = conn.execute(_BINDINGS_OF_USER, {"of_user_id": user_id}).mappings()
    else:
        query = sa.select(role_bindings)
        if workspace is not None:
            query = query.where(role_bindings.c.workspace == workspace)
        if user_id is not None:
            query = query.where(role_bindings.c.user_id == user_id)
        found = conn.execute(query).mappings()
    bindings = [rows.binding_from_row(row) for row in found]
    return sorted(bindings, key=lambda binding: (binding.workspace, binding.user_id))


def add_credential(conn: Connection, credential: Credential) -> None:
    """Store a credential (its secret's hash only); raise UserNotFoundError."""
    get_user(conn, credential.user_id)
    conn.execute(credentials.insert(), rows.credential_to_row(credential))


def find_credential(conn: Connection, secret_hash: str) -> Credential | None:
    """Return the credential whose secret has this hash, if any."""
    found = conn.execute(_FIND_CREDENTIAL, {"of_secret_hash": secret_hash})
    row = found.mappings().first()
    return rows.credential_from_row(row) if row is not None else None


def get_credential(conn: Connection, credential_id: str) -> Credential:
    """Return a credential by id; raise CredentialNotFoundError."""
    found = conn.execute(_GET_CREDENTIAL, {"of_credential_id": credential_id})
    row = found.mappings().first()
    if row is None:
        raise errors.CredentialNotFoundError(credential_id=credential_id)
    return rows.credential_from_row(row)


def revoke_credential(conn: Connection, credential_id: str, *, at: datetime) -> None:
    """Mark a credential revoked (once); raise CredentialNotFoundError."""
    parameters = {"of_credential_id": credential_id, "at": at}
    if conn.execute(_REVOKE_CREDENTIAL, parameters).rowcount != 1:
        # revoked already, which is fine, or missing
        get_credential(conn, credential_id)


def list_credentials(
    conn: Connection, *, user_id: str | None, kind: CredentialKind | None
) -> list[Credential]:
    """Return credentials, filtered, oldest first."""
    query = sa.select(credentials)
    if user_id is not None:
        query = query.where(credentials.c.user_id == user_id)
    if kind is not None:
        query = query.where(credentials.c.kind == kind.value)
    found = [rows.credential_from_row(row) for row in conn.execute(query).mappings()]
    return sorted(found, key=lambda cred: (cred.created_at, cred.credential_id))


def purge_sessions(conn: Connection, *, ended_before: datetime) -> int:
    """Delete the sessions and refresh tokens that ended (expired or revoked) before."""
    ended = sa.or_(
        credentials.c.expires_at < ended_before,
        credentials.c.revoked_at < ended_before,
    )
    deleted = credentials.delete().where(
        credentials.c.kind.in_([kind.value for kind in SESSION_KINDS]), ended
    )
    return int(conn.execute(deleted).rowcount)


def add_operation(conn: Connection, operation: Operation) -> None:
    """Store an accepted operation; raise RunNotFoundError."""
    if conn.execute(_RUN_EXISTS, {"of_run_id": operation.run_id}).first() is None:
        raise errors.RunNotFoundError(run_id=operation.run_id)
    conn.execute(operations.insert(), rows.operation_to_row(operation))


def get_operation(conn: Connection, operation_id: str) -> Operation:
    """Return an operation; raise OperationNotFoundError."""
    found = conn.execute(_GET_OPERATION, {"of_operation_id": operation_id})
    row = found.mappings().first()
    if row is None:
        raise errors.OperationNotFoundError(operation_id=operation_id)
    return rows.operation_from_row(row)


def list_operations(
    conn: Connection, *, workspace: str, run_id: str | None, limit: int
) -> list[Operation]:
    """Return a workspace's operations, newest first."""
    query = sa.select(operations).where(operations.c.workspace == workspace)
    if run_id is not None:
        query = query.where(operations.c.run_id == run_id)
    query = query.order_by(
        operations.c.created_at.desc(), operations.c.operation_id.desc()
    ).limit(max(limit, 0))
    return [rows.operation_from_row(row) for row in conn.execute(query).mappings()]
