"""The VAO v3 dialect: the seed examples replayed, golden answers, and every refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    DENIED,
    GATED,
    PASSWORD,
    PLANS,
    SEED_PLAN,
    add_user,
    apply_as,
    halted_seed_plan,
    newest_run,
    parse_xml,
    settle,
    vao_halting_plan,
    vao_token,
)

from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime

REPLICA: Final = """
name: web-dr
kind: replica
chain: [after-dr]
procedures:
  failover:
    groups: [{name: vms, targets: [vm1, vm2], steps: [{name: boot, action: noop}]}]
  failback:
    groups: [{name: vms, targets: [vm1], steps: [{name: back, action: noop}]}]
  undo_failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: undo, action: noop}]}]
  protect:
    groups: [{name: vms, targets: [vm1], steps: [{name: protect, action: noop}]}]
"""
#: a storage plan: its failover brings the replicated volumes up
STORAGE: Final = """
name: san-dr
kind: storage
procedures:
  failover:
    groups: [{name: luns, targets: [lun1, lun2], steps: [{name: up, action: noop}]}]
  undo_failover:
    groups: [{name: luns, targets: [lun1], steps: [{name: demote, action: noop}]}]
"""
AFTER: Final = """
name: after-dr
groups: [{name: g, targets: [a], steps: [{name: one, action: noop}]}]
"""


async def plan_body(vao: httpx.AsyncClient, auth: dict[str, str]) -> dict[str, Any]:
    """Return the seed plan's representation."""
    answer = await vao.get(f"{PLANS}/{SEED_PLAN}", headers=auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --- the seed examples, replayed literally --------------------------------------------


async def test_the_continue_example_continues_the_halted_plan(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """POST .../Plans/b8517d70-.../Continue with RetryFailedStep: 200, plan goes on."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")
    halted = await plan_body(vao, ann)

    answer = await vao.post(
        f"https://vao.example:9898/api/v3/Plans/{SEED_PLAN}/Continue",
        headers={**ann, "Content-Type": "application/json"},
        content=b'{ "executionContinueOptions": "RetryFailedStep" }',
    )
    await settle(runtime)
    done = await plan_body(vao, ann)

    assert (halted["state"], halted["stateName"]) == ("Halted", "HALTED")
    assert answer.status_code == 200
    assert answer.content == b""
    assert done["id"] == SEED_PLAN
    assert (done["state"], done["resultName"]) == ("Restore", "Success")
    run = await newest_run(runtime, "web")
    audit = await runtime.store.list_audit(run.run_id)
    assert audit[-1].command == "continue"
    assert audit[-1].details["option"] == "retry-step"
    assert audit[-1].actor == "ann"


@pytest.mark.parametrize(
    ("plan", "name", "plan_type"),
    [
        pytest.param(REPLICA, "web-dr", "Replica", id="replica"),
        pytest.param(STORAGE, "san-dr", "Storage", id="storage"),
    ],
)
async def test_the_failover_example_fails_the_plan_over(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    plan: str,
    name: str,
    plan_type: str,
) -> None:
    """POST .../Failover with the example's body (its spelling): 200, failed over.

    A replica plan and a storage plan alike: its failover runs, FAILOVER.
    """
    await apply_as(runtime, plan, SEED_PLAN)
    ready = await plan_body(vao, ann)

    answer = await vao.post(
        f"https://vao.example:9898/api/v3/Plans/{SEED_PLAN}/Failover",
        headers={**ann, "Content-Type": "application/json"},
        content=(
            b'{ "executeChainedPlans": false, "restorepointDate": '
            b'"2026-03-01T00:00:00", "protectStorageVolumes": false }'
        ),
    )
    await settle(runtime)
    run = await newest_run(runtime, name)
    body = await plan_body(vao, ann)

    assert (ready["planType"], ready["stateName"]) == (plan_type, "READY")
    assert answer.status_code == 200
    assert answer.content == b""
    assert run.procedure == "failover"
    assert run.params["restore_point"] == "2026-03-01T00:00:00+00:00"
    assert run.status is RunStatus.SUCCEEDED
    assert (body["state"], body["stateName"], body["planType"]) == (
        "Failover",
        "FAILOVER",
        plan_type,
    )
    assert (body["groupsCount"], body["vmsCount"]) == (1, 2)


# --- failover options -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "restore_point"),
    [
        ({"restorePointDate": "2026-03-01T12:30:00Z"}, "2026-03-01T12:30:00+00:00"),
        ({"restorePointDate": None}, None),
        ({}, None),
    ],
    ids=["table-spelling", "null-is-latest", "absent-is-latest"],
)
async def test_the_restore_point_date_is_read_in_either_spelling_null_the_latest(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    body: dict[str, Any],
    restore_point: str | None,
) -> None:
    """restorePointDate and restorepointDate are one property; null: the latest."""
    await apply_as(runtime, REPLICA, SEED_PLAN)

    answer = await vao.post(f"{PLANS}/{SEED_PLAN}/Failover", headers=ann, json=body)
    run = await newest_run(runtime, "web-dr")

    assert answer.status_code == 200
    assert run.params["restore_point"] == restore_point


async def test_two_spellings_with_different_dates_are_refused(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """The same property given twice, differently, is an invalid request."""
    await apply_as(runtime, REPLICA, SEED_PLAN)

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Failover",
        headers=ann,
        json={"restorePointDate": "2026-03-01", "restorepointDate": "2026-04-01"},
    )

    assert answer.status_code == 400
    assert answer.json()["Message"] == "The request is invalid."
    assert "restorePointDate" in answer.json()["ModelState"]


async def test_protect_and_chained_plans_follow_a_succeeded_failover(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """protectStorageVolumes runs protect after; executeChainedPlans the chain."""
    await apply_as(runtime, REPLICA, SEED_PLAN)
    await runtime.commands.apply_plan(AFTER)

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Failover",
        headers=ann,
        json={"executeChainedPlans": True, "protectStorageVolumes": True},
    )
    await settle(runtime)
    await settle(runtime)

    assert answer.status_code == 200
    assert (await newest_run(runtime, "web-dr")).procedure == "protect"
    assert (await newest_run(runtime, "after-dr")).status is RunStatus.SUCCEEDED


async def test_failover_of_a_plan_without_one_is_an_invalid_request(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Failover applies only to replica and storage plans."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "m"), SEED_PLAN)

    answer = await vao.post(f"{PLANS}/{SEED_PLAN}/Failover", headers=ann, json={})

    assert answer.status_code == 400
    assert answer.json() == {
        "Message": "The request is invalid.",
        "ModelState": {
            "planId": [
                "The plan 'web' is a Restore plan: Failover applies to Replica "
                "and Storage plans."
            ]
        },
    }


async def test_undo_and_failback_run_their_procedures_when_the_state_allows(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Undo before any failover is refused; after one it runs undo_failover."""
    await apply_as(runtime, REPLICA, SEED_PLAN)

    early = await vao.post(f"{PLANS}/{SEED_PLAN}/Undo", headers=ann)
    await vao.post(f"{PLANS}/{SEED_PLAN}/Failover", headers=ann, json={})
    await settle(runtime)
    undone = await vao.post(f"{PLANS}/{SEED_PLAN}/Undo", headers=ann)
    await settle(runtime)
    await vao.post(f"{PLANS}/{SEED_PLAN}/Failover", headers=ann, json={})
    await settle(runtime)
    back = await vao.post(
        f"{PLANS}/{SEED_PLAN}/FailbackToProduction",
        headers=ann,
        json={"restoreLocationId": "00000000-0000-0000-0000-000000000000"},
    )
    await settle(runtime)

    assert early.status_code == 409
    assert early.json() == {
        "Message": "Cannot run Undo on plan 'web-dr' in state READY: "
        "the plan allows only Failover now."
    }
    assert undone.status_code == 200
    assert back.status_code == 200
    assert (await newest_run(runtime, "web-dr")).procedure == "failback"
    assert (await plan_body(vao, ann))["state"] == "Ready"


# --- continue ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "option"),
    [
        ("RetryFailedStep", "retry-step"),
        ("ProceedToNextStep", "proceed-step"),
        ("RetryFailedVm", "retry-target"),
        ("ProceedToNextVm", "proceed-target"),
        ("RetryFailedGroup", "retry-group"),
        ("ProceedToNextGroup", "proceed-group"),
        ("proceedtonextvm", "proceed-target"),
    ],
)
async def test_each_continue_option_is_onwards_own(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    vendor: str,
    option: str,
) -> None:
    """The six options (in any case) reach the run as Onward's options."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Continue",
        headers=ann,
        json={"ExecutionContinueOptions": vendor},
    )
    run = await newest_run(runtime, "web")
    audit = await runtime.store.list_audit(run.run_id)

    assert answer.status_code == 200
    assert audit[-1].details["option"] == option


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (
            b'{"executionContinueOptions": "RetryEverything"}',
            "executionContinueOptions",
        ),
        (b"{}", "executionContinueOptions"),
        (b"", "request"),
        (b'{"executionContinueOptions": 3}', "executionContinueOptions"),
        (b"{not json", "request"),
        (b'["RetryFailedStep"]', "request"),
    ],
    ids=["unknown", "missing", "no-body", "not-a-string", "malformed", "not-object"],
)
async def test_a_bad_continue_body_is_a_400_in_the_vendors_shape(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    content: bytes,
    field: str,
) -> None:
    """A missing, unknown or malformed option: 400 with ModelState, run untouched."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Continue",
        headers={**ann, "Content-Type": "application/json"},
        content=content,
    )

    assert answer.status_code == 400
    assert answer.json()["Message"] == "The request is invalid."
    assert list(answer.json()["ModelState"]) == [field]
    assert (await newest_run(runtime, "web")).status is RunStatus.HALTED


