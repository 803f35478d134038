"""
PasswordCache over a MemoryStore and a FrozenClock: successes remembered briefly.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import Principal
from onward.service.auth import AuthService
from onward.service.credential_cache import PasswordCache
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - test data
ADDRESS = "192.0.2.1"


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
async def auth(clock: FrozenClock) -> AuthService:
    """Return an auth service with the user carol."""
    service = AuthService(store=MemoryStore(), clock=clock)
    await service.create_user("carol", PASSWORD)
    return service


@pytest.fixture
def verified(auth: AuthService, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the password verifications the service makes."""
    calls: list[str] = []
    verify = auth.verify_password

    async def counted(username: str, password: str, *, address: str) -> Principal:
        calls.append(username)
        return await verify(username, password, address=address)

    monkeypatch.setattr(auth, "verify_password", counted)
    return calls


async def test_a_success_is_remembered_until_its_time_to_live(
    auth: AuthService, clock: FrozenClock, verified: list[str]
) -> None:
    """Within the time to live the password is not verified again; after, it is."""
    cache = PasswordCache(auth=auth, clock=clock, ttl=timedelta(seconds=30))

    first = await cache.verify("carol", PASSWORD, address=ADDRESS)
    await cache.verify("carol", PASSWORD, address=ADDRESS)
    clock.advance(timedelta(seconds=31))
    await cache.verify("carol", PASSWORD, address=ADDRESS)

    assert first.username == "carol"
    assert verified == ["carol", "carol"]


async def test_failures_are_never_remembered(
    auth: AuthService, clock: FrozenClock, verified: list[str]
) -> None:
    """Each wrong password is verified (and counted by the login limiter)."""
    cache = PasswordCache(auth=auth, clock=clock)

    for _ in range(2):
        with pytest.raises(errors.AuthenticationError):
            await cache.verify("carol", "wrong password", address=ADDRESS)

    assert verified == ["carol", "carol"]


async def test_a_different_password_is_not_a_hit(
    auth: AuthService, clock: FrozenClock
) -> None:
    """A remembered success does not let another password in."""
    cache = PasswordCache(auth=auth, clock=clock)
    await cache.verify("carol", PASSWORD, address=ADDRESS)

    with pytest.raises(errors.AuthenticationError):
        await cache.verify("carol", PASSWORD + "!", address=ADDRESS)


async def test_the_cache_forgets_the_oldest_past_its_capacity(
    auth: AuthService, clock: FrozenClock, verified: list[str]
) -> None:
    """Past its capacity the oldest entry is forgotten."""
    await auth.create_user("dave", PASSWORD)
    cache = PasswordCache(auth=auth, clock=clock, capacity=1)

    await cache.verify("carol", PASSWORD, address=ADDRESS)
    await cache.verify("dave", PASSWORD, address=ADDRESS)
    await cache.verify("carol", PASSWORD, address=ADDRESS)

    assert verified == ["carol", "dave", "carol"]


async def test_verify_password_issues_no_session(auth: AuthService) -> None:
    """AuthService.verify_password returns the principal and stores no credential."""
    principal = await auth.verify_password("carol", PASSWORD, address=ADDRESS)

    assert principal.username == "carol"
    assert principal.credential_id == ""
    assert await auth._store.list_credentials() == []
