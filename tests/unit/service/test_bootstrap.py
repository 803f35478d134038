"""
The first admin from ONWARD_ADMIN_USERNAME and ONWARD_ADMIN_PASSWORD.
"""

from __future__ import annotations

import argon2
import pytest
from structlog.testing import capture_logs

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import Role, User
from onward.service import auth as auth_module
from onward.service.auth import DEFAULT_WORKSPACE, AuthService
from onward.service.bootstrap import bootstrap_admin_from_env
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - test data


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without the variables, and hash with argon2id at its lowest costs."""
    monkeypatch.delenv("ONWARD_ADMIN_USERNAME", raising=False)
    monkeypatch.delenv("ONWARD_ADMIN_PASSWORD", raising=False)
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth_module, "_HASHER", hasher)


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def auth(store: MemoryStore) -> AuthService:
    """Return the service the bootstrap works through."""
    return AuthService(store=store, clock=FrozenClock())


def set_admin(monkeypatch: pytest.MonkeyPatch, username: str, password: str) -> None:
    """Set both bootstrap variables."""
    monkeypatch.setenv("ONWARD_ADMIN_USERNAME", username)
    monkeypatch.setenv("ONWARD_ADMIN_PASSWORD", password)


async def test_the_first_start_creates_the_admin_from_the_environment(
    auth: AuthService, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With both variables set and no user, the admin is created and can log in."""
    set_admin(monkeypatch, "root", PASSWORD)

    with capture_logs() as logs:
        await bootstrap_admin_from_env(auth)

    principal = await auth.authenticate(
        (await auth.login("root", PASSWORD, address="127.0.0.1")).secret
    )
    assert principal.superuser
    assert principal.roles == {DEFAULT_WORKSPACE: Role.ADMIN}
    assert [user.username for user in await store.list_users()] == ["root"]
    assert [entry["event"] for entry in logs] == ["admin.bootstrapped"]
    assert PASSWORD not in repr(logs)


async def test_nothing_happens_once_a_user_exists(
    auth: AuthService, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later starts never create a user nor reset a password."""
    await auth.create_admin("root", PASSWORD)
    set_admin(monkeypatch, "root", "another password")

    await bootstrap_admin_from_env(auth)
    set_admin(monkeypatch, "admin2", "another password")
    await bootstrap_admin_from_env(auth)

    assert [user.username for user in await store.list_users()] == ["root"]
    await auth.login("root", PASSWORD, address="127.0.0.1")


async def test_nothing_happens_without_the_variables(
    auth: AuthService, store: MemoryStore
) -> None:
    """With neither variable set, the bootstrap does nothing and says nothing."""
    with capture_logs() as logs:
        await bootstrap_admin_from_env(auth)

    assert await store.list_users() == []
    assert logs == []


@pytest.mark.parametrize("present", ["ONWARD_ADMIN_USERNAME", "ONWARD_ADMIN_PASSWORD"])
async def test_one_variable_alone_is_ignored_with_a_warning(
    auth: AuthService,
    store: MemoryStore,
    monkeypatch: pytest.MonkeyPatch,
    present: str,
) -> None:
    """Half a configuration creates no one and warns which variable is missing."""
    monkeypatch.setenv(present, "root-or-password")

    with capture_logs() as logs:
        await bootstrap_admin_from_env(auth)

    missing = ({"ONWARD_ADMIN_USERNAME", "ONWARD_ADMIN_PASSWORD"} - {present}).pop()
    assert await store.list_users() == []
    assert logs == [
        {"event": "admin.bootstrap_skipped", "missing": missing, "log_level": "warning"}
    ]


async def test_a_too_short_password_is_refused(
    auth: AuthService, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unacceptable password raises InvalidDefinitionError and creates no one."""
    set_admin(monkeypatch, "root", "short")

    with pytest.raises(errors.InvalidDefinitionError):
        await bootstrap_admin_from_env(auth)

    assert await store.list_users() == []


class _RacingStore(MemoryStore):
    """A store whose user list is read before another server adds the admin."""

    async def list_users(self) -> list[User]:
        """Return no users, as the other server had not yet created its admin."""
        return []


async def test_an_admin_created_meanwhile_by_another_server_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two servers starting together: the second one's bootstrap changes nothing."""
    store = _RacingStore()
    auth = AuthService(store=store, clock=FrozenClock())
    await auth.create_admin("root", PASSWORD)
    set_admin(monkeypatch, "root", "another password")

    await bootstrap_admin_from_env(auth)

    await auth.login("root", PASSWORD, address="127.0.0.1")
