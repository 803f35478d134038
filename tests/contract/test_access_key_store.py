"""
Access keys on every store adapter (memory, sqlite, postgres): a credential kind.

Access keys need no table of their own: they are credentials of kind
``access_key`` whose id is the access key id. Every adapter must keep the kind,
find the key by id, list it by kind and revoke it; AccessKeys then verifies
signatures against any of them alike.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from datetime import UTC, datetime
from typing import cast

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import (
    CredentialKind,
    Principal,
    Role,
    RoleBinding,
    User,
    Workspace,
)
from onward.service.access_keys import AccessKeys
from onward.service.auth import AuthService
from onward.service.ports import FullStore, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MASTER = "contract-master-secret-0123456789ab"


@pytest.fixture
async def access(store: Store) -> FullStore:
    """Return the store as a FullStore with the default workspace and kay, a viewer."""
    full = cast(FullStore, store)
    with contextlib.suppress(errors.AlreadyExistsError):
        await full.create_workspace(Workspace(name="default", created_at=T0))
    await full.create_user(User(user_id="usr_kay", username="kay", created_at=T0))
    await full.put_binding(
        RoleBinding(workspace="default", user_id="usr_kay", role=Role.VIEWER)
    )
    return full


@pytest.fixture
def keys(access: FullStore) -> AccessKeys:
    """Return AccessKeys over the adapter."""
    clock = FrozenClock(T0)
    return AccessKeys(
        store=access,
        auth=AuthService(store=access, clock=clock),
        clock=clock,
        master=MASTER,
    )


async def test_an_access_key_is_stored_found_listed_and_revoked(
    access: FullStore, keys: AccessKeys
) -> None:
    """The adapter keeps the kind and limits; finds, lists and revokes the key."""
    kay = Principal(user_id="usr_kay", username="kay", roles={"default": Role.VIEWER})
    issued = await keys.create(kay, name="ci", workspace="default", role=Role.VIEWER)

    found = await access.get_credential(issued.access_key_id)
    listed = await access.list_credentials(kind=CredentialKind.ACCESS_KEY)
    api_keys = await access.list_credentials(kind=CredentialKind.API_KEY)
    await keys.revoke(kay, issued.access_key_id)
    revoked = await access.get_credential(issued.access_key_id)

    assert found == issued.credential
    assert [c.credential_id for c in listed] == [issued.access_key_id]
    assert api_keys == []
    assert revoked.revoked_at is not None


async def test_a_signature_verifies_against_the_adapter(keys: AccessKeys) -> None:
    """verify reads the key from the adapter and checks the HMAC."""
    issued = await keys.create(Principal(user_id="usr_kay", username="kay"), name="ci")
    message = b"to sign"
    signature = hmac.new(issued.secret_key.encode(), message, hashlib.sha256)

    principal = await keys.verify(issued.access_key_id, message, signature.hexdigest())

    assert principal.user_id == "usr_kay"
