"""
The Python client against the app in process: every resource, and its errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from onward import errors
from onward.api.app import create_app
from onward.client import (
    ApiError,
    AuthenticationApiError,
    ConflictApiError,
    InvalidApiError,
    NotFoundApiError,
    OnwardClient,
    PermissionApiError,
)
from onward.client import models as m
from onward.config import Settings
from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.storage.memory import MemoryStore

PASSWORD = "correct horse battery"  # noqa: S105 - a test account
MASTER = "client-test-master-secret-0123456789"
HALTING_PLAN = """
name: halting
groups:
  - name: g
    targets: [a, b]
    steps:
      - {name: greet, action: shell, with: {command: "echo hello {{ target.name }}"}}
      - {name: check, action: shell, with: {command: "test {{ target.name }} != b"}}
"""
APPROVAL_PLAN = """
name: gated
groups:
  - name: g
    targets: [a]
    steps:
      - {name: approve, action: approval, with: {message: "go?"}}
      - {name: after, action: noop}
"""


@pytest.fixture(autouse=True)
def _cheap_hashes(cheap_hashes: None) -> None:
    """Hash passwords cheaply in every test here."""


async def open_runtime(*, access_key_master: str | None = MASTER) -> Runtime:
    """Return a runtime over a MemoryStore that executes steps, with an admin."""
    settings = Settings(
        concurrency=4,
        heartbeat_timeout=60,
        shutdown_grace=1,
        access_key_master=access_key_master,
    )
    runtime = Runtime.open(settings, executes=True, store=MemoryStore())
    await runtime.auth.create_user("ann", PASSWORD, superuser=True)
    return runtime


@contextlib.asynccontextmanager
async def signed_in(runtime: Runtime) -> AsyncIterator[OnwardClient]:
    """Yield a client of the started app, signed in as the superuser ann."""
    app = create_app(runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with OnwardClient("http://onward", transport=transport) as client:
            await client.login("ann", PASSWORD)
            yield client


@pytest.fixture
async def runtime() -> Runtime:
    """Return a runtime with an admin and access keys on."""
    return await open_runtime()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[OnwardClient]:
    """Yield a client of the started app, signed in as the superuser ann."""
    async with signed_in(runtime) as client:
        yield client


async def settle(runtime: Runtime) -> None:
    """Wait until the runtime has no step left to run."""
    assert runtime.executor is not None
    await runtime.executor.drain()


async def test_login_me_and_logout(client: OnwardClient) -> None:
    """Login keeps the token, /me names the user, logout ends the session."""
    me = await client.me()
    token = client.token
    await client.logout()
    client.token = token
    with pytest.raises(AuthenticationApiError) as raised:
        await client.me()

    assert me.username == "ann"
    assert me.superuser
    assert raised.value.status == 401
    assert isinstance(raised.value, errors.AuthenticationError)


async def test_a_wrong_password_is_an_authentication_error(
    client: OnwardClient,
) -> None:
    """A failed login raises the typed 401 with the problem's code."""
    with pytest.raises(AuthenticationApiError) as raised:
        await client.login("ann", "not the password")

    assert raised.value.code == "unauthenticated"


async def test_workspaces_users_members_and_keys(client: OnwardClient) -> None:
    """The access resources: create, read, change and remove through the client."""
    workspace = await client.create_workspace("site-b", description="B")
    bob = await client.create_user("bob", password=PASSWORD)
    disabled = await client.update_user("bob", disabled=True)
    await client.update_user("bob", disabled=False)
    client.workspace = "site-b"
    member = await client.set_member("bob", Role.OPERATOR)
    members = await client.list_members()
    key = await client.create_api_key("ci", workspace="site-b", role=Role.VIEWER)
    keys = await client.list_api_keys()
    await client.revoke_api_key(key.key_id)
    await client.remove_member("bob")
    with pytest.raises(NotFoundApiError):
        await client.get_member("bob")

    assert workspace.name == "site-b"
    assert "site-b" in [w.name for w in await client.list_workspaces()]
    assert (await client.get_workspace("site-b")).description == "B"
    assert disabled.disabled
    assert (await client.get_user(bob.user_id)).username == "bob"
    assert "bob" in [u.username for u in await client.list_users()]
    assert member.role is Role.OPERATOR
    assert [x.username for x in members] == ["bob"]
    assert key.secret is not None
    assert key.secret.startswith("onw_")
    assert [k.key_id for k in keys] == [key.key_id]


