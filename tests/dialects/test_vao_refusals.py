"""The VAO v3 dialect refuses in the vendor's words: plan states, roles, properties."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from dialect_support import (
    DENIED,
    GATED,
    PLAN,
    PLANS,
    SEED_PLAN,
    SIMPLE,
    VAO_BASE,
    add_session,
    add_user,
    apply_as,
    continue_with,
    flaky_check,
    halted_seed_plan,
    invalid,
    newest_run,
    settle,
    vao_token,
)

from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime

REPLICA: Final = """
name: web-dr
kind: replica
procedures:
  failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: boot, action: noop}]}]
  failback:
    groups: [{name: vms, targets: [vm1], steps: [{name: back, action: noop}]}]
  undo_failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: undo, action: noop}]}]
"""
GATED_REPLICA: Final = """
name: slow-dr
kind: replica
procedures:
  failover:
    groups:
      - name: vms
        targets: [vm1]
        steps: [{name: ok, action: approval, with: {message: go}}]
  undo_failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: undo, action: noop}]}]
"""
#: a plan that needs a run parameter VAO cannot give
ASKS: Final = """
name: asks
params: {site: {type: string, required: true}}
groups: [{name: g, targets: [a], steps: [{name: one, action: noop}]}]
"""


def prepared_plan(marker: Path) -> str:
    """Return a plan whose plan-level step before its groups fails once: it halts."""
    return f"""
name: prepared
before: [{{name: prepare, action: shell, with: {{command: "{flaky_check(marker)}"}}}}]
groups: [{{name: g, targets: [a], steps: [{{name: one, action: noop}}]}}]
"""


@pytest.fixture
async def amy(runtime: Runtime, vao: httpx.AsyncClient) -> dict[str, str]:
    """Return the bearer header of amy, a plan author."""
    await add_user(runtime, "amy", role=Role.AUTHOR)
    return await vao_token(vao, "amy")


# --- refusals in the vendor's words ---------------------------------------------------


async def test_roles_are_named_as_the_vendor_names_them(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """An operator may not Disable: the refusal names VAO roles, not permissions."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(f"{PLAN}/Disable", headers=ann)

    assert answer.status_code == 403
    assert answer.json() == {
        "Message": f"{DENIED[:-1]}: it needs the Plan Author or Administrator role."
    }


async def test_restarting_a_halted_plan_is_refused_in_plan_words(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Restore of a HALTED plan: its state and what to do, no run id or status."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")

    answer = await vao.post(f"{PLAN}/Restore", headers=ann)

    assert answer.status_code == 409
    assert answer.json() == {
        "Message": "Cannot run Restore on plan 'web' in state HALTED: "
        "continue the plan, or halt it to end its run, first."
    }


async def test_a_vm_option_on_a_halt_outside_the_vm_groups_is_refused(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """A halt in a step before the groups goes on by the step options only."""
    await apply_as(runtime, prepared_plan(tmp_path / "marker"), SEED_PLAN)
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)

    refused = await continue_with(vao, ann, "RetryFailedVm")
    retried = await continue_with(vao, ann, "RetryFailedStep")
    await settle(runtime)

    assert refused.status_code == 409
    assert refused.json() == {
        "Message": "Cannot continue plan 'prepared' in state HALTED: it halted in "
        "a step outside its VM groups, which goes on only with RetryFailedStep or "
        "ProceedToNextStep."
    }
    assert retried.status_code == 200
    assert (await newest_run(runtime, "prepared")).status is RunStatus.SUCCEEDED