async def test_continue_of_a_plan_that_is_not_halted_is_refused(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Never run, or finished: 409 with the plan's state in the message."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    never = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Continue",
        headers=ann,
        json={"executionContinueOptions": "RetryFailedStep"},
    )
    (tmp_path / "marker").touch()
    await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=ann)
    await settle(runtime)
    done = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Continue",
        headers=ann,
        json={"executionContinueOptions": "RetryFailedStep"},
    )

    assert never.status_code == 409
    assert never.json() == {
        "Message": "Cannot continue plan 'web' in state READY: "
        "only a HALTED plan can be continued."
    }
    assert done.status_code == 409
    assert done.json() == {
        "Message": "Cannot continue plan 'web' in state RESTORE: "
        "only a HALTED plan can be continued."
    }


async def test_a_body_of_another_media_type_is_a_415(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Only JSON bodies are read."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Continue",
        headers={**ann, "Content-Type": "application/xml"},
        content=b"<ContinueSpec/>",
    )

    assert answer.status_code == 415
    assert "application/xml" in answer.json()["Message"]


# --- halt, restore, enable ----------------------------------------------------------


async def test_halt_cancels_the_running_plan_which_can_then_run_again(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Halt: the newest run is cancelled, the plan HALTED; halting again: 409."""
    await apply_as(runtime, GATED, SEED_PLAN)
    await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=ann)
    await settle(runtime)

    halted = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Halt", headers=ann, json={"fullstop": True}
    )
    await settle(runtime)
    body = await plan_body(vao, ann)
    again = await vao.post(f"{PLANS}/{SEED_PLAN}/Halt", headers=ann)
    restarted = await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=ann, json={})

    assert halted.status_code == 200
    assert (body["state"], body["stateName"], body["resultName"]) == (
        "Halted",
        "HALTED",
        "Canceled",
    )
    assert again.status_code == 409
    assert again.json() == {
        "Message": "Cannot halt plan 'gated' in state HALTED: "
        "it was halted by a user already."
    }
    assert restarted.status_code == 200


async def test_a_plan_runs_once_at_a_time(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """A second Restore while the first waits is refused with 409."""
    await apply_as(runtime, GATED, SEED_PLAN)
    first = await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=ann)
    await settle(runtime)

    second = await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=ann)

    assert first.status_code == 200
    assert second.status_code == 409
    assert second.json() == {
        "Message": "Cannot run Restore on plan 'gated' in state RESTORE: the plan "
        "is still running, and a plan runs one operation at a time."
    }


async def test_a_restore_date_becomes_the_restore_point_parameter(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Restore passes its date as the plan's restore_point; a plan without: 400."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    await runtime.commands.apply_plan(GATED)

    answer = await vao.post(
        f"{PLANS}/{SEED_PLAN}/Restore",
        headers=ann,
        json={"restorepointDate": "2026-03-01T00:00:00", "executeChainedPlans": False},
    )
    gated = (await vao.get(PLANS, headers=ann)).json()["data"][0]
    refused = await vao.post(
        f"{PLANS}/{gated['id']}/Restore",
        headers=ann,
        json={"restorePointDate": "2026-03-01T00:00:00"},
    )

    assert answer.status_code == 200
    run = await newest_run(runtime, "web")
    assert run.params["restore_point"] == "2026-03-01T00:00:00+00:00"
    assert refused.status_code == 400
    assert refused.json()["ModelState"] == {
        "restorePointDate": ["The plan 'gated' takes no restore point."]
    }


async def test_disable_stops_runs_and_enable_lets_them_start_again(
    runtime: Runtime, vao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Disable is a 200 that hides the plan from onlyEnabled and refuses runs."""
    await add_user(runtime, "amy", role=Role.AUTHOR)
    amy = await vao_token(vao, "amy")
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)

    disabled = await vao.post(f"{PLANS}/{SEED_PLAN}/Disable", headers=amy)
    listed = await vao.get(PLANS, params={"onlyEnabled": "true"}, headers=amy)
    shown = await plan_body(vao, amy)
    refused = await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=amy)
    enabled = await vao.post(f"{PLANS}/{SEED_PLAN}/Enable", headers=amy)
    unknown = await vao.post(
        f"{PLANS}/00000000-0000-0000-0000-000000000001/Disable", headers=amy
    )
    readiness = await vao.post(f"{PLANS}/{SEED_PLAN}/ReadinessCheck", headers=amy)

    assert disabled.status_code == 200
    assert SEED_PLAN not in listed.text
    assert shown["enabled"] is False
    assert refused.status_code == 409
    assert enabled.status_code == 200
    assert (await plan_body(vao, amy))["enabled"] is True
    assert unknown.status_code == 404
    assert readiness.status_code == 501


