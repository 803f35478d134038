"""Data objects start event-triggered runs; failover takes its choices over the API."""

from __future__ import annotations

import httpx
from native_helpers import API, add_user, apply_yaml, settle

from onward.domain.access import Role
from onward.runtime import Runtime

WS = f"{API}/workspaces/default"

RESPONDER = """
name: responder
groups:
  - name: g
    targets: [t]
    steps:
      - {name: s, action: shell, with: {command: "echo fixing {{ event.data.host }}"}}
triggers:
  - {name: alerts, type: event, dataclass: alert,
     when: [{field: severity, op: eq, value: high}]}
"""

REPLICA = """
name: dr
kind: replica
procedures:
  failover:
    groups:
      - name: g
        targets: [vm]
        steps:
          - name: up
            action: shell
            with: {command: "echo restore {{ run.params.restore_point }}"}
  protect:
    groups: [{name: g, targets: [vm], steps: [{name: p, action: noop}]}]
"""


async def test_a_posted_data_object_starts_the_matching_trigger_run(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """201 with the object and the run ids; the run's step sees the object."""
    headers = await add_user(runtime, "ops", roles={"default": Role.AUTHOR})
    await apply_yaml(client, headers, RESPONDER)

    posted = await client.post(
        f"{WS}/dataclasses/alert/objects",
        json={"severity": "high", "host": "db1"},
        headers=headers,
    )
    ignored = await client.post(
        f"{WS}/dataclasses/alert/objects", json={"severity": "low"}, headers=headers
    )
    await settle(runtime)
    run_id = posted.json()["run_ids"][0]
    logs = await client.get(f"{WS}/runs/{run_id}/logs", headers=headers)
    listed = await client.get(f"{WS}/dataclasses/alert/objects", headers=headers)

    assert posted.status_code == 201
    assert posted.json()["object"]["content"] == {"severity": "high", "host": "db1"}
    assert ignored.json()["run_ids"] == []
    assert "fixing db1" in logs.text
    assert len(listed.json()["objects"]) == 2


async def test_a_data_object_must_be_a_json_object(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """A list body is a 422 problem naming the body."""
    headers = await add_user(runtime, "ops", roles={"default": Role.OPERATOR})

    answer = await client.post(
        f"{WS}/dataclasses/alert/objects", json=[1, 2], headers=headers
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_failover_takes_a_restore_point_and_protects_after(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """restore_point reaches the steps; protect_after starts protect on success."""
    headers = await add_user(runtime, "ops", roles={"default": Role.AUTHOR})
    await apply_yaml(client, headers, REPLICA)

    started = await client.post(
        f"{WS}/runs",
        json={
            "plan": "dr",
            "procedure": "failover",
            "restore_point": "2026-03-01T00:00:00Z",
            "protect_after": True,
        },
        headers=headers,
    )
    await settle(runtime)
    runs = await client.get(f"{WS}/runs", params={"plan": "dr"}, headers=headers)
    wrong = await client.post(
        f"{WS}/runs",
        json={"plan": "dr", "procedure": "protect", "protect_after": True},
        headers=headers,
    )

    assert started.status_code == 202
    assert [(r["procedure"], r["status"]) for r in runs.json()["runs"]] == [
        ("protect", "succeeded"),
        ("failover", "succeeded"),
    ]
    assert wrong.status_code == 422
