"""
AuthService over a MemoryStore and a FrozenClock: passwords, sessions, keys, roles.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import timedelta

import argon2
import pytest

from onward import errors
from onward.clock import FrozenClock
from onward.domain.access import CredentialKind, Permission, Principal, Role
from onward.service import auth as auth_module
from onward.service.auth import DEFAULT_WORKSPACE, SECRET_PREFIX, AuthService
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - test data
ADDRESS = "192.0.2.1"
GENERIC_FAILURE = "Invalid username or password"
#: the hasher the service uses in production (the tests swap in a cheaper one)
PRODUCTION_HASHER = auth_module._HASHER


pytestmark = pytest.mark.usefixtures("cheap_hashes")


@pytest.fixture
def store() -> MemoryStore:
    """Return an empty in-memory store."""
    return MemoryStore()


@pytest.fixture
def auth(store: MemoryStore, clock: FrozenClock) -> AuthService:
    """Return the service under test."""
    return AuthService(store=store, clock=clock)


@pytest.fixture
async def alice(auth: AuthService) -> Principal:
    """Create alice, operator in ops and admin in default; return her session."""
    await auth.create_user("alice", PASSWORD)
    await auth.create_workspace("ops")
    await auth.ensure_workspace()
    await auth.grant("alice", "ops", Role.OPERATOR)
    await auth.grant("alice", DEFAULT_WORKSPACE, Role.ADMIN)
    issued = await auth.login("alice", PASSWORD, address=ADDRESS)
    return await auth.authenticate(issued.secret)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the passwords the service verifies from now on, in order."""
    passwords: list[str] = []
    verify = auth_module._verify

    def spy(password_hash: str, password: str) -> bool:
        passwords.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(auth_module, "_verify", spy)
    return passwords


async def fail_logins(
    auth: AuthService, count: int, *, username: str = "alice", address: str = ADDRESS
) -> None:
    """Send ``count`` logins with a wrong password, each refused."""
    for _ in range(count):
        with pytest.raises(errors.AuthenticationError, match=GENERIC_FAILURE):
            await auth.login(username, "wrong password", address=address)


# --- passwords and login ------------------------------------------------------------


async def test_passwords_are_stored_as_argon2id_hashes(
    auth: AuthService, store: MemoryStore
) -> None:
    """A user's password is kept only as an argon2id hash."""
    user = await auth.create_user("alice", PASSWORD)

    stored = await store.get_user(user.user_id)

    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_production_hashes_are_argon2id_at_recommended_costs() -> None:
    """The service's own hasher is argon2id with at least OWASP's minimum costs."""
    hashed = PRODUCTION_HASHER.hash(PASSWORD)

    assert hashed.startswith("$argon2id$")
    assert PRODUCTION_HASHER.type is argon2.Type.ID
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024
    assert PRODUCTION_HASHER.time_cost >= 2


async def test_login_with_the_right_password_issues_a_session(
    auth: AuthService, clock: FrozenClock
) -> None:
    """A good login returns a session token that authenticates the user."""
    await auth.create_user("alice", PASSWORD)

    issued = await auth.login("alice", PASSWORD, address=ADDRESS)
    principal = await auth.authenticate(issued.secret)

    assert issued.secret.startswith(SECRET_PREFIX)
    assert issued.credential.kind is CredentialKind.SESSION
    assert issued.credential.expires_at == clock.now() + timedelta(hours=12)
    assert principal.username == "alice"
    assert principal.credential_id == issued.credential.credential_id


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", "wrong password", id="wrong-password"),
        pytest.param("nobody", PASSWORD, id="unknown-user"),
        pytest.param("keys-only", "", id="user-without-password"),
    ],
)
async def test_a_failed_login_says_only_that_the_username_or_password_is_wrong(
    auth: AuthService, username: str, password: str
) -> None:
    """Every kind of failed login gives the same generic message."""
    await auth.create_user("alice", PASSWORD)
    await auth.create_user("keys-only")

    with pytest.raises(errors.AuthenticationError) as raised:
        await auth.login(username, password, address=ADDRESS)

    assert raised.value.message == GENERIC_FAILURE
    assert type(raised.value) is errors.AuthenticationError


