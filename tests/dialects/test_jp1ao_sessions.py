"""JP1/AO's HSSO token: a Basic login's reused session, given back on every success.

The runtime runs on a frozen clock (steps still run), so that a client can poll
past the password cache's 30 s, and sessions can reach half and all of their
12 hours.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from dialect_support import (
    JP1_HOST,
    OTHER_PASSWORD,
    SEED_AUTH,
    TASKS,
    add_token,
    basic,
    halted_marker_run,
    jp1_error,
    make_runtime,
    run_number,
    store_user,
    wait_for,
)

from onward.clock import FrozenClock
from onward.domain.access import CredentialKind, Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime


@pytest.fixture
def clock() -> FrozenClock:
    """Return a clock that moves only when told to."""
    return FrozenClock()


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    """Return this module's runtime: on the frozen clock, still executing steps."""
    return make_runtime(clock=clock)


def hsso(token: str) -> dict[str, str]:
    """Return the Authorization header of an HSSO token."""
    return {"Authorization": f"HSSO {token}"}


def token_of(response: httpx.Response) -> str:
    """Return the HSSO token of a successful answer."""
    assert response.status_code == 200, response.text
    scheme, _, token = response.headers["www-authenticate"].partition(" ")
    assert scheme == "HSSO"
    assert token
    return token


async def session_count(runtime: Runtime) -> int:
    """Return how many sessions the store holds, valid or not."""
    return len(await runtime.store.list_credentials(kind=CredentialKind.SESSION))


@pytest.mark.usefixtures("system")
async def test_a_client_polling_with_basic_keeps_one_session(
    runtime: Runtime, jp1ao: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """Basic every 10 s for 10 minutes: the same token each time, one stored session."""
    tokens = set()
    for _ in range(60):
        tokens.add(token_of(await jp1ao.get(TASKS, headers=SEED_AUTH)))
        clock.advance(timedelta(seconds=10))

    assert len(tokens) == 1
    assert await session_count(runtime) == 1


@pytest.mark.usefixtures("system")
async def test_the_token_carries_the_seed_s_invoke(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The seed's flow with the token: GET the descriptor by Basic, POST it by HSSO."""
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)
    got = await jp1ao.get(f"{TASKS}/{number}/actions/rerunStart", headers=SEED_AUTH)
    token = token_of(got)
    (tmp_path / "marker").touch()

    invoked = await jp1ao.post(got.json()["href"], json=got.json(), headers=hsso(token))
    done = await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)

    assert token_of(invoked) == token
    assert invoked.json()["instanceId"] == str(number)
    assert invoked.json()["affectedResources"] == [f"http://{JP1_HOST}{TASKS}/{number}"]
    assert done.status is RunStatus.SUCCEEDED
    assert await session_count(runtime) == 1


async def test_an_hsso_request_gets_its_own_token_back(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """HSSO with a session token or an API key: that same secret comes back."""
    user = await store_user(runtime, "tom", roles={"default": Role.VIEWER})
    session = await add_token(runtime, user)
    principal = await runtime.auth.authenticate(session)
    key = (await runtime.auth.create_api_key(principal, name="jp1-script")).secret

    by_session = await jp1ao.get(TASKS, headers=hsso(session))
    by_key = await jp1ao.get(TASKS, headers=hsso(key))

    assert token_of(by_session) == session
    assert token_of(by_key) == key


async def test_a_bearer_answer_names_no_hsso_token(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """Bearer is Onward's own scheme, not JP1/AO's: its answers carry no HSSO token."""
    user = await store_user(runtime, "tom", roles={"default": Role.VIEWER})
    token = await add_token(runtime, user)

    response = await jp1ao.get(TASKS, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert "www-authenticate" not in response.headers


@pytest.mark.usefixtures("system")
async def test_a_revoked_token_is_401_and_basic_then_answers_a_new_one(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """A logged-out token is JP1/AO's 401; the next Basic answer names a new session."""
    old = token_of(await jp1ao.get(TASKS, headers=SEED_AUTH))
    await runtime.auth.logout(await runtime.auth.authenticate(old))

    refused = await jp1ao.get(TASKS, headers=hsso(old))
    new = token_of(await jp1ao.get(TASKS, headers=SEED_AUTH))

    jp1_error(refused, 401, "ONWARD-E401")
    assert refused.headers["www-authenticate"] == 'Basic realm="Automation"'
    assert new != old
    assert token_of(await jp1ao.get(TASKS, headers=hsso(new))) == new


@pytest.mark.usefixtures("system")
async def test_a_token_is_renewed_at_six_hours_and_refused_after_twelve(
    runtime: Runtime, jp1ao: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """At 6 h Basic answers a new token; the old one works until its 12 h are up."""
    old = token_of(await jp1ao.get(TASKS, headers=SEED_AUTH))
    clock.advance(timedelta(hours=6))
    new = token_of(await jp1ao.get(TASKS, headers=SEED_AUTH))
    still = await jp1ao.get(TASKS, headers=hsso(old))

    clock.advance(timedelta(hours=6))
    expired = await jp1ao.get(TASKS, headers=hsso(old))

    assert new != old
    assert token_of(still) == old
    jp1_error(expired, 401, "ONWARD-E401")
    assert expired.headers["www-authenticate"] == 'Basic realm="Automation"'
    assert token_of(await jp1ao.get(TASKS, headers=hsso(new))) == new
    assert await session_count(runtime) == 2


async def test_the_token_keeps_the_user_s_role(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A viewer's token reads tasks but cannot invoke, as the viewer's password."""
    await store_user(
        runtime, "vic", password=OTHER_PASSWORD, roles={"default": Role.VIEWER}
    )
    run = await halted_marker_run(runtime, tmp_path)
    url = f"{TASKS}/{await run_number(runtime, run)}"
    token = token_of(await jp1ao.get(url, headers=basic("vic", OTHER_PASSWORD)))

    read = await jp1ao.get(url, headers=hsso(token))
    invoked = await jp1ao.post(f"{url}/actions/rerunStart/invoke", headers=hsso(token))

    assert token_of(read) == token
    jp1_error(invoked, 404, "KNAE02102-E")
    assert "www-authenticate" not in invoked.headers
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


@pytest.mark.usefixtures("system")
async def test_errors_name_no_token_and_failed_logins_issue_none(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """A 404 to good credentials names no token; a wrong password stores no session."""
    wrong = await jp1ao.get(TASKS, headers=basic("system", "wrong"))
    after_wrong = await session_count(runtime)
    missing = await jp1ao.get(f"{TASKS}/999999", headers=SEED_AUTH)

    jp1_error(wrong, 401, "ONWARD-E401")
    assert wrong.headers["www-authenticate"] == 'Basic realm="Automation"'
    assert after_wrong == 0
    jp1_error(missing, 404, "KNAE02102-E")
    assert "www-authenticate" not in missing.headers
