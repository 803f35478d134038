"""Tenancy and credentials: workspaces hide each other, keys and sessions end."""

from __future__ import annotations

import httpx
import pytest
from native_helpers import API, APPROVAL_PLAN, QUICK_PLAN, add_user, apply_yaml, settle

from onward.domain.access import Role
from onward.runtime import Runtime


@pytest.fixture
async def root(runtime: Runtime) -> dict[str, str]:
    """Return the Authorization header of a superuser."""
    return await add_user(runtime, "root", superuser=True)


async def run_in(
    client: httpx.AsyncClient, headers: dict[str, str], workspace: str
) -> httpx.Response:
    """Apply the quick plan to a workspace and start a run of it."""
    await apply_yaml(client, headers, QUICK_PLAN, workspace=workspace)
    return await client.post(
        f"{API}/workspaces/{workspace}/runs", json={"plan": "quick"}, headers=headers
    )


async def test_another_workspaces_run_and_operation_are_not_found(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Even an admin of both workspaces gets a 404 through the wrong workspace."""
    both = await add_user(
        runtime, "bo", roles={"blue": Role.ADMIN, "green": Role.ADMIN}
    )
    started = await run_in(client, both, "blue")
    await settle(runtime)
    run_id = started.json()["run_id"]
    operation_id = started.json()["operation"]["operation_id"]
    green = f"{API}/workspaces/green"
    answers = [
        await client.get(f"{green}/runs/{run_id}", headers=both),
        await client.get(f"{green}/runs/{run_id}/logs", headers=both),
        await client.get(f"{green}/runs/{run_id}/audit", headers=both),
        await client.get(f"{green}/runs/{run_id}/events", headers=both),
        await client.post(f"{green}/runs/{run_id}/cancel", headers=both),
        await client.get(f"{green}/operations/{operation_id}", headers=both),
    ]
    listed = await client.get(f"{green}/runs", headers=both)

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert all("quick" not in a.text for a in answers)
    assert listed.json()["runs"] == []


async def test_a_workspace_without_a_role_there_is_not_found(
    runtime: Runtime, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    """Outsiders cannot tell an existing workspace from a missing one."""
    await client.post(f"{API}/workspaces", json={"name": "secret"}, headers=root)
    outsider = await add_user(runtime, "out", roles={"default": Role.ADMIN})
    existing = await client.get(f"{API}/workspaces/secret/plans", headers=outsider)
    missing = await client.get(f"{API}/workspaces/nothing/plans", headers=outsider)
    visible = await client.get(f"{API}/workspaces", headers=outsider)

    assert existing.status_code == missing.status_code == 404
    assert existing.json()["detail"] == missing.json()["detail"].replace(
        "nothing", "secret"
    )
    assert [w["name"] for w in visible.json()["workspaces"]] == ["default"]


async def test_members_are_managed_by_username_and_their_role_applies(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """An admin gives a role to a user by name; removing it takes access away."""
    admin = await add_user(runtime, "adm", roles={"default": Role.ADMIN})
    newcomer = await add_user(runtime, "newcomer")
    members = f"{API}/workspaces/default/members"
    before = await client.get(f"{API}/workspaces/default/plans", headers=newcomer)
    given = await client.put(
        f"{members}/newcomer", json={"role": "viewer"}, headers=admin
    )
    during = await client.get(f"{API}/workspaces/default/plans", headers=newcomer)
    removed = await client.delete(f"{members}/newcomer", headers=admin)
    after = await client.get(f"{API}/workspaces/default/plans", headers=newcomer)

    assert before.status_code == 404
    assert given.json()["role"] == "viewer"
    assert during.status_code == 200
    assert removed.status_code == 204
    assert after.status_code == 404


async def test_an_api_key_acts_within_its_workspace_and_role(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """A viewer key of one workspace reads there, cannot operate, sees nothing else."""
    admin = await add_user(
        runtime, "ada", roles={"default": Role.ADMIN, "other": Role.ADMIN}
    )
    made = await client.post(
        f"{API}/api-keys",
        json={"name": "dashboard", "workspace": "default", "role": "viewer"},
        headers=admin,
    )
    key = {"Authorization": f"Bearer {made.json()['secret']}"}
    read = await client.get(f"{API}/workspaces/default/runs", headers=key)
    operate = await client.post(
        f"{API}/workspaces/default/runs", json={"plan": "x"}, headers=key
    )
    elsewhere = await client.get(f"{API}/workspaces/other/runs", headers=key)
    wider = await client.post(
        f"{API}/api-keys", json={"name": "w", "role": "admin"}, headers=key
    )

    assert made.status_code == 201
    assert read.status_code == 200
    assert operate.status_code == 403
    assert elsewhere.status_code == 404
    assert wider.json()["role"] == "viewer"
    assert wider.json()["workspace"] == "default"


async def test_a_revoked_api_key_and_a_logged_out_session_are_refused(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Logout ends the session; a revoked key stops working; logout by key is 409."""
    await runtime.auth.create_user("lou", "a long password")
    await runtime.auth.grant("lou", "default", Role.VIEWER)
    login = await client.post(
        f"{API}/auth/login", json={"username": "lou", "password": "a long password"}
    )
    session = {"Authorization": f"Bearer {login.json()['token']}"}
    made = await client.post(f"{API}/api-keys", json={"name": "k"}, headers=session)
    key = {"Authorization": f"Bearer {made.json()['secret']}"}
    key_logout = await client.post(f"{API}/auth/logout", headers=key)
    revoked = await client.delete(
        f"{API}/api-keys/{made.json()['key_id']}", headers=key
    )
    with_key = await client.get(f"{API}/me", headers=key)
    logout = await client.post(f"{API}/auth/logout", headers=session)
    with_session = await client.get(f"{API}/me", headers=session)

    assert key_logout.status_code == 409
    assert revoked.status_code == 204
    assert with_key.status_code == 401
    assert logout.status_code == 204
    assert with_session.status_code == 401


async def test_a_disabled_user_is_refused_at_once(
    runtime: Runtime, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    """Disabling a user makes their valid session fail authentication."""
    user = await add_user(runtime, "dan", roles={"default": Role.VIEWER})
    me = await client.get(f"{API}/me", headers=user)
    patched = await client.patch(
        f"{API}/users/dan", json={"disabled": True}, headers=root
    )
    refused = await client.get(f"{API}/me", headers=user)
    self_disable = await client.patch(
        f"{API}/users/root", json={"disabled": True}, headers=root
    )

    assert me.status_code == 200
    assert patched.json()["disabled"] is True
    assert refused.status_code == 401
    assert self_disable.status_code == 409


async def test_superusers_create_workspaces_and_users_with_checked_names(
    client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    """Bad names are 422 naming the field; taken names are 409."""
    bad = await client.post(f"{API}/workspaces", json={"name": "-x"}, headers=root)
    made = await client.post(f"{API}/workspaces", json={"name": "x1"}, headers=root)
    taken = await client.post(f"{API}/workspaces", json={"name": "x1"}, headers=root)
    short = await client.post(
        f"{API}/users", json={"username": "u", "password": "short"}, headers=root
    )

    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "name"
    assert made.status_code == 201
    assert made.headers["Location"] == f"{API}/workspaces/x1"
    assert taken.status_code == 409
    assert short.json()["errors"][0]["path"] == "password"


async def test_an_approval_with_approvers_refuses_anyone_else(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Only a listed approver may decide; others get a 403 and the run waits."""
    operator = await add_user(runtime, "opal", roles={"default": Role.ADMIN})
    plan = APPROVAL_PLAN.replace('message: "go?"', 'message: "go?", approvers: [cy]')
    await apply_yaml(client, operator, plan)
    started = await client.post(
        f"{API}/workspaces/default/runs", json={"plan": "gated"}, headers=operator
    )
    await settle(runtime)
    run_id = started.json()["run_id"]
    refused = await client.post(
        f"{API}/workspaces/default/runs/{run_id}/approve", headers=operator
    )
    run = await client.get(f"{API}/workspaces/default/runs/{run_id}", headers=operator)

    assert refused.status_code == 403
    assert run.json()["status"] == "waiting"


async def test_a_superuser_makes_and_lists_keys_for_a_service_account(
    runtime: Runtime, client: httpx.AsyncClient, root: dict[str, str]
) -> None:
    """A user without a password gets a key from a superuser, and uses it."""
    await runtime.auth.create_user("ci-bot")
    await runtime.auth.grant("ci-bot", "default", Role.OPERATOR)
    made = await client.post(
        f"{API}/api-keys", json={"name": "pipeline", "user": "ci-bot"}, headers=root
    )
    bot = {"Authorization": f"Bearer {made.json()['secret']}"}
    me = await client.get(f"{API}/me", headers=bot)
    listed = await client.get(f"{API}/api-keys?user=ci-bot", headers=root)
    others = await client.get(f"{API}/api-keys?user=root", headers=bot)

    assert made.status_code == 201
    assert me.json()["username"] == "ci-bot"
    assert [k["name"] for k in listed.json()["api_keys"]] == ["pipeline"]
    assert others.status_code == 403