async def test_access_keys_are_made_listed_and_revoked(client: OnwardClient) -> None:
    """An access key's secret key is in the creating answer only; revoke marks it."""
    key = await client.create_access_key(
        "sdk", workspace="default", role=Role.OPERATOR, expires_in=3600
    )
    replayed = [
        await client.create_access_key("again", idempotency_key="k") for _ in range(2)
    ]
    listed = await client.list_access_keys()
    await client.revoke_access_key(key.access_key_id, reason="rotated")
    after = await client.list_access_keys(user="ann")
    with pytest.raises(NotFoundApiError):
        await client.revoke_access_key("ONWNOSUCHKEY00000000")

    assert isinstance(key, m.AccessKey)
    assert key.secret_key is not None
    assert len(key.secret_key) == 40
    assert (key.workspace, key.role) == ("default", Role.OPERATOR)
    assert key.expires_at is not None
    assert replayed[1].access_key_id == replayed[0].access_key_id
    assert replayed[1].secret_key is None
    assert [k.access_key_id for k in listed] == [
        key.access_key_id,
        replayed[0].access_key_id,
    ]
    assert all(k.secret_key is None for k in listed)
    assert after[0].revoked_at is not None
    assert await client.list_api_keys() == []


async def test_access_keys_off_is_a_conflict_error() -> None:
    """A server without ONWARD_ACCESS_KEY_MASTER: create raises ConflictApiError."""
    runtime = await open_runtime(access_key_master=None)
    async with signed_in(runtime) as client:
        with pytest.raises(ConflictApiError) as raised:
            await client.create_access_key("sdk")

    assert raised.value.status == 409
    assert isinstance(raised.value, errors.ConflictError)
    assert "ONWARD_ACCESS_KEY_MASTER" in raised.value.detail


async def test_plans_apply_validate_list_show_versions_delete(
    client: OnwardClient,
) -> None:
    """A plan applied twice unchanged makes one version; it can be read and deleted."""
    first = await client.apply_plan(HALTING_PLAN)
    again = await client.apply_plan(HALTING_PLAN)
    second = await client.apply_plan(HALTING_PLAN.replace("hello", "hi"))
    valid = await client.validate_plan(HALTING_PLAN)
    invalid = await client.validate_plan("name: broken\ngroups: 3\n")
    listed = await client.list_plans()
    shown = await client.get_plan("halting", 1)
    versions = await client.plan_versions("halting")
    await client.delete_plan("halting")

    assert (first.created, again.created, second.created) == (True, False, True)
    assert second.version.version == 2
    assert valid.valid
    assert not invalid.valid
    assert invalid.problems[0].path == "groups"
    assert [(p.name, p.latest_version) for p in listed] == [("halting", 2)]
    assert shown.source == HALTING_PLAN
    assert [v.version for v in versions] == [1, 2]
    assert await client.list_plans() == []


async def test_a_plan_is_disabled_and_enabled_again(client: OnwardClient) -> None:
    """A disabled plan reads and lists disabled and refuses runs until enabled."""
    await client.apply_plan(APPROVAL_PLAN)
    disabled = await client.disable_plan("gated", reason="CHG-9 freeze")
    again = await client.disable_plan("gated")
    shown = await client.get_plan("gated")
    listed = await client.list_plans()
    with pytest.raises(ConflictApiError) as refused:
        await client.start_run("gated")
    enabled = await client.enable_plan("gated", idempotency_key="enable-gated")
    accepted = await client.start_run("gated")
    with pytest.raises(NotFoundApiError):
        await client.enable_plan("nope")

    assert isinstance(disabled, m.Plan)
    assert (disabled.enabled, again.enabled, shown.enabled) == (False, False, False)
    assert shown.source == APPROVAL_PLAN
    assert [(p.name, p.enabled) for p in listed] == [("gated", False)]
    assert refused.value.status == 409
    assert "onward plan enable gated" in refused.value.detail
    assert enabled.enabled
    assert accepted.run_id


async def test_an_invalid_plan_raises_every_problem(client: OnwardClient) -> None:
    """A 422 is an InvalidApiError, also an InvalidDefinitionError with problems."""
    with pytest.raises(InvalidApiError) as raised:
        await client.apply_plan("name: broken\ngroups: 3\n")

    assert raised.value.status == 422
    assert isinstance(raised.value, errors.InvalidDefinitionError)
    assert [p.path for p in raised.value.problems] == ["groups"]
    assert raised.value.errors[0].line == 2


