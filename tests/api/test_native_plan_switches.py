"""Plans disabled and enabled again through the native API, and runs they refuse."""

from __future__ import annotations

import httpx
import pytest
from native_helpers import API, QUICK_PLAN, add_user, apply_yaml
from structlog.testing import capture_logs

from onward.domain.access import Role
from onward.runtime import Runtime

WS = f"{API}/workspaces/default"


@pytest.fixture
async def author(runtime: Runtime, client: httpx.AsyncClient) -> dict[str, str]:
    """Return the Authorization header of an author, with the plan quick applied."""
    headers = await add_user(runtime, "amy", roles={"default": Role.AUTHOR})
    applied = await apply_yaml(client, headers, QUICK_PLAN)
    assert applied.status_code == 201, applied.text
    return headers


async def test_a_disabled_plan_shows_it_and_refuses_runs_until_enabled(
    client: httpx.AsyncClient, author: dict[str, str]
) -> None:
    """Disable answers the plan, which lists and reads disabled and starts no run."""
    disabled = await client.post(f"{WS}/plans/quick/disable", headers=author)
    shown = await client.get(f"{WS}/plans/quick", headers=author)
    listed = await client.get(f"{WS}/plans", headers=author)
    refused = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=author)
    enabled = await client.post(f"{WS}/plans/quick/enable", headers=author)
    started = await client.post(f"{WS}/runs", json={"plan": "quick"}, headers=author)

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False
    assert disabled.json()["name"] == "quick"
    assert disabled.json()["source"] == QUICK_PLAN
    assert shown.json()["enabled"] is False
    assert [p["enabled"] for p in listed.json()["plans"]] == [False]
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid-transition"
    assert "disabled" in refused.json()["detail"]
    assert f"POST {WS}/plans/quick/enable" in refused.json()["detail"]
    assert "onward plan enable quick" in refused.json()["detail"]
    assert enabled.status_code == 200
    assert enabled.json()["enabled"] is True
    assert started.status_code == 202, started.text


async def test_switching_a_plan_to_what_it_is_changes_and_logs_nothing(
    client: httpx.AsyncClient, author: dict[str, str]
) -> None:
    """A second disable is a 200 too; only the change is logged, with actor and why."""
    why = {**author, "X-Reason": "CHG-7 maintenance"}
    with capture_logs() as logs:
        first = await client.post(f"{WS}/plans/quick/disable", headers=why)
        again = await client.post(f"{WS}/plans/quick/disable", headers=why)
        enabled = await client.post(f"{WS}/plans/quick/enable", headers=author)
    switched = [e for e in logs if e["event"] in ("plan.disabled", "plan.enabled")]

    assert first.status_code == again.status_code == enabled.status_code == 200
    assert again.json() == first.json()
    assert [(e["event"], e["actor"], e["reason"]) for e in switched] == [
        ("plan.disabled", "amy", "CHG-7 maintenance"),
        ("plan.enabled", "amy", ""),
    ]
    assert {e["plan"] for e in switched} == {"quick"}


async def test_a_switch_with_its_idempotency_key_replays_the_first_answer(
    client: httpx.AsyncClient, author: dict[str, str]
) -> None:
    """The same disable with its key again answers the kept plan, replayed."""
    keyed = {**author, "Idempotency-Key": "disable-quick-1"}
    first = await client.post(f"{WS}/plans/quick/disable", headers=keyed)
    await client.post(f"{WS}/plans/quick/enable", headers=author)
    again = await client.post(f"{WS}/plans/quick/disable", headers=keyed)
    reused = await client.post(f"{WS}/plans/quick/enable", headers=keyed)
    shown = await client.get(f"{WS}/plans/quick", headers=author)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency-key-reused"
    assert shown.json()["enabled"] is True


@pytest.mark.parametrize("switch", ["enable", "disable"])
async def test_switching_an_unknown_plan_is_not_found(
    client: httpx.AsyncClient, author: dict[str, str], switch: str
) -> None:
    """A plan the workspace does not have is a 404 problem naming it."""
    answer = await client.post(f"{WS}/plans/nope/{switch}", headers=author)

    assert answer.status_code == 404
    assert answer.json()["detail"] == "Plan not found: nope"


async def test_an_operator_may_not_switch_a_plan(
    runtime: Runtime, client: httpx.AsyncClient, author: dict[str, str]
) -> None:
    """Switching a plan is the author's, like editing it: an operator gets 403."""
    operator = await add_user(runtime, "otto", roles={"default": Role.OPERATOR})
    answer = await client.post(f"{WS}/plans/quick/disable", headers=operator)
    shown = await client.get(f"{WS}/plans/quick", headers=operator)

    assert answer.status_code == 403
    assert shown.json()["enabled"] is True