async def test_halting_a_plan_that_does_not_run_is_refused_by_its_state(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Halt before any run, and Halt of a plan halted already: 409 in plan words."""
    await apply_as(runtime, GATED, SEED_PLAN)
    early = await vao.post(f"{PLAN}/Halt", headers=ann)
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)
    await vao.post(f"{PLAN}/Halt", headers=ann)
    await settle(runtime)

    again = await vao.post(f"{PLAN}/Halt", headers=ann)

    assert early.status_code == 409
    assert early.json() == {
        "Message": "Cannot halt plan 'gated' in state READY: "
        "only a running or HALTED plan can be halted."
    }
    assert again.status_code == 409
    assert again.json() == {
        "Message": "Cannot halt plan 'gated' in state HALTED: "
        "it was halted by a user already."
    }


@pytest.mark.parametrize(
    ("plan", "operation", "body", "model_state"),
    [
        (
            SIMPLE,
            "Restore",
            {"protectStorageVolumes": True},
            {
                "protectStorageVolumes": [
                    "protectStorageVolumes applies to Failover only."
                ]
            },
        ),
        (
            REPLICA,
            "Failover",
            {"protectStorageVolumes": True},
            {
                "protectStorageVolumes": [
                    "The plan 'web-dr' has no steps that protect storage volumes."
                ]
            },
        ),
        (
            REPLICA,
            "Restore",
            None,
            {"planId": ["The plan 'web-dr' has no steps for Restore."]},
        ),
        (
            ASKS,
            "Restore",
            None,
            {
                "planId": [
                    "The plan 'asks' needs its parameter 'site', which VAO cannot give."
                ]
            },
        ),
    ],
    ids=[
        "protect-storage-after-a-restore",
        "no-steps-that-protect-storage",
        "no-steps-for-the-operation",
        "a-parameter-vao-cannot-give",
    ],
)
async def test_what_a_plan_cannot_take_is_named_by_its_property_or_plan_id(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    plan: str,
    operation: str,
    body: dict[str, Any] | None,
    model_state: dict[str, list[str]],
) -> None:
    """A 400 naming the property (or planId), never a procedure or a params.* path."""
    await apply_as(runtime, plan, SEED_PLAN)

    answer = await vao.post(f"{PLAN}/{operation}", headers=ann, json=body)

    assert answer.status_code == 400
    assert answer.json() == invalid(model_state)


# --- Halt, then Continue ------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "operation", "body", "message", "instead"),
    [
        (
            GATED,
            "Restore",
            None,
            "The plan 'gated' was halted by a user and cannot be continued: "
            "run it again (Restore).",
            "Restore",
        ),
        (
            GATED_REPLICA,
            "Failover",
            {},
            "The plan 'slow-dr' was halted by a user and cannot be "
            "continued: undo it (Undo).",
            "Undo",
        ),
    ],
    ids=["restore-runs-again", "failover-points-to-undo"],
)
async def test_continue_after_halt_says_the_plan_cannot_be_continued(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    plan: str,
    operation: str,
    body: dict[str, Any] | None,
    message: str,
    instead: str,
) -> None:
    """Halt cancels (Onward has no pause): Continue says so and what to do instead."""
    await apply_as(runtime, plan, SEED_PLAN)
    await vao.post(f"{PLAN}/{operation}", headers=ann, json=body)
    await settle(runtime)
    await vao.post(f"{PLAN}/Halt", headers=ann)
    await settle(runtime)

    answer = await continue_with(vao, ann, "RetryFailedStep")
    done_instead = await vao.post(f"{PLAN}/{instead}", headers=ann)

    assert answer.status_code == 409
    assert answer.json() == {"Message": message}
    assert done_instead.status_code == 200


# --- disabled plans -------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation", ["Restore", "Failover", "Undo", "FailbackToProduction"]
)
async def test_a_disabled_plan_refuses_every_start_in_vendor_words(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    amy: dict[str, str],
    operation: str,
) -> None:
    """Restore, Failover, Undo, FailbackToProduction of a disabled plan: 409."""
    await apply_as(runtime, REPLICA, SEED_PLAN)
    await vao.post(f"{PLAN}/Disable", headers=amy)

    answer = await vao.post(f"{PLAN}/{operation}", headers=ann, json={})

    assert answer.status_code == 409
    assert answer.json() == {
        "Message": f"Cannot run {operation} on plan 'web-dr': "
        "the plan is disabled; enable it first."
    }


async def test_a_disabled_plans_halted_run_can_still_be_continued(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    amy: dict[str, str],
    tmp_path: Path,
) -> None:
    """Disabling stops new runs only: the halted one goes on with Continue."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")
    disabled = await vao.post(f"{PLAN}/Disable", headers=amy)

    answer = await continue_with(vao, ann, "RetryFailedStep")
    await settle(runtime)

    assert disabled.status_code == 200
    assert answer.status_code == 200
    assert (await newest_run(runtime, "web")).status is RunStatus.SUCCEEDED


# --- the error table's examples, exactly ----------------------------------------------


