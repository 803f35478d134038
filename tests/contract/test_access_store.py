"""
The AccessStore contract: every adapter (memory, sqlite, postgres) behaves the same.

Workspaces, users, role bindings, credentials and operations, and the Store's
``save_idempotency``. A fresh SQL database has the ``default`` workspace (the
migration adds it); the ``access`` fixture gives the memory store one too, so
that every adapter starts alike.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from onward import errors
from onward.domain.access import (
    Credential,
    CredentialKind,
    Role,
    RoleBinding,
    User,
    Workspace,
)
from onward.domain.runs import Run
from onward.service.ports import (
    FullStore,
    IdempotencyRecord,
    Operation,
    RunCommit,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
TOKYO = timezone(timedelta(hours=9))


# --- helpers ------------------------------------------------------------------------


def make_user(user_id: str, username: str, **changes: Any) -> User:
    """Return a user with a password hash, created at T0."""
    user = User(
        user_id=user_id,
        username=username,
        password_hash=f"$argon2id$hash-of-{username}",
        created_at=T0,
    )
    return replace(user, **changes)


def make_credential(credential_id: str, **changes: Any) -> Credential:
    """Return alice's session credential, created at T0."""
    credential = Credential(
        credential_id=credential_id,
        kind=CredentialKind.SESSION,
        user_id="usr_alice",
        secret_hash=f"sha256-of-{credential_id}",
        created_at=T0,
    )
    return replace(credential, **changes)


def make_operation(
    operation_id: str, *, run_id: str = "run_1", at: datetime = T0, **changes: Any
) -> Operation:
    """Return a ``continue`` operation on a run of the default workspace."""
    operation = Operation(
        operation_id=operation_id,
        workspace="default",
        run_id=run_id,
        command="continue",
        run_version=2,
        created_at=at,
        created_by="alice",
    )
    return replace(operation, **changes)


async def create_run(store: FullStore, run_id: str, *, workspace: str) -> None:
    """Store a plan and a run of it, for operations to refer to."""
    plan = await store.save_plan_version(
        workspace=workspace,
        name="deploy",
        source="name: deploy\n",
        format="yaml",
        document={"name": "deploy"},
        digest="digest-1",
        created_by="alice",
        now=T0,
    )
    run = Run(
        run_id=run_id,
        plan_id=plan.plan_id,
        plan_name=plan.name,
        plan_version=plan.version,
        workspace=workspace,
        version=1,
        created_at=T0,
    )
    await store.commit_run(RunCommit(run=run, expected_version=0))


@pytest.fixture
async def alice(access: FullStore) -> User:
    """Store the user alice and return her."""
    user = make_user("usr_alice", "alice")
    await access.create_user(user)
    return user


@pytest.fixture
async def runs(access: FullStore) -> FullStore:
    """Store run_1 and run_2 in the default workspace, run_9 in another."""
    await create_run(access, "run_1", workspace="default")
    await create_run(access, "run_2", workspace="default")
    await create_run(access, "run_9", workspace="other")
    return access


# --- workspaces ---------------------------------------------------------------------


async def test_a_created_workspace_is_returned_with_every_field(
    access: FullStore,
) -> None:
    """A new workspace is found by name with its description and creation time."""
    workspace = Workspace(name="ops", description="Operations team", created_at=T0)

    await access.create_workspace(workspace)

    assert await access.get_workspace("ops") == workspace


async def test_creating_a_taken_workspace_name_raises_and_keeps_the_first(
    access: FullStore,
) -> None:
    """A second workspace with a name taken raises AlreadyExistsError."""
    first = Workspace(name="ops", description="first", created_at=T0)
    await access.create_workspace(first)

    with pytest.raises(errors.AlreadyExistsError) as raised:
        await access.create_workspace(replace(first, description="second"))

    assert (raised.value.kind, raised.value.name) == ("workspace", "ops")
    assert await access.get_workspace("ops") == first


async def test_getting_an_unknown_workspace_raises_workspace_not_found(
    access: FullStore,
) -> None:
    """A workspace that was never created raises WorkspaceNotFoundError."""
    with pytest.raises(errors.WorkspaceNotFoundError) as raised:
        await access.get_workspace("nowhere")

    assert raised.value.workspace == "nowhere"


