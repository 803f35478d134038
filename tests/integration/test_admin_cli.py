"""
``onward admin`` against a fresh SQLite file, through click's CliRunner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from onward import errors, storage
from onward.cli import onward
from onward.clock import SystemClock
from onward.domain.access import Principal, Role
from onward.service.auth import AuthService

PASSWORD = "correct horse battery"  # noqa: S105 - test data
NEW_PASSWORD = "a brand new password"  # noqa: S105 - test data

Invoke = Callable[..., Result]
#: runs one AuthService operation on the test database and returns its outcome
OnDb = Callable[[Callable[[AuthService], Awaitable[Any]]], Any]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the caller's Onward settings out, and structlog as it was."""
    for name in ("ONWARD_DATABASE_URL", "ONWARD_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    yield
    structlog.reset_defaults()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'onward.db'}"


@pytest.fixture
def invoke(db_url: str) -> Invoke:
    """Return a function running ``onward --db URL admin ARGS`` with some stdin."""
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(onward, ["--db", db_url, "admin", *args], input=stdin)

    return run


@pytest.fixture
def on_db(db_url: str) -> OnDb:
    """Return a function running one AuthService operation on the database."""

    def run(operation: Callable[[AuthService], Awaitable[Any]]) -> Any:
        async def _run() -> Any:
            store = storage.open_store(db_url)
            try:
                return await operation(AuthService(store=store, clock=SystemClock()))
            finally:
                await store.close()

        return asyncio.run(_run())

    return run


def login(on_db: OnDb, username: str, password: str) -> Principal:
    """Log in on the database and return who the session belongs to."""

    async def _login(auth: AuthService) -> Principal:
        issued = await auth.login(username, password, address="127.0.0.1")
        return await auth.authenticate(issued.secret)

    principal: Principal = on_db(_login)
    return principal


def grant_alice(invoke: Invoke) -> None:
    """Create the workspace ops and the user alice, operator there."""
    assert invoke("workspace", "create", "ops").exit_code == 0
    created = invoke("user", "create", "alice", "--password-stdin", stdin=PASSWORD)
    assert created.exit_code == 0, created.output
    assert invoke("grant", "alice", "ops", "operator").exit_code == 0


# --- admin create -------------------------------------------------------------------


def test_admin_create_asks_the_password_twice_and_creates_a_superuser(
    invoke: Invoke, on_db: OnDb
) -> None:
    """The admin is a superuser, admin of default, who logs in with that password."""
    result = invoke("create", "root", stdin=f"{PASSWORD}\n{PASSWORD}\n")

    principal = login(on_db, "root", PASSWORD)

    assert result.exit_code == 0, result.output
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert "Admin root created" in result.output
    assert principal.superuser
    assert principal.roles == {"default": Role.ADMIN}


def test_admin_create_refuses_passwords_that_differ(
    invoke: Invoke, on_db: OnDb
) -> None:
    """Two different entries are refused and nobody is created."""
    result = invoke("create", "root", stdin=f"{PASSWORD}\nsomething else\n")

    assert result.exit_code == 1
    assert "do not match" in result.output
    assert on_db(lambda auth: auth.has_users()) is False


