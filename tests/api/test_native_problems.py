"""Every error of the native API is an RFC 9457 problem naming what went wrong."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog
from native_helpers import API, HALTING_PLAN, QUICK_PLAN, add_user, apply_yaml, settle

from onward import errors
from onward.domain.access import Role
from onward.runtime import Runtime

WS = f"{API}/workspaces/default"
PROBLEM = "application/problem+json"


@pytest.fixture
async def admin(runtime: Runtime) -> dict[str, str]:
    """Return the Authorization header of an admin of the default workspace."""
    return await add_user(runtime, "ann", roles={"default": Role.ADMIN})


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Check a problem document's status, code and members; return it."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:onward:problem:{code}"
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == response.request.url.path
    return body


async def test_a_malformed_json_body_is_a_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """A body that is not JSON is a bad request, not an invalid field."""
    response = await client.post(
        f"{WS}/runs",
        content=b'{"plan": ',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert_problem(response, 400, "malformed")


@pytest.mark.parametrize("header", [None, "Bearer onw_not-a-key", "Basic YTpi"])
async def test_missing_or_invalid_credentials_are_a_401_with_a_challenge(
    client: httpx.AsyncClient, header: str | None
) -> None:
    """No, unknown or non-bearer credentials: 401 and WWW-Authenticate: Bearer."""
    headers = {"Authorization": header} if header else {}
    response = await client.get(f"{WS}/runs", headers=headers)

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_role_too_low_is_a_403(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """A viewer may read but not start runs."""
    viewer = await add_user(runtime, "vic", roles={"default": Role.VIEWER})
    response = await client.post(f"{WS}/runs", json={"plan": "x"}, headers=viewer)

    assert_problem(response, 403, "forbidden")


async def test_an_unknown_run_and_an_unknown_route_are_404s(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Both a missing resource and a missing route answer problem documents."""
    run = await client.get(f"{WS}/runs/run_nope", headers=admin)
    route = await client.get(f"{API}/nowhere", headers=admin)

    assert "run_nope" in assert_problem(run, 404, "not-found")["detail"]
    assert_problem(route, 404, "not-found")


async def test_a_command_impossible_in_the_run_state_is_a_409(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Continuing a run that is not halted conflicts with its state."""
    await apply_yaml(client, admin, QUICK_PLAN)
    started = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=admin)
    await settle(runtime)
    response = await client.post(
        f"{WS}/runs/{started.json()['run_id']}/continue",
        json={"option": "retry-step"},
        headers=admin,
    )

    assert_problem(response, 409, "invalid-transition")


async def test_invalid_fields_are_a_422_naming_each_field(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Each bad field is listed with where it is and why."""
    response = await client.post(
        f"{WS}/runs",
        json={"version": 0, "colour": "red", "points": [{}]},
        headers=admin,
    )

    body = assert_problem(response, 422, "invalid")
    assert {(e["in"], e["path"]) for e in body["errors"]} == {
        ("body", "plan"),
        ("body", "version"),
        ("body", "colour"),
        ("body", "points"),
    }


async def test_an_invalid_plan_is_a_422_with_paths_and_lines(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Plan problems carry their path in the document and their line in the text."""
    text = (
        "name: bad\ngroups:\n  - name: g\n    targets: [a]\n    steps:\n"
        "      - {name: s, action: noop, timout: 5m}\n"
    )
    response = await apply_yaml(client, admin, text)
    validated = await client.post(
        f"{WS}/plans/validate",
        content=text,
        headers={**admin, "Content-Type": "application/yaml"},
    )

    body = assert_problem(response, 422, "invalid")
    assert body["errors"][0]["path"] == "groups[0].steps[0].timout"
    assert body["errors"][0]["line"] == 6
    assert validated.status_code == 200
    assert validated.json()["valid"] is False
    assert validated.json()["problems"][0]["line"] == 6


async def test_a_plan_of_another_name_than_addressed_is_a_422(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """PUT /plans/{name} refuses a plan named otherwise, naming the field."""
    response = await client.put(
        f"{WS}/plans/other",
        content=QUICK_PLAN,
        headers={**admin, "Content-Type": "application/yaml"},
    )

    assert assert_problem(response, 422, "invalid")["errors"][0]["path"] == "name"


async def test_a_plan_used_by_runs_cannot_be_deleted(
    runtime: Runtime, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Deleting a plan that runs use is a 409; an unused one is deleted."""
    await apply_yaml(client, admin, HALTING_PLAN)
    await apply_yaml(client, admin, QUICK_PLAN)
    await client.post(f"{WS}/runs", json={"plan": "halting"}, headers=admin)
    await settle(runtime)
    used = await client.delete(f"{WS}/plans/halting", headers=admin)
    unused = await client.delete(f"{WS}/plans/quick", headers=admin)

    assert_problem(used, 409, "conflict")
    assert unused.status_code == 204


async def test_an_unsupported_plan_media_type_is_a_415(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Plans come as YAML, text or JSON; anything else is refused."""
    response = await client.post(
        f"{WS}/plans", content=b"<plan/>", headers={**admin, "Content-Type": "text/xml"}
    )

    assert_problem(response, 415, "unsupported-media-type")


async def test_repeated_failed_logins_are_a_429_with_retry_after(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """After five failures in a row the account is refused for a while."""
    await runtime.auth.create_user("rita", "a fine password")
    wrong = {"username": "rita", "password": "not it"}
    statuses = [
        (await client.post(f"{API}/auth/login", json=wrong)).status_code
        for _ in range(5)
    ]
    refused = await client.post(f"{API}/auth/login", json=wrong)

    assert statuses == [401] * 5
    body = assert_problem(refused, 429, "rate-limited")
    assert int(refused.headers["Retry-After"]) == body["retry_after"] > 0


async def test_a_storage_failure_is_a_503(
    runtime: Runtime,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store being unavailable is a 503 with Retry-After; its words are logged."""

    async def unavailable(**_: object) -> None:
        msg = "database is locked"
        raise errors.StorageError(msg)

    monkeypatch.setattr(runtime.store, "list_plans", unavailable)
    with structlog.testing.capture_logs() as logs:
        response = await client.get(f"{WS}/plans", headers=admin)

    body = assert_problem(response, 503, "storage-unavailable")
    assert response.headers["Retry-After"] == "1"
    assert "locked" not in body["detail"]
    assert [e["error"] for e in logs if e["event"] == "api.failed"] == [
        "database is locked"
    ]


async def test_an_unexpected_error_is_a_bare_500_and_is_logged(
    runtime: Runtime,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug answers 500 with no details of it; the details go to the log."""

    async def broken(**_: object) -> None:
        msg = "secret internals"
        raise RuntimeError(msg)

    monkeypatch.setattr(runtime.store, "list_plans", broken)
    with structlog.testing.capture_logs() as logs:
        response = await client.get(f"{WS}/plans", headers=admin)

    body = assert_problem(response, 500, "internal")
    assert "secret internals" not in response.text
    assert body["instance"] == f"{WS}/plans"
    assert [entry["event"] for entry in logs] == ["api.unhandled"]