# --- reading ----------------------------------------------------------------------


async def test_plans_are_listed_with_paging_and_only_enabled(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """start/limit page the list by name; onlyEnabled=true keeps enabled plans."""
    await runtime.commands.apply_plan(AFTER)
    await runtime.commands.apply_plan(GATED)
    await apply_as(runtime, REPLICA, SEED_PLAN)

    page = await vao.get(f"{PLANS}?start=1&limit=1&onlyEnabled=true", headers=ann)
    everything = await vao.get(PLANS, headers=ann)

    assert page.status_code == 200
    assert [p["name"] for p in page.json()["data"]] == ["gated"]
    assert page.json()["pagination"] == {
        "total": 3,
        "count": 1,
        "start": 1,
        "limit": 1,
    }
    assert [p["name"] for p in everything.json()["data"]] == [
        "after-dr",
        "gated",
        "web-dr",
    ]


async def test_groups_vms_and_steps_are_the_plans_own(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Groups, their VMs and steps, and a VM's steps, with stable GUIDs."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)

    groups = (await vao.get(f"{PLANS}/{SEED_PLAN}/Groups", headers=ann)).json()["data"]
    group = groups[0]["id"]
    vms = (
        await vao.get(f"{PLANS}/{SEED_PLAN}/Groups/{group}/Vms", headers=ann)
    ).json()["data"]
    steps = (
        await vao.get(f"{PLANS}/{SEED_PLAN}/Groups/{group}/Steps", headers=ann)
    ).json()["data"]
    vm_steps = await vao.get(
        f"{PLANS}/{SEED_PLAN}/Groups/{group}/Vms/{vms[1]['id']}/Steps", headers=ann
    )
    short = await vao.get(f"{PLANS}/{SEED_PLAN}/Vms/{vms[1]['id']}/Steps", headers=ann)

    assert [(g["name"], g["vmsCount"], g["stepsCount"]) for g in groups] == [
        ("g", 2, 2)
    ]
    assert [v["name"] for v in vms] == ["a", "b"]
    assert {v["planId"] for v in vms} == {SEED_PLAN}
    assert [(s["name"], s["type"], s["critical"]) for s in steps] == [
        ("greet", "noop", True),
        ("check", "shell", True),
    ]
    assert [s["vmId"] for s in vm_steps.json()["data"]] == [vms[1]["id"]] * 2
    assert short.json() == vm_steps.json()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{PLANS}/00000000-0000-0000-0000-000000000001", 404),
        (f"{PLANS}/{SEED_PLAN}/Groups/00000000-0000-0000-0000-000000000001/Vms", 404),
        (f"{PLANS}/not-a-guid", 400),
        (f"{PLANS}?limit=-1", 400),
        (f"{PLANS}?start=many", 400),
        ("/api/v3/Nothing/Here", 404),
    ],
    ids=["plan", "group", "bad-id", "bad-limit", "bad-start", "no-resource"],
)
async def test_unknown_ids_and_malformed_values_are_answered_in_the_vendors_shape(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    path: str,
    status: int,
) -> None:
    """404 for what does not exist, 400 for what cannot be read; never a 500."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)

    answer = await vao.get(path, headers=ann)

    assert answer.status_code == status
    assert "Message" in answer.json()
    assert answer.headers["content-type"].startswith("application/json")


async def test_a_method_the_resource_does_not_support_is_a_405(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """DELETE on the plans collection: Web API's 405 with Allow."""
    answer = await vao.delete(PLANS, headers=ann)

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert "DELETE" in answer.json()["Message"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PROPFIND", PLANS, 405),
        ("FROB", f"{PLANS}/{{id}}/Continue", 405),
        ("FROB", "/api/token", 405),
        ("FROB", f"{PLANS}/{{id}}/Nothing", 404),
    ],
)
async def test_a_method_http_does_not_define_is_answered_in_web_apis_words(
    vao: httpx.AsyncClient, ann: dict[str, str], method: str, path: str, status: int
) -> None:
    """WebDAV's PROPFIND or a made-up method: Web API's 405 (or 404), not Onward's."""
    path = path.format(id="00000000-0000-0000-0000-000000000001")

    answer = await vao.request(method, path, headers=ann)

    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("application/json")
    assert set(answer.json()) == {"Message"}
    if status == 405:
        assert method in answer.json()["Message"]
        assert answer.headers["allow"]