def test_admin_create_reads_the_password_from_stdin(
    invoke: Invoke, on_db: OnDb
) -> None:
    """--password-stdin takes the first line of stdin, without asking."""
    result = invoke("create", "root", "--password-stdin", stdin=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    assert login(on_db, "root", PASSWORD).superuser


def test_admin_create_with_an_empty_stdin_is_a_usage_error(
    invoke: Invoke, on_db: OnDb
) -> None:
    """--password-stdin with nothing on stdin exits 2 and creates nobody."""
    result = invoke("create", "root", "--password-stdin", stdin="")

    assert result.exit_code == 2
    assert "stdin is empty" in result.output
    assert on_db(lambda auth: auth.has_users()) is False


def test_admin_create_refuses_a_short_password(invoke: Invoke) -> None:
    """A password under 8 characters is invalid input (exit 1)."""
    result = invoke("create", "root", "--password-stdin", stdin="short\n")

    assert result.exit_code == 1
    assert "at least 8 characters" in result.output


def test_admin_create_twice_is_a_conflict_unless_reset(
    invoke: Invoke, on_db: OnDb
) -> None:
    """A second create exits 4; with --reset it sets the new password."""
    invoke("create", "root", "--password-stdin", stdin=PASSWORD)
    again = invoke("create", "root", "--password-stdin", stdin=NEW_PASSWORD)

    reset = invoke("create", "root", "--reset", "--password-stdin", stdin=NEW_PASSWORD)

    assert again.exit_code == 4
    assert "User 'root' already exists" in again.output
    assert reset.exit_code == 0, reset.output
    assert login(on_db, "root", NEW_PASSWORD).superuser
    with pytest.raises(errors.AuthenticationError):
        login(on_db, "root", PASSWORD)


# --- workspaces and users -----------------------------------------------------------


def test_workspace_create_adds_a_workspace_once(invoke: Invoke, on_db: OnDb) -> None:
    """A new name is created; the same name again exits 4; a bad name exits 1."""
    created = invoke("workspace", "create", "ops", "--description", "Operations")
    again = invoke("workspace", "create", "ops")
    invalid = invoke("workspace", "create", "ops/prod")

    found = on_db(lambda auth: auth.ensure_workspace("ops"))

    assert created.exit_code == 0, created.output
    assert created.output == "Workspace ops created.\n"
    assert again.exit_code == 4
    assert invalid.exit_code == 1
    assert found.description == "Operations"


def test_user_create_makes_a_user_without_roles(invoke: Invoke, on_db: OnDb) -> None:
    """A plain user signs in but holds no role until granted one."""
    result = invoke("user", "create", "alice", "--password-stdin", stdin=PASSWORD)

    principal = login(on_db, "alice", PASSWORD)

    assert result.exit_code == 0, result.output
    assert "onward admin grant alice WORKSPACE ROLE" in result.output
    assert not principal.superuser
    assert principal.roles == {}


def test_user_create_asks_the_password_twice(invoke: Invoke, on_db: OnDb) -> None:
    """Without --password-stdin the password is asked and confirmed."""
    result = invoke("user", "create", "alice", stdin=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert login(on_db, "alice", PASSWORD).username == "alice"


def test_user_create_superuser_is_admin_everywhere(invoke: Invoke, on_db: OnDb) -> None:
    """--superuser makes a user with an admin's role in every workspace."""
    result = invoke(
        "user", "create", "bob", "--superuser", "--password-stdin", stdin=PASSWORD
    )

    principal = login(on_db, "bob", PASSWORD)

    assert result.exit_code == 0, result.output
    assert principal.role_in("anything") is Role.ADMIN


def test_user_create_without_a_password_cannot_log_in(
    invoke: Invoke, on_db: OnDb
) -> None:
    """--no-password makes an account for API keys only."""
    result = invoke("user", "create", "robot", "--no-password")

    assert result.exit_code == 0, result.output
    with pytest.raises(errors.AuthenticationError):
        login(on_db, "robot", "")


def test_user_create_of_a_taken_username_is_a_conflict(invoke: Invoke) -> None:
    """A username is taken once (exit 4)."""
    invoke("user", "create", "alice", "--no-password")

    result = invoke("user", "create", "alice", "--no-password")

    assert result.exit_code == 4
    assert "already exists" in result.output


# --- grants -------------------------------------------------------------------------


def test_grant_gives_a_role_in_a_workspace(invoke: Invoke, on_db: OnDb) -> None:
    """After grant, the user's sessions carry the role in that workspace."""
    grant_alice(invoke)

    result = invoke("grant", "alice", "ops", "author")

    assert result.exit_code == 0, result.output
    assert result.output == "alice is now author in workspace ops.\n"
    assert login(on_db, "alice", PASSWORD).roles == {"ops": Role.AUTHOR}


@pytest.mark.parametrize(
    ("args", "exit_code"),
    [
        pytest.param(("nobody", "ops", "viewer"), 3, id="unknown-user"),
        pytest.param(("alice", "nowhere", "viewer"), 3, id="unknown-workspace"),
        pytest.param(("alice", "ops", "owner"), 2, id="unknown-role"),
    ],
)
def test_grant_refuses_unknown_users_workspaces_and_roles(
    invoke: Invoke, args: tuple[str, ...], exit_code: int
) -> None:
    """Unknown users and workspaces exit 3; a role not in the list exits 2."""
    grant_alice(invoke)

    result = invoke("grant", *args)

    assert result.exit_code == exit_code, result.output


def test_revoke_grant_takes_the_role_away(invoke: Invoke, on_db: OnDb) -> None:
    """revoke-grant removes the role, and says so when there was none."""
    grant_alice(invoke)

    first = invoke("revoke-grant", "alice", "ops")
    second = invoke("revoke-grant", "alice", "ops")

    assert first.exit_code == 0, first.output
    assert "no longer has a role in workspace ops" in first.output
    assert "had no role in workspace ops" in second.output
    assert login(on_db, "alice", PASSWORD).roles == {}


def test_revoke_grant_of_an_unknown_user_is_not_found(invoke: Invoke) -> None:
    """An unknown username exits 3."""
    result = invoke("revoke-grant", "nobody", "default")

    assert result.exit_code == 3
    assert "User not found: nobody" in result.output


@pytest.mark.parametrize(
    "args",
    [("grant", "\udcff", "default", "viewer"), ("revoke-grant", "\udcff", "default")],
    ids=["grant", "revoke-grant"],
)
def test_a_username_of_bytes_that_are_not_utf8_is_not_found(
    invoke: Invoke, args: tuple[str, ...]
) -> None:
    """An argument the shell gave as bytes no text has (a lone surrogate) exits 3."""
    result = invoke(*args)

    assert result.exit_code == 3, result.output
    assert "User not found" in result.output


def test_admin_help_lists_the_commands(invoke: Invoke) -> None:
    """``onward admin --help`` names every admin command."""
    result = invoke("--help")

    assert result.exit_code == 0
    for command in ("create", "workspace", "user", "grant", "revoke-grant"):
        assert command in result.output
