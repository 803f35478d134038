"""
AccessKeys over a MemoryStore and a FrozenClock: derived secrets, limits, verification.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import CredentialKind, Principal, Role, RoleBinding
from onward.errors import AccessKeysOffError, SuperuserRequiredError
from onward.service.access import AccessService
from onward.service.access_keys import AccessKeys
from onward.service.auth import AuthService
from onward.storage.memory import MemoryStore

MASTER = "unit-test-master-secret-0123456789"
MESSAGE = b"SDK-HMAC-SHA256\n20260101T000000Z\nabc"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def auth(store: MemoryStore, clock: FrozenClock) -> AuthService:
    """Return the auth service."""
    return AuthService(store=store, clock=clock)


@pytest.fixture
def keys(store: MemoryStore, auth: AuthService, clock: FrozenClock) -> AccessKeys:
    """Return the service under test, with a master secret."""
    return AccessKeys(store=store, auth=auth, clock=clock, master=MASTER)


@pytest.fixture
async def bob(auth: AuthService, store: MemoryStore) -> Principal:
    """Create bob, operator in the default workspace; return him as a principal."""
    await auth.ensure_workspace()
    user = await auth.create_user("bob")
    await store.put_binding(
        RoleBinding(workspace="default", user_id=user.user_id, role=Role.OPERATOR)
    )
    return Principal(user_id=user.user_id, username="bob")


def sign(secret_key: str, message: bytes = MESSAGE) -> str:
    """Return the hex HMAC-SHA256 of a message with a secret key."""
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


async def test_a_signature_made_with_the_secret_key_verifies(
    keys: AccessKeys, bob: Principal
) -> None:
    """verify returns the key owner's principal, with the key's id."""
    issued = await keys.create(bob, name="ci")

    principal = await keys.verify(
        issued.access_key_id, MESSAGE, sign(issued.secret_key)
    )

    assert principal.username == "bob"
    assert principal.credential_id == issued.access_key_id
    assert principal.roles == {"default": Role.OPERATOR}


async def test_the_secret_key_is_derived_and_never_stored(
    keys: AccessKeys, store: MemoryStore, bob: Principal
) -> None:
    """The stored credential holds no secret; the same master derives the same key."""
    issued = await keys.create(bob, name="ci")
    again = AccessKeys(store=store, auth=keys._auth, clock=keys._clock, master=MASTER)

    stored = await store.get_credential(issued.access_key_id)

    assert stored.kind is CredentialKind.ACCESS_KEY
    assert issued.secret_key not in repr(stored)
    assert len(issued.secret_key) == 40
    assert len(issued.access_key_id) == 20
    assert await again.verify(issued.access_key_id, MESSAGE, sign(issued.secret_key))


@pytest.mark.parametrize("flaw", ["secret", "message", "unknown", "revoked", "expired"])
async def test_bad_signatures_and_dead_keys_fail_authentication(
    keys: AccessKeys, bob: Principal, clock: FrozenClock, flaw: str
) -> None:
    """A wrong secret or message, an unknown, revoked or expired key is refused."""
    issued = await keys.create(bob, name="ci", expires_in=timedelta(hours=1))
    key_id, secret, message = issued.access_key_id, issued.secret_key, MESSAGE
    if flaw == "secret":
        secret = "A" * 40
    if flaw == "message":
        message = b"something else"
    if flaw == "unknown":
        key_id = "ONWNOSUCHKEY00000000"
    if flaw == "revoked":
        await keys.revoke(bob, key_id)
    if flaw == "expired":
        clock.advance(timedelta(hours=2))

    with pytest.raises(errors.AuthenticationError):
        await keys.verify(key_id, MESSAGE, sign(secret, message))


async def test_a_changed_master_secret_invalidates_every_key(
    keys: AccessKeys, store: MemoryStore, bob: Principal
) -> None:
    """Rotating the master secret changes every derived secret key."""
    issued = await keys.create(bob, name="ci")
    rotated = AccessKeys(
        store=store, auth=keys._auth, clock=keys._clock, master=MASTER + "!"
    )

    with pytest.raises(errors.AuthenticationError):
        await rotated.verify(issued.access_key_id, MESSAGE, sign(issued.secret_key))


async def test_without_a_master_secret_access_keys_are_off(
    store: MemoryStore, auth: AuthService, clock: FrozenClock, bob: Principal
) -> None:
    """No master secret: making a key is refused, verifying always fails."""
    off = AccessKeys(store=store, auth=auth, clock=clock, master=None)

    with pytest.raises(AccessKeysOffError) as raised:
        await off.create(bob, name="ci")
    with pytest.raises(errors.AuthenticationError):
        await off.verify("ONWANY", MESSAGE, "00")

    assert isinstance(raised.value, errors.ConflictError)
    assert "ONWARD_ACCESS_KEY_MASTER" in raised.value.message


async def test_keys_made_before_are_listed_and_revoked_with_access_keys_off(
    keys: AccessKeys,
    store: MemoryStore,
    auth: AuthService,
    clock: FrozenClock,
    bob: Principal,
) -> None:
    """Without the master secret, existing keys can still be seen and revoked."""
    issued = await keys.create(bob, name="ci")
    off = AccessKeys(store=store, auth=auth, clock=clock, master=None)

    await off.revoke(bob, issued.access_key_id)
    listed = await off.list_keys(bob)

    assert [k.credential_id for k in listed] == [issued.access_key_id]
    assert listed[0].revoked_at == clock.now()


async def test_an_access_key_id_is_never_a_bearer_secret(
    keys: AccessKeys, auth: AuthService, bob: Principal
) -> None:
    """AuthService.authenticate refuses an access key id."""
    issued = await keys.create(bob, name="ci")

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.access_key_id)


async def test_a_key_made_with_a_limited_key_keeps_its_limits(
    keys: AccessKeys, bob: Principal
) -> None:
    """A principal limited to a workspace and role makes keys no wider."""
    limited = Principal(
        user_id=bob.user_id,
        username="bob",
        workspace_limit="default",
        role_limit=Role.VIEWER,
    )

    issued = await keys.create(limited, name="ci", role=Role.ADMIN)
    with pytest.raises(errors.WorkspaceNotFoundError):
        await keys.create(limited, name="other", workspace="ops")

    assert issued.credential.workspace == "default"
    assert issued.credential.role is Role.VIEWER


async def test_keys_are_listed_and_revoked_by_their_owner(
    keys: AccessKeys, bob: Principal
) -> None:
    """list_keys shows the owner's access keys; revoke marks one revoked."""
    issued = await keys.create(bob, name="ci")

    await keys.revoke(bob, issued.access_key_id)
    listed = await keys.list_keys(bob)

    assert [k.credential_id for k in listed] == [issued.access_key_id]
    assert listed[0].revoked_at is not None


