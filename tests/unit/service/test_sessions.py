"""Sessions: login with refresh tokens, refresh rotation, refusals, logout."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import Role
from onward.service.auth import DEFAULT_WORKSPACE, AuthService
from onward.service.sessions import Sessions
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - test data
ADDRESS = "192.0.2.1"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
async def auth(store: MemoryStore, clock: FrozenClock) -> AuthService:
    """Return an AuthService with alice, an operator of the default workspace."""
    service = AuthService(store=store, clock=clock)
    await service.ensure_workspace()
    await service.create_user("alice", PASSWORD)
    await service.grant("alice", DEFAULT_WORKSPACE, Role.OPERATOR)
    return service


@pytest.fixture
def sessions(auth: AuthService, store: MemoryStore, clock: FrozenClock) -> Sessions:
    """Return the service under test (refresh tokens live a day)."""
    return Sessions(auth=auth, store=store, clock=clock)


async def test_a_refreshable_login_gives_an_access_and_a_refresh_token(
    sessions: Sessions, clock: FrozenClock
) -> None:
    """The access token signs in; the session expires like any login session."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)

    principal = await sessions.authenticate(grant.access_token)

    assert grant.refresh_token is not None
    assert principal.username == "alice"
    assert principal.credential_id == grant.credential_id
    assert grant.expires_at > clock.now()


async def test_a_plain_login_has_no_refresh_token(sessions: Sessions) -> None:
    """A logon session without refresh (Enterprise Manager's) has none."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS)

    assert grant.refresh_token is None


async def test_a_refresh_token_is_not_an_access_token(
    sessions: Sessions, auth: AuthService
) -> None:
    """Used as a bearer token, a refresh token is refused here and everywhere."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)
    assert grant.refresh_token is not None

    with pytest.raises(errors.AuthenticationError):
        await sessions.authenticate(grant.refresh_token)
    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(grant.refresh_token)


async def test_a_refresh_rotates_the_pair_and_keeps_the_session_length(
    sessions: Sessions, clock: FrozenClock
) -> None:
    """The old pair stops working; the new session lasts as long as the first."""
    first = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)
    assert first.refresh_token is not None
    clock.advance(timedelta(minutes=5))

    second = await sessions.refresh(first.refresh_token)

    assert second.refresh_token is not None
    assert await sessions.authenticate(second.access_token)
    with pytest.raises(errors.AuthenticationError):
        await sessions.authenticate(first.access_token)
    with pytest.raises(errors.AuthenticationError):
        await sessions.refresh(first.refresh_token)
    assert second.expires_at - clock.now() == first.expires_at - (
        clock.now() - timedelta(minutes=5)
    )


async def test_an_access_token_or_expired_token_does_not_refresh(
    sessions: Sessions, clock: FrozenClock
) -> None:
    """Only a live refresh token refreshes."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)
    assert grant.refresh_token is not None

    with pytest.raises(errors.AuthenticationError):
        await sessions.refresh(grant.access_token)
    with pytest.raises(errors.AuthenticationError):
        await sessions.refresh("onw_not-a-token")
    clock.advance(timedelta(hours=25))
    with pytest.raises(errors.AuthenticationError):
        await sessions.refresh(grant.refresh_token)


async def test_a_disabled_user_cannot_refresh(
    sessions: Sessions, store: MemoryStore
) -> None:
    """Disabling the account stops its refresh tokens."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)
    assert grant.refresh_token is not None
    user = await store.find_user("alice")
    assert user is not None
    await store.update_user(replace(user, disabled=True))

    with pytest.raises(errors.AuthenticationError, match="disabled"):
        await sessions.refresh(grant.refresh_token)


async def test_logout_ends_the_session_and_its_refresh_tokens(
    sessions: Sessions,
) -> None:
    """After logout neither token works."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS, refreshable=True)
    assert grant.refresh_token is not None
    principal = await sessions.authenticate(grant.access_token)

    await sessions.logout(principal)

    with pytest.raises(errors.AuthenticationError):
        await sessions.authenticate(grant.access_token)
    with pytest.raises(errors.AuthenticationError):
        await sessions.refresh(grant.refresh_token)


async def test_logout_with_an_api_key_is_a_conflict(
    sessions: Sessions, auth: AuthService
) -> None:
    """An API key is revoked through Onward's API, not by a logout."""
    grant = await sessions.login("alice", PASSWORD, address=ADDRESS)
    principal = await sessions.authenticate(grant.access_token)
    key = await auth.create_api_key(principal, name="ci")
    by_key = await sessions.authenticate(key.secret)

    with pytest.raises(errors.ConflictError):
        await sessions.logout(by_key)
    assert await sessions.authenticate(key.secret)


async def test_wrong_passwords_are_refused_and_rate_limited(sessions: Sessions) -> None:
    """Failures count against the account like any login."""
    for _ in range(5):
        with pytest.raises(errors.AuthenticationError):
            await sessions.login("alice", "wrong password", address=ADDRESS)

    with pytest.raises(errors.RateLimitedError):
        await sessions.login("alice", PASSWORD, address=ADDRESS)