async def test_a_disabled_user_cannot_log_in(
    auth: AuthService, store: MemoryStore
) -> None:
    """A disabled account is refused with the generic message, right password or not."""
    user = await auth.create_user("alice", PASSWORD)
    await store.update_user(replace(user, disabled=True))

    with pytest.raises(errors.AuthenticationError, match=GENERIC_FAILURE):
        await auth.login("alice", PASSWORD, address=ADDRESS)


async def test_a_login_for_an_unknown_user_still_verifies_a_hash(
    auth: AuthService, checked: list[str]
) -> None:
    """An unknown username costs a password check too, so timing tells nothing."""
    with pytest.raises(errors.AuthenticationError):
        await auth.login("nobody", PASSWORD, address=ADDRESS)

    assert checked == [PASSWORD]


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("al\x00ice", id="nul"),
        pytest.param("al ice", id="space"),
        pytest.param("", id="empty"),
        pytest.param("a" * 65, id="too-long"),
    ],
)
async def test_a_login_with_a_name_no_user_can_have_is_an_ordinary_failure(
    auth: AuthService, checked: list[str], username: str
) -> None:
    """An impossible name fails like a bad password: hash checked, failure counted."""
    await fail_logins(auth, 5, username=username)
    with pytest.raises(errors.RateLimitedError):
        await auth.login(username, PASSWORD, address="203.0.113.9")

    assert checked == ["wrong password"] * 5


async def test_set_password_replaces_the_password(auth: AuthService) -> None:
    """After set_password the new password logs in and the old one does not."""
    user = await auth.create_user("alice", PASSWORD)

    await auth.set_password(user.user_id, "a new password")

    await auth.login("alice", "a new password", address=ADDRESS)
    with pytest.raises(errors.AuthenticationError):
        await auth.login("alice", PASSWORD, address=ADDRESS)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", "short", id="short-password"),
        pytest.param("al ice", PASSWORD, id="space-in-username"),
        pytest.param("", PASSWORD, id="empty-username"),
        pytest.param("a" * 65, PASSWORD, id="long-username"),
    ],
)
async def test_invalid_usernames_and_passwords_are_refused(
    auth: AuthService, username: str, password: str
) -> None:
    """create_user checks the username and the password's length."""
    with pytest.raises(errors.InvalidDefinitionError):
        await auth.create_user(username, password)

    assert not await auth.has_users()


# --- login rate limits --------------------------------------------------------------


async def test_five_failures_lock_the_account_from_every_address(
    auth: AuthService,
) -> None:
    """After 5 failures on an account, even the right password is refused for 5 min."""
    await auth.create_user("alice", PASSWORD)
    for number in range(5):
        await fail_logins(auth, 1, address=f"198.51.100.{number}")

    with pytest.raises(errors.RateLimitedError) as raised:
        await auth.login("alice", PASSWORD, address="203.0.113.9")

    assert raised.value.retry_after == 300


async def test_five_failures_from_an_address_lock_that_address_only(
    auth: AuthService,
) -> None:
    """After 5 failures from one address, logins from it are refused, not others'."""
    await auth.create_user("alice", PASSWORD)
    for number in range(5):
        await fail_logins(auth, 1, username=f"guess{number}")

    with pytest.raises(errors.RateLimitedError):
        await auth.login("alice", PASSWORD, address=ADDRESS)
    issued = await auth.login("alice", PASSWORD, address="203.0.113.9")

    assert issued.credential.kind is CredentialKind.SESSION