async def test_list_workspaces_returns_every_workspace_by_name(
    access: FullStore,
) -> None:
    """Workspaces are listed in name order, the default one included."""
    for name in ("zeta", "alpha", "Beta"):
        await access.create_workspace(Workspace(name=name, created_at=T0))

    listed = await access.list_workspaces()

    assert [workspace.name for workspace in listed] == [
        "Beta",
        "alpha",
        "default",
        "zeta",
    ]


# --- users --------------------------------------------------------------------------


async def test_a_created_user_is_found_by_id_and_by_username(
    access: FullStore,
) -> None:
    """A new user keeps every field and is found both ways."""
    user = make_user("usr_1", "alice", superuser=True, disabled=True)

    await access.create_user(user)

    assert await access.get_user("usr_1") == user
    assert await access.find_user("alice") == user


async def test_creating_a_taken_username_raises_and_keeps_the_first(
    access: FullStore, alice: User
) -> None:
    """A second user with a taken username raises AlreadyExistsError."""
    with pytest.raises(errors.AlreadyExistsError) as raised:
        await access.create_user(make_user("usr_2", "alice"))

    assert (raised.value.kind, raised.value.name) == ("user", "alice")
    assert await access.find_user("alice") == alice
    assert await access.list_users() == [alice]


async def test_an_unknown_user_is_not_found(access: FullStore) -> None:
    """get_user raises UserNotFoundError and find_user returns None."""
    with pytest.raises(errors.UserNotFoundError) as raised:
        await access.get_user("usr_missing")

    assert raised.value.user == "usr_missing"
    assert await access.find_user("nobody") is None


async def test_update_user_replaces_the_record(access: FullStore, alice: User) -> None:
    """Every field but the id can change, the username included."""
    changed = replace(
        alice,
        username="alice2",
        password_hash="$argon2id$new",  # noqa: S106 - a stand-in hash
        superuser=True,
        disabled=True,
    )

    await access.update_user(changed)

    assert await access.get_user(alice.user_id) == changed
    assert await access.find_user("alice2") == changed
    assert await access.find_user("alice") is None


async def test_updating_an_unknown_user_raises_user_not_found(
    access: FullStore,
) -> None:
    """update_user of an id that was never created raises UserNotFoundError."""
    with pytest.raises(errors.UserNotFoundError):
        await access.update_user(make_user("usr_missing", "ghost"))

    assert await access.list_users() == []


async def test_renaming_a_user_to_a_taken_username_raises_already_exists(
    access: FullStore, alice: User
) -> None:
    """update_user to another user's username raises AlreadyExistsError."""
    bob = make_user("usr_bob", "bob")
    await access.create_user(bob)

    with pytest.raises(errors.AlreadyExistsError):
        await access.update_user(replace(bob, username="alice"))

    assert await access.get_user("usr_bob") == bob


async def test_list_users_returns_every_user_by_username(access: FullStore) -> None:
    """Users are listed in username order."""
    for user_id, username in (("usr_1", "zoe"), ("usr_2", "adam"), ("usr_3", "mia")):
        await access.create_user(make_user(user_id, username))

    listed = await access.list_users()

    assert [user.username for user in listed] == ["adam", "mia", "zoe"]


# --- role bindings ------------------------------------------------------------------


@pytest.fixture
async def bound(access: FullStore, alice: User) -> FullStore:
    """Store bob and workspace ops; alice: operator in ops, viewer in default."""
    await access.create_user(make_user("usr_bob", "bob"))
    await access.create_workspace(Workspace(name="ops", created_at=T0))
    for workspace, user_id, role in (
        ("ops", "usr_alice", Role.OPERATOR),
        ("default", "usr_bob", Role.ADMIN),
        ("default", "usr_alice", Role.VIEWER),
    ):
        await access.put_binding(
            RoleBinding(workspace=workspace, user_id=user_id, role=role)
        )
    return access


