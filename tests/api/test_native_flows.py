"""Golden flows of the native API: sign in, plan, run, halt, preview, continue."""

from __future__ import annotations

import json

import httpx
import pytest
from native_helpers import (
    API,
    APPROVAL_PLAN,
    FAILING_PLAN,
    HALTING_PLAN,
    QUICK_PLAN,
    add_user,
    apply_yaml,
    settle,
)

from onward.domain.access import Role
from onward.runtime import Runtime

WS = f"{API}/workspaces/default"


@pytest.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    """Return the Authorization header of an admin of the default workspace."""
    return await add_user(runtime, "ann", roles={"default": Role.ADMIN})


async def start(client: httpx.AsyncClient, headers: dict[str, str], plan: str) -> str:
    """Apply a plan, start a run of it and return the run's id."""
    name = plan.split("name: ", 1)[1].split("\n", 1)[0]
    applied = await apply_yaml(client, headers, plan)
    started = await client.post(f"{WS}/runs", json={"plan": name}, headers=headers)
    assert applied.status_code in (200, 201), applied.text
    assert started.status_code == 202, started.text
    return str(started.json()["run_id"])


async def test_login_plan_halt_preview_and_continue_with_the_token_succeeds(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """The whole operator flow works through the API, ending succeeded."""
    await runtime.auth.create_admin("root", "correct horse battery")
    login = await client.post(
        f"{API}/auth/login",
        json={"username": "root", "password": "correct horse battery"},
    )
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    applied = await apply_yaml(client, auth, HALTING_PLAN)
    started = await client.post(f"{WS}/runs", json={"plan": "halting"}, headers=auth)
    run_id = started.json()["run_id"]
    await settle(runtime)
    halted = await client.get(f"{WS}/runs/{run_id}", headers=auth)
    preview = await client.post(
        f"{WS}/runs/{run_id}/preview",
        json={"command": "continue", "option": "retry-step"},
        headers=auth,
    )
    continued = await client.post(
        f"{WS}/runs/{run_id}/continue",
        json={
            "option": "retry-step",
            "preview_token": preview.json()["token"],
            "input_overrides": {"command": "true"},
        },
        headers={**auth, "X-Reason": "the check was wrong"},
    )
    await settle(runtime)
    operation = await client.get(continued.headers["Location"], headers=auth)
    done = await client.get(f"{WS}/runs/{run_id}", headers=auth)
    audit = await client.get(f"{WS}/runs/{run_id}/audit", headers=auth)

    assert login.status_code == 200
    assert applied.status_code == 201
    assert started.status_code == 202
    assert started.headers["Location"].startswith(f"{WS}/operations/op_")
    assert halted.json()["status"] == "halted"
    assert [(h["target"], h["step"]) for h in halted.json()["halts"]] == [
        ("b", "check")
    ]
    assert [(p["target"], p["step"]) for p in preview.json()["starts"]] == [
        ("b", "check")
    ]
    assert continued.status_code == 202
    assert operation.json()["status"] == "done"
    assert operation.json()["result"] == "succeeded"
    assert done.json()["status"] == "succeeded"
    assert audit.json()["entries"][-1]["reason"] == "the check was wrong"
    assert audit.json()["entries"][-1]["actor"] == "root"


async def test_a_stale_preview_token_is_refused_with_409(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A preview made before the run changed cannot be applied."""
    run_id = await start(client, admin, HALTING_PLAN)
    await settle(runtime)
    preview = await client.post(
        f"{WS}/runs/{run_id}/preview",
        json={"command": "continue", "option": "proceed-step"},
        headers=admin,
    )
    retried = await client.post(
        f"{WS}/runs/{run_id}/continue", json={"option": "retry-step"}, headers=admin
    )
    await settle(runtime)
    stale = await client.post(
        f"{WS}/runs/{run_id}/continue",
        json={"option": "proceed-step", "preview_token": preview.json()["token"]},
        headers=admin,
    )

    assert retried.status_code == 202
    assert stale.status_code == 409
    assert stale.headers["Content-Type"] == "application/problem+json"
    assert stale.json()["code"] == "stale-state"


async def test_the_same_idempotency_key_and_body_replay_the_first_answer(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A repeated start with its key answers the same and starts no second run."""
    await apply_yaml(client, admin, QUICK_PLAN)
    keyed = {**admin, "Idempotency-Key": "start-quick-1"}
    first = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=keyed)
    again = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=keyed)
    await settle(runtime)
    runs = await client.get(f"{WS}/runs", headers=admin)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [r["run_id"] for r in runs.json()["runs"]] == [first.json()["run_id"]]


async def test_the_same_idempotency_key_with_another_body_is_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Reusing a key for a different request is a 422 problem, and changes nothing."""
    await apply_yaml(client, admin, QUICK_PLAN)
    keyed = {**admin, "Idempotency-Key": "k-2"}
    first = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=keyed)
    other = await client.post(
        f"{WS}/runs", json={"plan": "quick", "chain": True}, headers=keyed
    )
    runs = await client.get(f"{WS}/runs", headers=admin)

    assert first.status_code == 202
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency-key-reused"
    assert len(runs.json()["runs"]) == 1


async def test_idempotency_covers_routes_outside_runs_and_never_keeps_secrets(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A replayed API key creation answers the same key without its secret."""
    keyed = {**admin, "Idempotency-Key": "key-1"}
    first = await client.post(f"{API}/api-keys", json={"name": "ci"}, headers=keyed)
    again = await client.post(f"{API}/api-keys", json={"name": "ci"}, headers=keyed)
    keys = await client.get(f"{API}/api-keys", headers=admin)

    assert first.status_code == again.status_code == 201
    assert first.json()["secret"].startswith("onw_")
    assert again.json() == {**first.json(), "secret": None}
    assert len(keys.json()["api_keys"]) == 1