async def test_four_failures_do_not_lock_the_account(auth: AuthService) -> None:
    """The limit is reached at the fifth failure, not before."""
    await auth.create_user("alice", PASSWORD)
    await fail_logins(auth, 4)

    issued = await auth.login("alice", PASSWORD, address=ADDRESS)

    assert issued.secret.startswith(SECRET_PREFIX)


async def test_the_lock_ends_five_minutes_after_the_oldest_failure(
    auth: AuthService, clock: FrozenClock
) -> None:
    """A locked account may log in again once its failures are 5 minutes old."""
    await auth.create_user("alice", PASSWORD)
    await fail_logins(auth, 5)
    clock.advance(timedelta(minutes=5) - timedelta(seconds=1))
    with pytest.raises(errors.RateLimitedError) as raised:
        await auth.login("alice", PASSWORD, address=ADDRESS)

    clock.advance(timedelta(seconds=1))
    issued = await auth.login("alice", PASSWORD, address=ADDRESS)

    assert raised.value.retry_after == 1
    assert issued.credential.kind is CredentialKind.SESSION


async def test_retry_after_is_rounded_up_to_a_whole_second(
    auth: AuthService, clock: FrozenClock
) -> None:
    """Waiting retry_after seconds is always enough."""
    await auth.create_user("alice", PASSWORD)
    await fail_logins(auth, 5)
    clock.advance(timedelta(seconds=10, milliseconds=500))

    with pytest.raises(errors.RateLimitedError) as raised:
        await auth.login("alice", PASSWORD, address=ADDRESS)

    assert raised.value.retry_after == 290


async def test_failures_older_than_five_minutes_do_not_count(
    auth: AuthService, clock: FrozenClock
) -> None:
    """Failures spread over more than the window never reach the limit."""
    await auth.create_user("alice", PASSWORD)
    await fail_logins(auth, 4)
    clock.advance(timedelta(minutes=5))
    await fail_logins(auth, 4)

    issued = await auth.login("alice", PASSWORD, address=ADDRESS)

    assert issued.credential.kind is CredentialKind.SESSION


async def test_a_good_login_forgets_the_account_s_failures(auth: AuthService) -> None:
    """Failures before a good login do not count towards the account's limit."""
    await auth.create_user("alice", PASSWORD)
    await fail_logins(auth, 4, address="198.51.100.1")
    await auth.login("alice", PASSWORD, address="198.51.100.1")
    await fail_logins(auth, 4, address="198.51.100.2")

    issued = await auth.login("alice", PASSWORD, address="198.51.100.3")

    assert issued.credential.kind is CredentialKind.SESSION


# --- sessions -----------------------------------------------------------------------


async def test_a_session_expires_after_its_lifetime(
    auth: AuthService, clock: FrozenClock
) -> None:
    """A session token works until 12 hours after login, then is refused."""
    await auth.create_user("alice", PASSWORD)
    issued = await auth.login("alice", PASSWORD, address=ADDRESS)
    clock.advance(timedelta(hours=12) - timedelta(seconds=1))
    await auth.authenticate(issued.secret)

    clock.advance(timedelta(seconds=1))

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.secret)


async def test_a_password_sign_in_is_given_a_session_of_its_own(
    auth: AuthService, clock: FrozenClock
) -> None:
    """issue_session: a 12-hour session of the verified user, with the user's roles."""
    await auth.create_user("alice", PASSWORD)
    await auth.ensure_workspace()
    await auth.grant("alice", DEFAULT_WORKSPACE, Role.OPERATOR)
    verified = await auth.verify_password("alice", PASSWORD, address=ADDRESS)

    issued = await auth.issue_session(verified)
    principal = await auth.authenticate(issued.secret)

    assert issued.credential.kind is CredentialKind.SESSION
    assert issued.credential.expires_at == clock.now() + timedelta(hours=12)
    assert principal.user_id == verified.user_id
    assert principal.role_in(DEFAULT_WORKSPACE) is Role.OPERATOR