# --- media types --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("application/json", "application/json"),
        ("text/json", "text/json"),
        ("application/xml", "application/xml"),
        ("text/html", "application/json"),
        ("application/xml;q=0.5, application/json", "application/json"),
        ("application/json;q=0.2, application/xml", "application/xml"),
        ("*/*", "application/json"),
    ],
)
async def test_the_answer_is_in_the_accepted_type_else_json(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    accept: str | None,
    media: str,
) -> None:
    """application/xml, text/json, application/json; anything else: JSON."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    headers = {**ann, **({"Accept": accept} if accept else {})}

    answer = await vao.get(f"{PLANS}/{SEED_PLAN}", headers=headers)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == f"{media}; charset=utf-8"


async def test_xml_answers_carry_the_same_facts(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """A plan and an error in XML: elements named as the JSON's properties."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    xml = {**ann, "Accept": "application/xml"}

    plan = parse_xml((await vao.get(f"{PLANS}/{SEED_PLAN}", headers=xml)).content)
    error = await vao.get(f"{PLANS}/00000000-0000-0000-0000-000000000001", headers=xml)
    listed = parse_xml((await vao.get(PLANS, headers=xml)).content)

    assert plan.tag == "RecoveryPlanInfo"
    assert plan.findtext("id") == SEED_PLAN
    assert plan.findtext("stateName") == "READY"
    assert plan.findtext("enabled") == "true"
    assert error.status_code == 404
    assert parse_xml(error.content).tag == "Error"
    assert [e.findtext("name") for e in listed.iter("RecoveryPlanInfo")] == ["web"]