async def test_list_bindings_filters_by_workspace_and_user_in_order(
    bound: FullStore,
) -> None:
    """Bindings come in (workspace, user_id) order, filtered by either or both."""
    everything = await bound.list_bindings()
    of_default = await bound.list_bindings(workspace="default")
    of_alice = await bound.list_bindings(user_id="usr_alice")
    one = await bound.list_bindings(workspace="ops", user_id="usr_alice")

    assert [(b.workspace, b.user_id, b.role) for b in everything] == [
        ("default", "usr_alice", Role.VIEWER),
        ("default", "usr_bob", Role.ADMIN),
        ("ops", "usr_alice", Role.OPERATOR),
    ]
    assert [b.user_id for b in of_default] == ["usr_alice", "usr_bob"]
    assert [b.workspace for b in of_alice] == ["default", "ops"]
    assert one == [
        RoleBinding(workspace="ops", user_id="usr_alice", role=Role.OPERATOR)
    ]


async def test_putting_a_binding_again_replaces_the_role(bound: FullStore) -> None:
    """A user has one role per workspace: the last one put."""
    await bound.put_binding(
        RoleBinding(workspace="ops", user_id="usr_alice", role=Role.ADMIN)
    )

    found = await bound.list_bindings(workspace="ops", user_id="usr_alice")

    assert [binding.role for binding in found] == [Role.ADMIN]


async def test_delete_binding_removes_only_that_binding(bound: FullStore) -> None:
    """Deleting alice's role in ops keeps her role elsewhere and bob's."""
    await bound.delete_binding(workspace="ops", user_id="usr_alice")

    remaining = await bound.list_bindings()

    assert [(b.workspace, b.user_id) for b in remaining] == [
        ("default", "usr_alice"),
        ("default", "usr_bob"),
    ]


async def test_deleting_a_missing_binding_is_no_error(bound: FullStore) -> None:
    """delete_binding of a role the user does not have changes nothing."""
    await bound.delete_binding(workspace="ops", user_id="usr_bob")
    await bound.delete_binding(workspace="nowhere", user_id="usr_nobody")

    assert len(await bound.list_bindings()) == 3


async def test_a_binding_to_an_unknown_workspace_raises_workspace_not_found(
    access: FullStore, alice: User
) -> None:
    """put_binding in a workspace that does not exist raises WorkspaceNotFoundError."""
    binding = RoleBinding(workspace="nowhere", user_id="usr_alice", role=Role.VIEWER)

    with pytest.raises(errors.WorkspaceNotFoundError):
        await access.put_binding(binding)

    assert await access.list_bindings() == []


async def test_a_binding_of_an_unknown_user_raises_user_not_found(
    access: FullStore,
) -> None:
    """put_binding of a user that does not exist raises UserNotFoundError."""
    binding = RoleBinding(workspace="default", user_id="usr_ghost", role=Role.VIEWER)

    with pytest.raises(errors.UserNotFoundError):
        await access.put_binding(binding)

    assert await access.list_bindings() == []


# --- credentials --------------------------------------------------------------------


@pytest.mark.usefixtures("alice")
async def test_an_added_credential_is_found_by_id_and_by_secret_hash(
    access: FullStore,
) -> None:
    """A credential keeps every field, limits and expiry included."""
    credential = make_credential(
        "key_1",
        kind=CredentialKind.API_KEY,
        expires_at=T0 + timedelta(days=30),
        workspace="ops",
        role=Role.VIEWER,
        name="ci",
    )

    await access.add_credential(credential)

    assert await access.get_credential("key_1") == credential
    assert await access.find_credential("sha256-of-key_1") == credential
    assert await access.find_credential("sha256-of-nothing") is None


@pytest.mark.usefixtures("alice")
async def test_credential_times_in_another_timezone_come_back_as_the_same_instants(
    access: FullStore,
) -> None:
    """Times given in another timezone are kept as the same instants."""
    created = datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=TOKYO)
    await access.add_credential(
        make_credential("ses_1", created_at=created, expires_at=created + MINUTE)
    )

    found = await access.get_credential("ses_1")

    assert found.created_at == created
    assert found.expires_at == created + MINUTE


async def test_getting_an_unknown_credential_raises_credential_not_found(
    access: FullStore,
) -> None:
    """get_credential of an id never added raises CredentialNotFoundError."""
    with pytest.raises(errors.CredentialNotFoundError) as raised:
        await access.get_credential("ses_missing")

    assert raised.value.credential_id == "ses_missing"