async def test_no_session_is_issued_for_a_token_or_a_disabled_user(
    auth: AuthService, store: MemoryStore, alice: Principal
) -> None:
    """issue_session refuses a principal of a token (its limits) or a disabled user."""
    verified = await auth.verify_password("alice", PASSWORD, address=ADDRESS)
    await store.update_user(replace(await store.get_user(alice.user_id), disabled=True))

    with pytest.raises(errors.ConflictError):
        await auth.issue_session(alice)
    with pytest.raises(errors.AuthenticationError, match="disabled"):
        await auth.issue_session(verified)


async def test_logout_revokes_the_session(
    auth: AuthService, store: MemoryStore, clock: FrozenClock
) -> None:
    """After logout the session token is refused and recorded as revoked."""
    await auth.create_user("alice", PASSWORD)
    issued = await auth.login("alice", PASSWORD, address=ADDRESS)
    principal = await auth.authenticate(issued.secret)

    await auth.logout(principal)

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.secret)
    stored = await store.get_credential(issued.credential.credential_id)
    assert stored.revoked_at == clock.now()


async def test_an_unknown_token_is_refused(auth: AuthService) -> None:
    """A secret that was never issued does not authenticate."""
    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(SECRET_PREFIX + "made-up")


async def test_a_disabled_user_s_tokens_are_refused(
    auth: AuthService, store: MemoryStore
) -> None:
    """Disabling a user makes the sessions they already hold useless."""
    user = await auth.create_user("alice", PASSWORD)
    issued = await auth.login("alice", PASSWORD, address=ADDRESS)

    await store.update_user(replace(user, disabled=True))

    with pytest.raises(errors.AuthenticationError, match="disabled"):
        await auth.authenticate(issued.secret)


async def test_secrets_are_random_256_bit_tokens_stored_only_as_hashes(
    auth: AuthService, store: MemoryStore, alice: Principal
) -> None:
    """Tokens carry at least 128 random bits; the store keeps only their sha256."""
    issued = [await auth.login("alice", PASSWORD, address=ADDRESS) for _ in range(3)]
    issued.append(await auth.create_api_key(alice, name="ci"))

    stored = await store.list_credentials(user_id=alice.user_id)

    secrets = [item.secret for item in issued]
    assert len(set(secrets)) == len(secrets)
    for secret in secrets:
        token = secret.removeprefix(SECRET_PREFIX)
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16
        assert all(secret not in repr(credential) for credential in stored)
    expected = {hashlib.sha256(secret.encode()).hexdigest() for secret in secrets}
    assert {item.credential.secret_hash for item in issued} == expected
    assert expected <= {credential.secret_hash for credential in stored}


# --- API keys -----------------------------------------------------------------------


async def test_an_api_key_can_be_limited_to_a_workspace_and_a_lower_role(
    auth: AuthService, alice: Principal
) -> None:
    """A key limited to ops as viewer reads ops and nothing else."""
    issued = await auth.create_api_key(
        alice, name="dashboard", workspace="ops", role=Role.VIEWER
    )

    principal = await auth.authenticate(issued.secret)

    assert issued.credential.kind is CredentialKind.API_KEY
    assert principal.role_in("ops") is Role.VIEWER
    assert principal.role_in(DEFAULT_WORKSPACE) is None
    assert alice.role_in(DEFAULT_WORKSPACE) is Role.ADMIN


async def test_an_api_key_never_raises_the_user_s_role(
    auth: AuthService, alice: Principal
) -> None:
    """A key asking for admin in a workspace where the user is operator is operator."""
    issued = await auth.create_api_key(alice, name="ci", role=Role.ADMIN)

    principal = await auth.authenticate(issued.secret)

    assert principal.role_in("ops") is Role.OPERATOR
    assert principal.role_in(DEFAULT_WORKSPACE) is Role.ADMIN