# --- credentials ----------------------------------------------------------------------


async def test_the_token_endpoint_answers_as_oauth(
    runtime: Runtime, vao: httpx.AsyncClient
) -> None:
    """A password grant (DOMAIN\\user accepted) gives a bearer pair, not cached."""
    await add_user(runtime, "ann")

    answer = await vao.post(
        "/token",
        content=f"grant_type=password&username=VAO\\ann&password={PASSWORD}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer"  # noqa: S105 - a type, not a secret
    assert body["expires_in"] > 0
    assert answer.headers["cache-control"] == "no-store"
    listed = await vao.get(
        PLANS, headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert listed.status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password", "username": "ann", "password": "wrong"}, 400),
        ({"grant_type": "password", "username": "ann"}, 400),
        ({"grant_type": "client_credentials"}, 400),
        ({"grant_type": "refresh_token", "refresh_token": "onw_nope"}, 400),
    ],
    ids=["wrong-password", "no-password", "unsupported-grant", "unknown-refresh"],
)
async def test_token_failures_are_oauth_errors(
    runtime: Runtime, vao: httpx.AsyncClient, form: dict[str, str], error: int
) -> None:
    """Each failure is an OAuth error object with its code."""
    await add_user(runtime, "ann")

    answer = await vao.post("/api/token", data=form)

    assert answer.status_code == error
    assert answer.json()["error"] in {
        "invalid_grant",
        "invalid_request",
        "unsupported_grant_type",
    }
    assert "error_description" in answer.json()