async def test_a_run_halts_is_continued_and_its_operation_is_done(
    client: OnwardClient, runtime: Runtime
) -> None:
    """Start, wait, preview, continue, and read the run's tree, logs and audit."""
    await client.apply_plan(HALTING_PLAN)
    started = await client.start_run("halting", reason="test", idempotency_key="k1")
    replayed = await client.start_run("halting", reason="test", idempotency_key="k1")
    await settle(runtime)
    halted = await client.wait_operation(started.operation.operation_id)
    detail = await client.get_run(started.run_id)
    preview = await client.preview(started.run_id, "continue", option="proceed-step")
    went_on = await client.continue_run(
        started.run_id, "proceed-step", preview_token=preview.token, reason="ok"
    )
    await settle(runtime)
    done = await client.wait_operation(went_on.operation.operation_id)
    logs = await client.logs(started.run_id)
    audit = await client.audit(started.run_id)

    assert replayed.run_id == started.run_id
    assert halted.result is RunStatus.HALTED
    assert [(h.target, h.step) for h in detail.halts] == [("b", "check")]
    assert preview.token.startswith(started.run_id)
    assert done.status is m.OperationStatus.DONE
    assert done.result is RunStatus.SUCCEEDED
    assert "hello a" in [e.line for e in logs.entries]
    assert [(e.command, e.reason) for e in audit][-1] == ("continue", "ok")


async def test_runs_are_listed_with_filters_and_iterated_by_cursor(
    client: OnwardClient, runtime: Runtime
) -> None:
    """iter_runs follows next_cursor through every page."""
    await client.apply_plan(HALTING_PLAN)
    started = [(await client.start_run("halting")).run_id for _ in range(3)]
    await settle(runtime)
    page = await client.list_runs(plan="halting", statuses=["halted"], limit=2)
    every = [run.run_id async for run in client.iter_runs(page_size=1)]

    assert len(page.runs) == 2
    assert page.next_cursor is not None
    assert every == started[::-1]


async def test_approve_reject_cancel_and_operations(
    client: OnwardClient, runtime: Runtime
) -> None:
    """Approval decisions and cancels are commands with operations."""
    await client.apply_plan(APPROVAL_PLAN)
    approved = await client.start_run("gated")
    rejected = await client.start_run("gated")
    cancelled = await client.start_run("gated")
    await settle(runtime)
    await client.approve_run(approved.run_id, comment="go")
    await client.reject_run(rejected.run_id)
    cancel = await client.cancel_operation(cancelled.operation.operation_id)
    await settle(runtime)
    operations = await client.list_operations(run_id=approved.run_id)

    assert (await client.get_run(approved.run_id)).status is RunStatus.SUCCEEDED
    assert (await client.get_run(rejected.run_id)).status is RunStatus.HALTED
    assert cancel.run_status in {RunStatus.CANCELLED, RunStatus.CANCELLING}
    assert [o.command for o in operations] == ["approve", "start"]
    with pytest.raises(ConflictApiError):
        await client.retry_run(approved.run_id)


async def test_events_stream_until_the_run_finishes(
    client: OnwardClient, runtime: Runtime
) -> None:
    """The SSE iterator yields the run's versions and ends with the finished run."""
    await client.apply_plan(APPROVAL_PLAN)
    started = await client.start_run("gated")
    await settle(runtime)
    await client.approve_run(started.run_id)
    await settle(runtime)
    events = [event async for event in client.events(started.run_id)]

    assert events[-1].status is RunStatus.SUCCEEDED


async def test_errors_map_to_onward_errors(client: OnwardClient) -> None:
    """404 and 403 are typed ApiErrors and the matching onward.errors classes."""
    with pytest.raises(NotFoundApiError) as missing:
        await client.get_run("run_missing")
    await client.create_user("vic", password=PASSWORD)
    key = await client.create_api_key("v", user="vic")
    client.token = key.secret
    with pytest.raises(ApiError) as forbidden:
        await client.list_users()

    assert missing.value.status == 404
    assert isinstance(missing.value, errors.NotFoundError)
    assert missing.value.code == "not-found"
    assert isinstance(forbidden.value, PermissionApiError)
    assert isinstance(forbidden.value, errors.PermissionDeniedError)