async def test_a_key_made_with_a_limited_key_keeps_its_limits(
    auth: AuthService, alice: Principal
) -> None:
    """A limited key cannot make a key wider than itself."""
    limited = await auth.authenticate(
        (
            await auth.create_api_key(
                alice, name="ops-viewer", workspace="ops", role=Role.VIEWER
            )
        ).secret
    )

    issued = await auth.create_api_key(limited, name="wider", role=Role.ADMIN)
    principal = await auth.authenticate(issued.secret)

    assert (issued.credential.workspace, issued.credential.role) == ("ops", "viewer")
    assert principal.role_in("ops") is Role.VIEWER
    assert principal.role_in(DEFAULT_WORKSPACE) is None
    with pytest.raises(errors.WorkspaceNotFoundError):
        await auth.create_api_key(limited, name="elsewhere", workspace="default")


async def test_an_api_key_expires_when_asked_to(
    auth: AuthService, alice: Principal, clock: FrozenClock
) -> None:
    """A key made with expires_in is refused from then on."""
    issued = await auth.create_api_key(alice, name="ci", expires_in=timedelta(days=1))
    clock.advance(timedelta(days=1))

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.secret)


async def test_a_revoked_api_key_is_refused(
    auth: AuthService, alice: Principal
) -> None:
    """After revoke the key no longer authenticates."""
    issued = await auth.create_api_key(alice, name="ci")
    await auth.authenticate(issued.secret)

    await auth.revoke(alice, issued.credential.credential_id)

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.secret)


async def test_a_user_cannot_revoke_another_user_s_key(
    auth: AuthService, alice: Principal
) -> None:
    """Someone else's key is reported as not found, and stays valid."""
    await auth.create_user("bob", PASSWORD)
    bob = await auth.authenticate(
        (await auth.login("bob", PASSWORD, address=ADDRESS)).secret
    )
    issued = await auth.create_api_key(alice, name="ci")

    with pytest.raises(errors.CredentialNotFoundError):
        await auth.revoke(bob, issued.credential.credential_id)

    assert (await auth.authenticate(issued.secret)).username == "alice"


async def test_a_superuser_revokes_any_key_but_not_with_a_limited_key(
    auth: AuthService, alice: Principal
) -> None:
    """Only a superuser's unlimited credentials act for other users' keys."""
    await auth.create_admin("root", PASSWORD)
    root = await auth.authenticate(
        (await auth.login("root", PASSWORD, address=ADDRESS)).secret
    )
    root_key = await auth.create_api_key(root, name="ro", role=Role.VIEWER)
    limited_root = await auth.authenticate(root_key.secret)
    issued = await auth.create_api_key(alice, name="ci")

    with pytest.raises(errors.CredentialNotFoundError):
        await auth.revoke(limited_root, issued.credential.credential_id)
    await auth.revoke(root, issued.credential.credential_id)

    with pytest.raises(errors.AuthenticationError):
        await auth.authenticate(issued.secret)


# --- require ------------------------------------------------------------------------


async def test_require_hides_a_workspace_where_the_principal_has_no_role(
    auth: AuthService, alice: Principal
) -> None:
    """No role in a workspace looks the same as no such workspace."""
    await auth.create_workspace("finance")

    with pytest.raises(errors.WorkspaceNotFoundError) as raised:
        auth.require(alice, Permission.READ, "finance")

    assert raised.value.workspace == "finance"


async def test_require_refuses_a_role_too_low(
    auth: AuthService, alice: Principal
) -> None:
    """An operator may operate in ops but not author there."""
    auth.require(alice, Permission.OPERATE, "ops")

    with pytest.raises(errors.PermissionDeniedError) as raised:
        auth.require(alice, Permission.AUTHOR, "ops")

    assert (raised.value.permission, raised.value.workspace) == ("author", "ops")


# --- admins, workspaces and grants --------------------------------------------------