async def test_a_refresh_gives_a_new_pair_and_the_old_refresh_token_dies(
    runtime: Runtime, vao: httpx.AsyncClient
) -> None:
    """grant_type=refresh_token (here as JSON) revokes the old pair at once.

    The old refresh token is an invalid_grant, the old access token a 401 in
    Web API's words (not left to live to its expiry); a refresh token is no
    bearer token.
    """
    await add_user(runtime, "ann")
    first = (
        await vao.post(
            "/api/token",
            data={"grant_type": "password", "username": "ann", "password": PASSWORD},
        )
    ).json()

    refreshed = await vao.post(
        "/api/token",
        json={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    reused = await vao.post(
        "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    as_bearer = await vao.get(
        PLANS, headers={"Authorization": f"Bearer {first['refresh_token']}"}
    )
    old_access = await vao.get(
        PLANS, headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    new_access = await vao.get(
        PLANS,
        headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
    )

    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != first["access_token"]
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token is unknown, expired or revoked",
    }
    assert as_bearer.status_code == 401
    assert (old_access.status_code, old_access.json()) == (401, {"Message": DENIED})
    assert old_access.headers["www-authenticate"] == 'Bearer realm="VAO"'
    assert new_access.status_code == 200


async def test_repeated_wrong_passwords_are_limited_with_retry_after(
    runtime: Runtime, vao: httpx.AsyncClient
) -> None:
    """After five failures the endpoint answers 429 for a while."""
    await add_user(runtime, "ann")
    wrong = {"grant_type": "password", "username": "ann", "password": "nope"}
    for _ in range(5):
        await vao.post("/api/token", data=wrong)

    answer = await vao.post("/api/token", data={**wrong, "password": PASSWORD})

    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) > 0
    assert answer.json()["error"] == "invalid_grant"


async def test_logout_ends_the_bearer_token(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """After logout the token is refused."""
    out = await vao.post("/api/logout", headers=ann)
    after = await vao.get(PLANS, headers=ann)

    assert out.status_code == 200
    assert after.status_code == 401


async def test_logout_ends_the_refresh_token_too(
    runtime: Runtime, vao: httpx.AsyncClient
) -> None:
    """A refresh token used after its session's logout: 400 invalid_grant."""
    await add_user(runtime, "ann")
    pair = (
        await vao.post(
            "/api/token",
            data={"grant_type": "password", "username": "ann", "password": PASSWORD},
        )
    ).json()
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}

    out = await vao.post("/api/logout", headers=bearer)
    refreshed = await vao.post(
        "/api/token",
        data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]},
    )
    after = await vao.get(PLANS, headers=bearer)

    assert out.status_code == 200
    assert refreshed.status_code == 400
    assert refreshed.json() == {
        "error": "invalid_grant",
        "error_description": "The refresh token is unknown, expired or revoked",
    }
    assert refreshed.headers["cache-control"] == "no-store"
    assert (after.status_code, after.json()) == (401, {"Message": DENIED})


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer onw_unknown"}, {"Authorization": "Basic YTpi"}],
    ids=["none", "unknown", "basic"],
)
async def test_missing_or_bad_credentials_are_denied(
    vao: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """401 with Web API's message and a Bearer challenge."""
    answer = await vao.get(PLANS, headers=headers)

    assert answer.status_code == 401
    assert answer.json() == {"Message": DENIED}
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_a_role_too_low_or_missing_is_forbidden(
    runtime: Runtime, vao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A viewer reads but cannot continue; a user with no role reads nothing."""
    await add_user(runtime, "vic", role=Role.VIEWER)
    await add_user(runtime, "nob", role=None)
    vic, nob = await vao_token(vao, "vic"), await vao_token(vao, "nob")
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)

    read = await vao.get(PLANS, headers=vic)
    run = await vao.post(f"{PLANS}/{SEED_PLAN}/Restore", headers=vic)
    nothing = await vao.get(PLANS, headers=nob)

    assert read.status_code == 200
    assert run.status_code == 403
    assert nothing.status_code == 403
    assert run.json() == {
        "Message": "Authorization has been denied for this request: it needs the "
        "Plan Operator, Plan Author or Administrator role."
    }
    assert nothing.json() == {
        "Message": "Authorization has been denied for this request: "
        "the account has no role."
    }