async def test_the_event_stream_yields_the_run_changes_until_it_finishes(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Each change of the run is an event with its version; the stream then ends."""
    run_id = await start(client, admin, QUICK_PLAN)
    stream = await client.get(f"{WS}/runs/{run_id}/events", headers=admin)
    frames = [f for f in stream.text.split("\n\n") if f.startswith("event: run")]
    events = [json.loads(f.split("data: ", 1)[1]) for f in frames]
    again = await client.get(
        f"{WS}/runs/{run_id}/events",
        headers={**admin, "Last-Event-ID": str(events[-1]["version"])},
    )

    assert stream.status_code == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert events[-1]["status"] == "succeeded"
    assert [e["version"] for e in events] == sorted({e["version"] for e in events})
    assert stream.text.rstrip().endswith("event: end\ndata: {}")
    assert again.status_code == 204


async def test_an_approval_waits_until_approved_and_the_operation_follows_it(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Start is running while the approval waits; approve lets the run succeed."""
    run_id = await start(client, admin, APPROVAL_PLAN)
    await settle(runtime)
    operations = await client.get(f"{WS}/operations?run_id={run_id}", headers=admin)
    approved = await client.post(
        f"{WS}/runs/{run_id}/approve", json={"comment": "go"}, headers=admin
    )
    await settle(runtime)
    start_op = await client.get(
        f"{WS}/operations/{operations.json()['operations'][0]['operation_id']}",
        headers=admin,
    )

    assert operations.json()["operations"][0]["status"] == "running"
    assert operations.json()["operations"][0]["run_status"] == "waiting"
    assert approved.status_code == 202
    assert start_op.json()["status"] == "done"
    assert start_op.json()["result"] == "succeeded"
    assert start_op.json()["progress"]["succeeded"] == 2


async def test_deleting_a_running_operation_cancels_its_run(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """DELETE of a running operation cancels the run; a done one is a 409."""
    run_id = await start(client, admin, APPROVAL_PLAN)
    await settle(runtime)
    listed = await client.get(f"{WS}/operations", headers=admin)
    operation = f"{WS}/operations/{listed.json()['operations'][0]['operation_id']}"
    cancelled = await client.delete(operation, headers=admin)
    await settle(runtime)
    run = await client.get(f"{WS}/runs/{run_id}", headers=admin)
    again = await client.delete(operation, headers=admin)

    assert cancelled.status_code == 202
    assert cancelled.json()["operation"]["command"] == "cancel"
    assert run.json()["status"] == "cancelled"
    assert again.status_code == 409


async def test_a_failed_run_is_retried_and_its_logs_read_in_pages(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Retry answers 202 with a new operation; logs page with next_after."""
    run_id = await start(client, admin, FAILING_PLAN)
    await settle(runtime)
    retried = await client.post(f"{WS}/runs/{run_id}/retry", headers=admin)
    await settle(runtime)
    run = await client.get(f"{WS}/runs/{run_id}", headers=admin)
    first_run = await start(client, admin, QUICK_PLAN)
    await settle(runtime)
    page = await client.get(f"{WS}/runs/{first_run}/logs?limit=1", headers=admin)
    rest = await client.get(
        f"{WS}/runs/{first_run}/logs?after={page.json()['next_after']}", headers=admin
    )

    assert retried.status_code == 202
    assert retried.json()["operation"]["command"] == "retry"
    assert run.json()["run_attempt"] == 2
    assert [e["line"] for e in page.json()["entries"] + rest.json()["entries"]] == [
        "done",
        "done",
    ]


async def test_runs_are_listed_newest_first_in_pages_with_filters(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """The cursor walks every run once; the status filter keeps only matches."""
    ids = [await start(client, admin, QUICK_PLAN) for _ in range(3)]
    await settle(runtime)
    first = await client.get(f"{WS}/runs?limit=2", headers=admin)
    second = await client.get(
        f"{WS}/runs?limit=2&cursor={first.json()['next_cursor']}", headers=admin
    )
    halted = await client.get(f"{WS}/runs?status=halted&plan=quick", headers=admin)
    naive = await client.get(
        f"{WS}/runs?created_after=2026-01-01T00:00:00", headers=admin
    )

    listed = [r["run_id"] for r in first.json()["runs"] + second.json()["runs"]]
    assert listed == sorted(ids, reverse=True)
    assert second.json()["next_cursor"] is None
    assert halted.json()["runs"] == []
    assert naive.status_code == 422


async def test_a_halted_target_resumes_at_a_named_step(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Resume takes group, target and step by name; unknown names are a 422."""
    run_id = await start(client, admin, HALTING_PLAN)
    await settle(runtime)
    unknown = await client.post(
        f"{WS}/runs/{run_id}/resume",
        json={"group": "g", "target": "zz", "step": "check"},
        headers=admin,
    )
    resumed = await client.post(
        f"{WS}/runs/{run_id}/resume",
        json={"group": "g", "target": "b", "step": 0},
        headers=admin,
    )

    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["path"] == "target"
    assert resumed.status_code == 202