async def test_a_missing_continue_option_is_the_documented_400(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """The table's example body, to the letter."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(f"{PLAN}/Continue", headers=ann, json={})

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {
            "executionContinueOptions": [
                "The executionContinueOptions field is required."
            ]
        }
    )


@pytest.mark.parametrize(
    ("form", "body"),
    [
        (
            {"grant_type": "password", "username": "ann", "password": "wrong"},
            {
                "error": "invalid_grant",
                "error_description": "The user name or password is incorrect.",
            },
        ),
        (
            {"grant_type": "password", "username": "ann"},
            {
                "error": "invalid_request",
                "error_description": "The password field is required",
            },
        ),
        (
            {"grant_type": "client_credentials"},
            {
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be password or refresh_token",
            },
        ),
    ],
    ids=["wrong-password", "missing-field", "unsupported-grant"],
)
async def test_token_failures_are_the_documented_oauth_errors(
    runtime: Runtime, vao: httpx.AsyncClient, form: dict[str, str], body: Any
) -> None:
    """Each token failure: 400 and its OAuth body, to the letter, never cached."""
    await add_user(runtime, "ann")

    answer = await vao.post("/api/token", data=form)

    assert answer.status_code == 400
    assert answer.json() == body
    assert answer.headers["cache-control"] == "no-store"


async def test_an_expired_access_token_is_denied(
    runtime: Runtime, vao: httpx.AsyncClient
) -> None:
    """A session past its expiry: 401, Web API's message, a Bearer challenge."""
    user = await add_user(runtime, "ann")
    await add_session(runtime, user, "onw_expired", age=timedelta(hours=2))

    answer = await vao.get(PLANS, headers={"Authorization": "Bearer onw_expired"})

    assert answer.status_code == 401
    assert answer.json() == {"Message": DENIED}
    assert answer.headers["www-authenticate"] == 'Bearer realm="VAO"'


async def test_unknown_plans_groups_and_vms_are_404s_naming_them(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """The documented 404 messages, with the GUID asked for."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)
    other = "00000000-0000-0000-0000-000000000001"
    group = (await vao.get(f"{PLAN}/Groups", headers=ann)).json()["data"][0]["id"]

    plan = await vao.get(f"{PLANS}/{other}", headers=ann)
    no_group = await vao.get(f"{PLAN}/Groups/{other}/Vms", headers=ann)
    no_vm = await vao.get(f"{PLAN}/Groups/{group}/Vms/{other}/Steps", headers=ann)

    assert (plan.status_code, plan.json()) == (
        404,
        {"Message": f"Plan not found: {other}"},
    )
    assert (no_group.status_code, no_group.json()) == (
        404,
        {"Message": f"VM group not found: {other}"},
    )
    assert (no_vm.status_code, no_vm.json()) == (
        404,
        {"Message": f"VM not found: {other}"},
    )


async def test_an_unknown_path_is_the_documented_404(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Web API's message, naming the URI asked for."""
    answer = await vao.get("/api/v3/Schedules", headers=ann)

    assert answer.status_code == 404
    assert answer.json() == {
        "Message": "No HTTP resource was found that matches the request URI "
        f"'{VAO_BASE}/api/v3/Schedules'."
    }


async def test_a_body_of_another_media_type_is_the_documented_415(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Web API's message, naming the media type sent."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Restore",
        headers={**ann, "Content-Type": "text/plain"},
        content=b"restore",
    )

    assert answer.status_code == 415
    assert answer.json() == {
        "Message": "The request entity's media type 'text/plain' is not supported "
        "for this resource."
    }


# --- resources VAO has and Onward does not serve --------------------------------------

#: the methods Web API routes; each gets the same 404 on a path no resource has
ROUTED: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def unserved_path(vao: httpx.AsyncClient, ann: dict[str, str], kind: str) -> str:
    """Return the path of a vendor resource Onward does not serve, real ids in it."""
    group = (await vao.get(f"{PLAN}/Groups", headers=ann)).json()["data"][0]["id"]
    step = (await vao.get(f"{PLAN}/Groups/{group}/Steps", headers=ann)).json()
    paths = {
        "schedule": f"{PLAN}/Schedule",
        "step-parameters": f"{PLAN}/Groups/{group}/Steps/{step['data'][0]['id']}"
        "/Parameters",
        "runtime-details": f"/api/v3/RuntimeDetails/Plans/{SEED_PLAN}",
    }
    return paths.get(kind, f"/api/v3/{kind}")


@pytest.mark.parametrize(
    "kind",
    [
        "schedule",
        "step-parameters",
        "runtime-details",
        "RecoveryLocations",
        "Scopes",
        "Clients",
        "LicenseUsage",
    ],
)
async def test_unserved_vendor_resources_are_web_apis_404_for_every_method(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], kind: str
) -> None:
    """No resource takes these paths: 404 whatever the method, token or not."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)
    path = await unserved_path(vao, ann, kind)
    body = {
        "Message": "No HTTP resource was found that matches the request URI "
        f"'{VAO_BASE}{path}'."
    }

    answers = {m: await vao.request(m, path, headers=ann) for m in ROUTED}
    anonymous = await vao.put(path, json={})
    head = await vao.head(path, headers=ann)

    statuses = {m: (a.status_code, a.json()) for m, a in answers.items()}
    assert statuses == dict.fromkeys(ROUTED, (404, body))
    assert (anonymous.status_code, anonymous.json()) == (404, body)
    assert (head.status_code, head.content) == (404, b"")
    assert "allow" not in answers["GET"].headers


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FROB"])
async def test_any_other_method_on_an_unserved_resource_is_web_apis_404(
    vao: httpx.AsyncClient, ann: dict[str, str], method: str
) -> None:
    """Beyond the seven methods Web API routes: the same 404, never Onward's 405."""
    answer = await vao.request(method, "/api/v3/Clients", headers=ann)

    assert (answer.status_code, answer.json()) == (
        404,
        {
            "Message": "No HTTP resource was found that matches the request URI "
            f"'{VAO_BASE}/api/v3/Clients'."
        },
    )
    assert answer.headers["content-type"].startswith("application/json")