@pytest.mark.usefixtures("alice")
async def test_revoking_a_credential_records_the_first_revocation_only(
    access: FullStore,
) -> None:
    """Revoking twice is harmless and keeps the first revocation's time."""
    await access.add_credential(make_credential("ses_1"))

    await access.revoke_credential("ses_1", at=T0 + MINUTE)
    await access.revoke_credential("ses_1", at=T0 + 2 * MINUTE)

    revoked = await access.get_credential("ses_1")
    assert revoked.revoked_at == T0 + MINUTE
    assert not revoked.is_valid(T0 + MINUTE)


async def test_revoking_an_unknown_credential_raises_credential_not_found(
    access: FullStore,
) -> None:
    """revoke_credential of an id never added raises CredentialNotFoundError."""
    with pytest.raises(errors.CredentialNotFoundError):
        await access.revoke_credential("ses_missing", at=T0)


@pytest.mark.usefixtures("alice")
async def test_list_credentials_filters_by_user_and_kind_oldest_first(
    access: FullStore,
) -> None:
    """Credentials come oldest first, filtered by user, kind or both."""
    await access.create_user(make_user("usr_bob", "bob"))
    for credential in (
        make_credential("ses_2", created_at=T0 + 2 * MINUTE),
        make_credential("key_1", kind=CredentialKind.API_KEY, created_at=T0 + MINUTE),
        make_credential("ses_1", created_at=T0),
        make_credential("ses_bob", user_id="usr_bob", created_at=T0),
    ):
        await access.add_credential(credential)

    def ids(found: list[Credential]) -> list[str]:
        return [credential.credential_id for credential in found]

    assert ids(await access.list_credentials()) == [
        "ses_1",
        "ses_bob",
        "key_1",
        "ses_2",
    ]
    assert ids(await access.list_credentials(user_id="usr_alice")) == [
        "ses_1",
        "key_1",
        "ses_2",
    ]
    assert ids(await access.list_credentials(kind=CredentialKind.SESSION)) == [
        "ses_1",
        "ses_bob",
        "ses_2",
    ]
    assert ids(
        await access.list_credentials(user_id="usr_alice", kind=CredentialKind.API_KEY)
    ) == ["key_1"]


@pytest.mark.usefixtures("alice")
async def test_purging_sessions_deletes_those_that_ended_before_the_time_only(
    access: FullStore,
) -> None:
    """Sessions and refresh tokens that ended before the time go; keys stay."""
    cutoff = T0 + 10 * MINUTE
    for credential in (
        make_credential("ses_expired", expires_at=cutoff - MINUTE),
        make_credential("ses_revoked", expires_at=T0 + 60 * MINUTE),
        make_credential("ses_expiring_at_cutoff", expires_at=cutoff),
        make_credential("ses_live", expires_at=T0 + 60 * MINUTE),
        make_credential("ses_revoked_late", expires_at=T0 + 60 * MINUTE),
        make_credential(
            "ref_expired", kind=CredentialKind.REFRESH, expires_at=cutoff - MINUTE
        ),
        make_credential(
            "ref_live", kind=CredentialKind.REFRESH, expires_at=cutoff + MINUTE
        ),
        make_credential(
            "key_expired", kind=CredentialKind.API_KEY, expires_at=cutoff - MINUTE
        ),
        make_credential("key_revoked", kind=CredentialKind.API_KEY),
    ):
        await access.add_credential(credential)
    await access.revoke_credential("ses_revoked", at=cutoff - MINUTE)
    await access.revoke_credential("ses_revoked_late", at=cutoff + MINUTE)
    await access.revoke_credential("key_revoked", at=T0)

    purged = await access.purge_sessions(ended_before=cutoff)
    again = await access.purge_sessions(ended_before=cutoff)

    assert (purged, again) == (3, 0)
    assert sorted(c.credential_id for c in await access.list_credentials()) == [
        "key_expired",
        "key_revoked",
        "ref_live",
        "ses_expiring_at_cutoff",
        "ses_live",
        "ses_revoked_late",
    ]
    assert await access.find_credential("sha256-of-ses_expired") is None