async def test_a_key_limited_to_a_workspace_needs_a_role_there(
    keys: AccessKeys, auth: AuthService, bob: Principal
) -> None:
    """As for API keys, a key of a workspace the owner has no role in is refused."""
    await auth.ensure_workspace("ops")
    operator = Principal(
        user_id=bob.user_id, username="bob", roles={"default": Role.OPERATOR}
    )

    issued = await keys.create(operator, name="ci", workspace="default")
    with pytest.raises(errors.WorkspaceNotFoundError):
        await keys.create(operator, name="ops", workspace="ops")

    assert issued.credential.workspace == "default"
    assert issued.credential.role is None


async def test_a_superuser_makes_and_lists_another_user_s_keys(
    keys: AccessKeys, auth: AuthService, bob: Principal
) -> None:
    """A superuser acts for ``user``; anyone else asking for another user is refused."""
    root_user = await auth.create_user("root", superuser=True)
    root = Principal(user_id=root_user.user_id, username="root", superuser=True)

    issued = await keys.create(root, name="for-bob", user="bob")
    listed = await keys.list_keys(root, user=bob.user_id)
    with pytest.raises(SuperuserRequiredError):
        await keys.list_keys(bob, user="root")
    with pytest.raises(SuperuserRequiredError):
        await keys.create(bob, name="for-root", user="root")

    assert issued.credential.user_id == bob.user_id
    assert [k.credential_id for k in listed] == [issued.access_key_id]
    assert await keys.list_keys(root) == []


async def test_access_keys_and_api_keys_are_revoked_only_as_themselves(
    keys: AccessKeys,
    store: MemoryStore,
    auth: AuthService,
    clock: FrozenClock,
    bob: Principal,
) -> None:
    """Revoking an API key id as an access key, or the reverse, is not found."""
    access_key = await keys.create(bob, name="sdk")
    api_key = await auth.create_api_key(bob, name="ci")
    api_key_id = api_key.credential.credential_id
    access = AccessService(store=store, auth=auth, clock=clock)

    with pytest.raises(errors.CredentialNotFoundError):
        await keys.revoke(bob, api_key_id)
    with pytest.raises(errors.CredentialNotFoundError):
        await access.revoke_api_key(bob, access_key.access_key_id)

    assert (await store.get_credential(api_key_id)).revoked_at is None
    assert (await store.get_credential(access_key.access_key_id)).revoked_at is None
