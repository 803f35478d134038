"""AccessService: workspaces, users, members and keys, checked against the caller."""

from __future__ import annotations

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import CredentialKind, Permission, Principal, Role
from onward.errors import SuperuserRequiredError
from onward.service.access import AccessService
from onward.service.auth import AuthService
from onward.storage.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def auth(store: MemoryStore) -> AuthService:
    """Return an AuthService over the store."""
    return AuthService(store=store, clock=FrozenClock())


@pytest.fixture
def access(store: MemoryStore, auth: AuthService) -> AccessService:
    """Return the service under test, over the same store."""
    return AccessService(store=store, auth=auth, clock=FrozenClock())


async def signed_in(auth: AuthService, username: str, **roles: Role) -> Principal:
    """Create a user with roles in workspaces and return them signed in by key."""
    user = await auth.create_user(username, superuser=username == "root")
    for workspace, role in roles.items():
        await auth.ensure_workspace(workspace)
        await auth.grant(username, workspace, role)
    bare = Principal(user_id=user.user_id, username=username, superuser=user.superuser)
    key = await auth.create_api_key(bare, name="session")
    return await auth.authenticate(key.secret)


async def test_only_unlimited_superusers_create_workspaces(
    auth: AuthService, access: AccessService
) -> None:
    """An admin cannot, a superuser can, a superuser's limited key cannot."""
    admin = await signed_in(auth, "ann", default=Role.ADMIN)
    root = await signed_in(auth, "root")
    limited_key = await auth.create_api_key(root, name="k", workspace="default")
    limited = await auth.authenticate(limited_key.secret)

    with pytest.raises(SuperuserRequiredError):
        await access.create_workspace(admin, name="ops")
    with pytest.raises(SuperuserRequiredError):
        await access.create_workspace(limited, name="ops")
    made = await access.create_workspace(root, name="ops", description="the ops")

    assert made.description == "the ops"
    assert [w.name for w in await access.list_workspaces(admin)] == ["default"]
    assert [w.name for w in await access.list_workspaces(root)] == ["default", "ops"]


async def test_authorize_hides_workspaces_without_a_role_and_missing_ones(
    auth: AuthService, access: AccessService
) -> None:
    """No role, or no such workspace (even for a superuser): not found; low: denied."""
    viewer = await signed_in(auth, "vic", default=Role.VIEWER)
    root = await signed_in(auth, "root")
    await auth.ensure_workspace("ops")

    with pytest.raises(errors.WorkspaceNotFoundError):
        await access.authorize(viewer, Permission.READ, "ops")
    with pytest.raises(errors.WorkspaceNotFoundError):
        await access.authorize(root, Permission.READ, "nowhere")
    with pytest.raises(errors.PermissionDeniedError):
        await access.authorize(viewer, Permission.OPERATE, "default")
    await access.authorize(viewer, Permission.READ, "default")


async def test_admins_manage_members_by_id_or_username(
    auth: AuthService, access: AccessService
) -> None:
    """Put, get, list and remove a member; a non-admin may not."""
    admin = await signed_in(auth, "ann", default=Role.ADMIN)
    author = await signed_in(auth, "abe", default=Role.AUTHOR)
    bob = await auth.create_user("bob")

    put = await access.put_member(admin, "default", "bob", Role.OPERATOR)
    got = await access.get_member(admin, "default", bob.user_id)
    listed = await access.list_members(admin, "default")
    with pytest.raises(errors.PermissionDeniedError):
        await access.put_member(author, "default", "bob", Role.ADMIN)
    await access.remove_member(admin, "default", "bob")

    assert put == got
    assert got.role is Role.OPERATOR
    assert [m.username for m in listed] == ["abe", "ann", "bob"]
    with pytest.raises(errors.UserNotFoundError):
        await access.get_member(admin, "default", "bob")
    with pytest.raises(errors.UserNotFoundError):
        await access.put_member(admin, "default", "nobody", Role.VIEWER)


async def test_superusers_manage_users_but_cannot_lock_themselves_out(
    auth: AuthService, access: AccessService
) -> None:
    """Users are created and changed by superusers; self-disabling is refused."""
    root = await signed_in(auth, "root")
    admin = await signed_in(auth, "ann", default=Role.ADMIN)

    made = await access.create_user(root, username="cy")
    disabled = await access.update_user(root, "cy", disabled=True)
    with pytest.raises(SuperuserRequiredError):
        await access.list_users(admin)
    with pytest.raises(errors.ConflictError):
        await access.update_user(root, "root", superuser=False)

    assert disabled.user_id == made.user_id
    assert disabled.disabled is True
    assert (await access.get_user(root, made.user_id)).disabled is True


async def test_api_keys_belong_to_their_user(
    auth: AuthService, access: AccessService
) -> None:
    """Users list and revoke their own keys; a key needs a role in its workspace."""
    ann = await signed_in(auth, "ann", default=Role.ADMIN)
    bob = await signed_in(auth, "bob", default=Role.VIEWER)
    await auth.ensure_workspace("ops")

    key = await access.create_api_key(ann, name="ci", workspace="default")
    with pytest.raises(errors.WorkspaceNotFoundError):
        await access.create_api_key(ann, name="x", workspace="ops")
    with pytest.raises(errors.CredentialNotFoundError):
        await access.revoke_api_key(bob, key.credential.credential_id)
    await access.revoke_api_key(ann, key.credential.credential_id)

    keys = {k.name: k for k in await access.list_api_keys(ann)}
    assert sorted(keys) == ["ci", "session"]
    assert keys["ci"].revoked_at is not None
    assert keys["session"].revoked_at is None
    assert {k.kind for k in keys.values()} == {CredentialKind.API_KEY}


async def test_logout_ends_sessions_but_not_api_keys(
    auth: AuthService, access: AccessService
) -> None:
    """Logging out with a key is refused: keys are revoked, not logged out."""
    by_key = await signed_in(auth, "ann", default=Role.ADMIN)

    with pytest.raises(errors.ConflictError):
        await access.logout(by_key)
