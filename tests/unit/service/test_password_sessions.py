"""
PasswordSessions over a MemoryStore and a FrozenClock: one reused session per login.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import Credential, CredentialKind, Role
from onward.service.auth import DEFAULT_WORKSPACE, AuthService
from onward.service.credential_cache import PasswordCache
from onward.service.password_sessions import PasswordSessions
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - test data
OTHER_PASSWORD = "another horse battery"  # noqa: S105 - test data
ADDRESS = "192.0.2.1"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
async def auth(store: MemoryStore, clock: FrozenClock) -> AuthService:
    """Return an auth service with carol (an operator) and dan."""
    service = AuthService(store=store, clock=clock)
    await service.ensure_workspace()
    await service.create_user("carol", PASSWORD)
    await service.grant("carol", DEFAULT_WORKSPACE, Role.OPERATOR)
    await service.create_user("dan", PASSWORD)
    return service


def sessions_of(
    auth: AuthService, store: MemoryStore, clock: FrozenClock, *, capacity: int = 8
) -> PasswordSessions:
    """Return the service under test (its password cache remembers 30 s)."""
    return PasswordSessions(
        auth=auth,
        passwords=PasswordCache(auth=auth, clock=clock),
        store=store,
        clock=clock,
        capacity=capacity,
    )


@pytest.fixture
def logins(
    auth: AuthService, store: MemoryStore, clock: FrozenClock
) -> PasswordSessions:
    """Return the service under test."""
    return sessions_of(auth, store, clock)


async def session_count(store: MemoryStore) -> int:
    """Return how many sessions the store holds, valid or not."""
    return len(await store.list_credentials(kind=CredentialKind.SESSION))


async def test_a_login_sent_again_and_again_reuses_one_session(
    logins: PasswordSessions, store: MemoryStore, clock: FrozenClock
) -> None:
    """Polled every 10 s for an hour, past many cache periods: one session only."""
    first = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    tokens = set()
    for _ in range(360):
        clock.advance(timedelta(seconds=10))
        tokens.add((await logins.sign_in("carol", PASSWORD, address=ADDRESS)).token)

    assert tokens == {first.token}
    assert await session_count(store) == 1


async def test_the_token_signs_in_as_the_user_with_the_user_s_role(
    logins: PasswordSessions, auth: AuthService
) -> None:
    """The token is a session of the login's user; roles apply as with the password."""
    login = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    principal = await auth.authenticate(login.token)

    assert principal.user_id == login.principal.user_id
    assert principal.role_in(DEFAULT_WORKSPACE) is Role.OPERATOR
    assert login.principal.role_in(DEFAULT_WORKSPACE) is Role.OPERATOR


async def test_after_half_its_lifetime_a_login_gets_a_new_session(
    logins: PasswordSessions, auth: AuthService, store: MemoryStore, clock: FrozenClock
) -> None:
    """At 6 h a new session is handed out; the old one works until its 12 h end."""
    old = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    clock.advance(timedelta(hours=6) - timedelta(seconds=1))
    same = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    clock.advance(timedelta(seconds=1))
    new = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    assert same.token == old.token
    assert new.token != old.token
    assert await session_count(store) == 2
    await auth.authenticate(old.token)
    clock.advance(timedelta(hours=6))
    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(old.token)
    await auth.authenticate(new.token)


async def test_a_revoked_session_is_replaced_at_the_next_sign_in(
    logins: PasswordSessions, auth: AuthService, store: MemoryStore
) -> None:
    """A logout with the token ends it; the login then gets a new, working one."""
    old = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    await auth.logout(await auth.authenticate(old.token))

    new = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    assert new.token != old.token
    assert (await auth.authenticate(new.token)).username == "carol"
    assert await session_count(store) == 2


async def test_a_wrong_password_is_refused_and_issues_nothing(
    logins: PasswordSessions, store: MemoryStore
) -> None:
    """A failed sign-in raises AuthenticationError and stores no session."""
    with pytest.raises(errors.AuthenticationError):
        await logins.sign_in("carol", "wrong password", address=ADDRESS)

    assert await session_count(store) == 0


async def test_each_user_and_password_has_a_session_of_its_own(
    logins: PasswordSessions, auth: AuthService, clock: FrozenClock
) -> None:
    """Two users get two sessions; a changed password signs in to a new one."""
    carol = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    dan = await logins.sign_in("dan", PASSWORD, address=ADDRESS)
    await auth.set_password(carol.principal.user_id, OTHER_PASSWORD)
    clock.advance(timedelta(seconds=31))

    changed = await logins.sign_in("carol", OTHER_PASSWORD, address=ADDRESS)

    assert len({carol.token, dan.token, changed.token}) == 3
    assert (await auth.authenticate(dan.token)).username == "dan"
    assert (await auth.authenticate(changed.token)).username == "carol"


async def test_a_session_is_never_handed_to_another_user_of_the_same_name(
    logins: PasswordSessions, auth: AuthService, store: MemoryStore, clock: FrozenClock
) -> None:
    """Should a name pass to another user, its holder gets a session of its own."""
    old = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    renamed = replace(await store.get_user(old.principal.user_id), username="carl")
    await store.update_user(renamed)
    await auth.create_user("carol", PASSWORD)
    clock.advance(timedelta(seconds=31))  # past the password cache's memory

    new = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    assert new.token != old.token
    assert (await auth.authenticate(new.token)).user_id == new.principal.user_id
    assert new.principal.user_id != old.principal.user_id


async def test_memory_holds_at_most_capacity_logins(
    auth: AuthService, store: MemoryStore, clock: FrozenClock
) -> None:
    """Past its capacity the least recently used login is forgotten: a new session."""
    logins = sessions_of(auth, store, clock, capacity=1)
    first = await logins.sign_in("carol", PASSWORD, address=ADDRESS)
    await logins.sign_in("dan", PASSWORD, address=ADDRESS)

    again = await logins.sign_in("carol", PASSWORD, address=ADDRESS)

    assert again.token != first.token
    assert await session_count(store) == 3


async def test_first_sign_ins_at_once_share_one_session(
    logins: PasswordSessions, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent first requests of a login issue one session between them."""
    add = store.add_credential

    async def add_slowly(credential: Credential) -> None:
        await asyncio.sleep(0)  # a database's write lets other requests run
        await add(credential)

    monkeypatch.setattr(store, "add_credential", add_slowly)

    results = await asyncio.gather(
        *(logins.sign_in("carol", PASSWORD, address=ADDRESS) for _ in range(5))
    )

    assert len({login.token for login in results}) == 1
    assert await session_count(store) == 1