async def test_a_credential_of_an_unknown_user_raises_user_not_found(
    access: FullStore,
) -> None:
    """add_credential for a user that does not exist raises UserNotFoundError."""
    with pytest.raises(errors.UserNotFoundError):
        await access.add_credential(make_credential("ses_1", user_id="usr_ghost"))

    assert await access.list_credentials() == []


# --- operations ---------------------------------------------------------------------


async def test_an_added_operation_is_returned_with_every_field(
    runs: FullStore,
) -> None:
    """A stored operation is found by id as it was given."""
    operation = make_operation("op_1")

    await runs.add_operation(operation)

    assert await runs.get_operation("op_1") == operation


async def test_getting_an_unknown_operation_raises_operation_not_found(
    access: FullStore,
) -> None:
    """get_operation of an id never added raises OperationNotFoundError."""
    with pytest.raises(errors.OperationNotFoundError) as raised:
        await access.get_operation("op_missing")

    assert raised.value.operation_id == "op_missing"


async def test_list_operations_returns_the_workspace_s_newest_first(
    runs: FullStore,
) -> None:
    """Operations of one workspace come newest first; other workspaces' are left out."""
    for operation in (
        make_operation("op_1", at=T0),
        make_operation("op_3", at=T0 + 2 * MINUTE, run_id="run_2"),
        make_operation("op_2", at=T0 + MINUTE),
        make_operation("op_9", at=T0 + 3 * MINUTE, run_id="run_9", workspace="other"),
    ):
        await runs.add_operation(operation)

    listed = await runs.list_operations(workspace="default")

    assert [operation.operation_id for operation in listed] == ["op_3", "op_2", "op_1"]
    assert await runs.list_operations(workspace="nowhere") == []


async def test_list_operations_keeps_to_the_limit_and_the_run(runs: FullStore) -> None:
    """``limit`` keeps the newest operations; ``run_id`` keeps that run's."""
    for minute, run_id in enumerate(("run_1", "run_2", "run_1", "run_2", "run_1")):
        await runs.add_operation(
            make_operation(f"op_{minute}", at=T0 + minute * MINUTE, run_id=run_id)
        )

    newest_two = await runs.list_operations(workspace="default", limit=2)
    of_run_1 = await runs.list_operations(workspace="default", run_id="run_1")
    latest_of_run_2 = await runs.list_operations(
        workspace="default", run_id="run_2", limit=1
    )
    none = await runs.list_operations(workspace="default", limit=0)

    assert [operation.operation_id for operation in newest_two] == ["op_4", "op_3"]
    assert [operation.operation_id for operation in of_run_1] == [
        "op_4",
        "op_2",
        "op_0",
    ]
    assert [operation.operation_id for operation in latest_of_run_2] == ["op_3"]
    assert none == []


async def test_an_operation_on_an_unknown_run_raises_run_not_found(
    access: FullStore,
) -> None:
    """add_operation for a run that does not exist raises RunNotFoundError."""
    with pytest.raises(errors.RunNotFoundError):
        await access.add_operation(make_operation("op_1", run_id="run_ghost"))

    assert await access.list_operations(workspace="default") == []


# --- idempotency records ------------------------------------------------------------


def make_record(**changes: Any) -> IdempotencyRecord:
    """Return the record of a start command sent with the key ``key-1``."""
    record = IdempotencyRecord(
        workspace="default",
        key="key-1",
        command="start_run",
        request_digest="sha256:abc",
        run_id="run_1",
        response={"run_id": "run_1", "status": "pending"},
        created_at=T0,
    )
    return replace(record, **changes)


async def test_save_idempotency_stores_a_new_record(access: FullStore) -> None:
    """A record saved on its own is found by its workspace and key."""
    record = make_record()

    await access.save_idempotency(record)

    assert await access.find_idempotency(workspace="default", key="key-1") == record
    assert await access.find_idempotency(workspace="other", key="key-1") is None


async def test_save_idempotency_replaces_the_response_of_the_same_key(
    access: FullStore,
) -> None:
    """Saving a key again keeps one record: the one saved last."""
    await access.save_idempotency(make_record())
    done = make_record(response={"run_id": "run_1", "status": "succeeded", "n": [1]})

    await access.save_idempotency(done)

    assert await access.find_idempotency(workspace="default", key="key-1") == done
