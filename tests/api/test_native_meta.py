"""Health, metrics and the API's own description."""

from __future__ import annotations

import httpx
from native_helpers import API, QUICK_PLAN, add_user, apply_yaml, settle

from onward.domain.access import Role
from onward.runtime import Runtime


async def test_health_is_open_and_metrics_need_credentials(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """/healthz answers anyone; /metrics only a signed-in caller."""
    health = await client.get("/healthz")
    anonymous = await client.get("/metrics")

    assert health.json() == {"status": "ok"}
    assert anonymous.status_code == 401


async def test_metrics_count_requests_runs_and_attempts(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Requests are counted by route template; runs and attempts by the engine."""
    admin = await add_user(runtime, "ann", roles={"default": Role.ADMIN})
    await apply_yaml(client, admin, QUICK_PLAN)
    await client.post(
        f"{API}/workspaces/default/runs", json={"plan": "quick"}, headers=admin
    )
    await settle(runtime)
    text = (await client.get("/metrics", headers=admin)).text

    assert "onward_runs_started_total 1.0" in text
    assert 'onward_attempts_finished_total{status="succeeded"} 4.0' in text
    assert (
        'onward_http_requests_total{method="POST",'
        'route="/api/v1/workspaces/{workspace}/runs",status="202"} 1.0'
    ) in text


async def test_the_openapi_document_describes_problems_and_bearer_auth(
    client: httpx.AsyncClient,
) -> None:
    """The document is served under /api/v1 with its interactive docs page."""
    document = (await client.get(f"{API}/openapi.json")).json()
    docs = await client.get(f"{API}/docs")
    start = document["paths"]["/api/v1/workspaces/{workspace}/runs"]["post"]

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "Problem" in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert set(start["responses"]) >= {"202", "400", "401", "403", "404", "409", "422"}
    assert "application/problem+json" in start["responses"]["404"]["content"]