async def test_create_admin_makes_a_superuser_admin_of_the_default_workspace(
    auth: AuthService, store: MemoryStore
) -> None:
    """The first admin is a superuser and admin of ``default``, created if missing."""
    user = await auth.create_admin("root", PASSWORD)

    principal = await auth.authenticate(
        (await auth.login("root", PASSWORD, address=ADDRESS)).secret
    )

    assert user.superuser
    assert await store.get_workspace(DEFAULT_WORKSPACE)
    assert principal.roles == {DEFAULT_WORKSPACE: Role.ADMIN}
    assert principal.role_in("anywhere") is Role.ADMIN


async def test_creating_an_admin_twice_raises_already_exists(
    auth: AuthService,
) -> None:
    """create_admin of an existing username raises AlreadyExistsError."""
    await auth.create_admin("root", PASSWORD)

    with pytest.raises(errors.AlreadyExistsError) as raised:
        await auth.create_admin("root", "another password")

    assert (raised.value.kind, raised.value.name) == ("user", "root")


async def test_create_admin_with_reset_resets_the_password(
    auth: AuthService, store: MemoryStore
) -> None:
    """reset=True gives an existing user a new password, superuser and enabled."""
    user = await auth.create_user("root", PASSWORD)
    await store.update_user(replace(user, disabled=True))

    reset = await auth.create_admin("root", "the new password", reset=True)

    assert reset.user_id == user.user_id
    assert reset.superuser
    assert not reset.disabled
    await auth.login("root", "the new password", address=ADDRESS)
    with pytest.raises(errors.AuthenticationError):
        await auth.login("root", PASSWORD, address=ADDRESS)


async def test_create_admin_with_reset_checks_the_new_password(
    auth: AuthService,
) -> None:
    """A reset to a too-short password is refused and keeps the old one."""
    await auth.create_admin("root", PASSWORD)

    with pytest.raises(errors.InvalidDefinitionError):
        await auth.create_admin("root", "short", reset=True)

    await auth.login("root", PASSWORD, address=ADDRESS)


async def test_has_users_tells_whether_any_user_exists(auth: AuthService) -> None:
    """A new installation has no users; one user makes it have some."""
    before = await auth.has_users()

    await auth.create_user("alice", PASSWORD)

    assert before is False
    assert await auth.has_users() is True


@pytest.mark.parametrize("name", ["", "-ops", "a b", "ops/prod", "x" * 65])
async def test_invalid_workspace_names_are_refused(
    auth: AuthService, name: str
) -> None:
    """Workspace names are 1 to 64 URL-safe characters."""
    with pytest.raises(errors.InvalidDefinitionError):
        await auth.create_workspace(name)


async def test_creating_a_taken_workspace_raises_already_exists(
    auth: AuthService,
) -> None:
    """A workspace name is taken once."""
    await auth.create_workspace("ops", "Operations")

    with pytest.raises(errors.AlreadyExistsError):
        await auth.create_workspace("ops")


async def test_grant_and_revoke_grant_change_the_user_s_roles(
    auth: AuthService, alice: Principal
) -> None:
    """A grant replaces the role; revoking it removes it, once."""
    await auth.grant("alice", "ops", Role.AUTHOR)
    first = await auth.revoke_grant("alice", "ops")
    second = await auth.revoke_grant("alice", "ops")

    session = await auth.login("alice", PASSWORD, address=ADDRESS)
    principal = await auth.authenticate(session.secret)

    assert (first, second) == (True, False)
    assert principal.roles == {DEFAULT_WORKSPACE: Role.ADMIN}


async def test_grant_needs_a_known_user_and_workspace(
    auth: AuthService, alice: Principal
) -> None:
    """Granting to an unknown user or in an unknown workspace raises NotFound."""
    with pytest.raises(errors.UserNotFoundError):
        await auth.grant("nobody", "ops", Role.VIEWER)
    with pytest.raises(errors.WorkspaceNotFoundError):
        await auth.grant("alice", "nowhere", Role.VIEWER)
    with pytest.raises(errors.UserNotFoundError):
        await auth.revoke_grant("nobody", "ops")
