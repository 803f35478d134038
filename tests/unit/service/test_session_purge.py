"""
SessionPurge over a MemoryStore and a FrozenClock: ended sessions go a day later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from structlog.testing import capture_logs

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import Credential, CredentialKind, User
from onward.service.session_purge import EVERY, RETENTION, SessionPurge
from onward.storage.memory import MemoryStore

HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> FrozenClock:
    """Return a frozen clock."""
    return FrozenClock()


@pytest.fixture
async def store(clock: FrozenClock) -> MemoryStore:
    """Return a store with one user."""
    memory = MemoryStore()
    await memory.create_user(
        User(
            user_id="usr_1",
            username="carol",
            password_hash="$argon2id$hash",  # noqa: S106 - not a real hash
            created_at=clock.now(),
        )
    )
    return memory


async def add_session(
    store: MemoryStore, credential_id: str, *, expires_at: datetime
) -> None:
    """Store a session of the user that expires at ``expires_at``."""
    await store.add_credential(
        Credential(
            credential_id=credential_id,
            kind=CredentialKind.SESSION,
            user_id="usr_1",
            secret_hash=f"hash-{credential_id}",
            created_at=expires_at - 12 * HOUR,
            expires_at=expires_at,
        )
    )


async def stored(store: MemoryStore) -> list[str]:
    """Return the ids of the stored credentials."""
    return [c.credential_id for c in await store.list_credentials()]


async def test_an_ended_session_is_deleted_once_it_ended_a_retention_ago(
    store: MemoryStore, clock: FrozenClock
) -> None:
    """Kept while it ended less than RETENTION ago; deleted at the next due purge."""
    await add_session(store, "ses_old", expires_at=clock.now() - RETENTION - HOUR)
    await add_session(store, "ses_recent", expires_at=clock.now() - HOUR)
    await add_session(store, "ses_live", expires_at=clock.now() + HOUR)
    purge = SessionPurge(store, clock, every=2 * HOUR)

    first = await purge.run_due()
    after_first = await stored(store)
    clock.advance(RETENTION)
    second = await purge.run_due()
    after_second = await stored(store)
    clock.advance(90 * timedelta(minutes=1))
    # ses_live ended more than RETENTION ago now, but no purge is due yet
    not_due = await purge.run_due()
    after_not_due = await stored(store)
    clock.advance(30 * timedelta(minutes=1))
    third = await purge.run_due()

    assert (first, after_first) == (1, ["ses_recent", "ses_live"])
    assert (second, after_second) == (1, ["ses_live"])
    assert (not_due, after_not_due) == (0, ["ses_live"])
    assert third == 1
    assert await stored(store) == []


async def test_a_purge_the_store_refuses_is_logged_and_tried_again_when_due(
    store: MemoryStore, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A StorageError does not stop the scheduler: logged, retried EVERY later."""
    await add_session(store, "ses_old", expires_at=clock.now() - 2 * RETENTION)
    purge = SessionPurge(store, clock)

    async def away(*, ended_before: datetime) -> int:
        msg = "the database is away"
        raise errors.StorageError(msg)

    with monkeypatch.context() as patched:
        patched.setattr(store, "purge_sessions", away)
        with capture_logs() as logs:
            failed = await purge.run_due()
    clock.advance(EVERY)
    retried = await purge.run_due()

    assert failed == 0
    assert [(entry["event"], entry["error"]) for entry in logs] == [
        ("sessions.purge_failed", "the database is away")
    ]
    assert retried == 1
    assert await stored(store) == []
