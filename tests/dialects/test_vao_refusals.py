"""The VAO v3 dialect refuses in the vendor's words: plan states, roles, properties."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from veeam_support import (
    add_user,
    apply_as,
    cheap_hashes,
    flaky_check,
    make_runtime,
    settle,
    vao_client,
    vao_halting_plan,
    vao_token,
)

from onward.domain.access import Credential, CredentialKind, Role
from onward.domain.runs import RunStatus
from onward.ids import new_id
from onward.runtime import Runtime
from onward.service.auth import hash_secret
from onward.service.plan_status import latest_run

SEED_PLAN: Final = "b8517d70-028d-4740-a130-787e164a3d83"
BASE: Final = "https://vao.example:9898"
PLANS: Final = "/api/v3/Plans"
PLAN: Final = f"{PLANS}/{SEED_PLAN}"
INVALID: Final = "The request is invalid."
DENIED: Final = "Authorization has been denied for this request."

GATED: Final = """
name: gated
groups:
  - name: g
    targets: [a]
    steps: [{name: ok, action: approval, with: {message: go}}]
"""
SIMPLE: Final = """
name: web
groups: [{name: g, targets: [a], steps: [{name: one, action: noop}]}]
"""
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


def prepared_plan(marker: Path) -> str:
    """Return a plan whose plan-level step before its groups fails once: it halts."""
    return f"""
name: prepared
before: [{{name: prepare, action: shell, with: {{command: "{flaky_check(marker)}"}}}}]
groups: [{{name: g, targets: [a], steps: [{{name: one, action: noop}}]}}]
"""


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash passwords quickly."""
    cheap_hashes(monkeypatch)


@pytest.fixture
def runtime() -> Runtime:
    """Return a runtime that executes steps here."""
    return make_runtime()


@pytest.fixture
async def vao(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of the started app, as a VAO client reaches it."""
    async with vao_client(runtime, BASE) as http:
        yield http


@pytest.fixture
async def ann(runtime: Runtime, vao: httpx.AsyncClient) -> dict[str, str]:
    """Return the bearer header of ann, an operator."""
    await add_user(runtime, "ann", role=Role.OPERATOR)
    return await vao_token(vao, "ann")


@pytest.fixture
async def amy(runtime: Runtime, vao: httpx.AsyncClient) -> dict[str, str]:
    """Return the bearer header of amy, a plan author."""
    await add_user(runtime, "amy", role=Role.AUTHOR)
    return await vao_token(vao, "amy")


def invalid(model_state: dict[str, list[str]]) -> dict[str, Any]:
    """Return Web API's body of an invalid request with this ModelState."""
    return {"Message": INVALID, "ModelState": model_state}


async def continue_with(
    vao: httpx.AsyncClient, auth: dict[str, str], option: str, path: str = PLAN
) -> httpx.Response:
    """POST Continue with a continue option."""
    return await vao.post(
        f"{path}/Continue", headers=auth, json={"executionContinueOptions": option}
    )


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
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)

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
    run = await latest_run(runtime.store, workspace="default", plan="prepared")
    assert run is not None
    assert run.status is RunStatus.SUCCEEDED


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


async def test_protecting_storage_after_a_restore_is_refused_by_its_property(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """protectStorageVolumes on Restore: ModelState names the property."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Restore", headers=ann, json={"protectStorageVolumes": True}
    )

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {"protectStorageVolumes": ["protectStorageVolumes applies to Failover only."]}
    )


async def test_a_plan_without_protect_steps_refuses_protecting_storage(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Failover with protectStorageVolumes of a plan that cannot: its property."""
    await apply_as(runtime, REPLICA, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Failover", headers=ann, json={"protectStorageVolumes": True}
    )

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {
            "protectStorageVolumes": [
                "The plan 'web-dr' has no steps that protect storage volumes."
            ]
        }
    )


async def test_a_plan_that_cannot_take_the_operation_is_named_by_its_id(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Restore of a replica plan without restore steps: planId, not procedure."""
    await apply_as(runtime, REPLICA, SEED_PLAN)

    answer = await vao.post(f"{PLAN}/Restore", headers=ann)

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {"planId": ["The plan 'web-dr' has no steps for Restore."]}
    )


async def test_a_parameter_vao_cannot_give_is_named_not_its_path(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """A plan that needs a run parameter: the plan refuses, no params.* key."""
    await apply_as(
        runtime,
        "name: asks\nparams: {site: {type: string, required: true}}\n"
        "groups: [{name: g, targets: [a], steps: [{name: one, action: noop}]}]\n",
        SEED_PLAN,
    )

    answer = await vao.post(f"{PLAN}/Restore", headers=ann)

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {
            "planId": [
                "The plan 'asks' needs its parameter 'site', which VAO cannot give."
            ]
        }
    )


# --- Halt, then Continue ------------------------------------------------------------


async def test_continue_after_halt_says_the_plan_cannot_be_continued(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Halt cancels (Onward has no pause): Continue says so and what to do instead."""
    await apply_as(runtime, GATED, SEED_PLAN)
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)
    await vao.post(f"{PLAN}/Halt", headers=ann)
    await settle(runtime)

    answer = await continue_with(vao, ann, "RetryFailedStep")
    again = await vao.post(f"{PLAN}/Restore", headers=ann)

    assert answer.status_code == 409
    assert answer.json() == {
        "Message": "The plan 'gated' was halted by a user and cannot be continued: "
        "run it again (Restore)."
    }
    assert again.status_code == 200


async def test_continue_after_halting_a_failover_points_to_undo(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """A halted-by-user failover allows only Undo, and Continue says so."""
    await apply_as(runtime, GATED_REPLICA, SEED_PLAN)
    await vao.post(f"{PLAN}/Failover", headers=ann, json={})
    await settle(runtime)
    await vao.post(f"{PLAN}/Halt", headers=ann)
    await settle(runtime)

    answer = await continue_with(vao, ann, "RetryFailedStep")
    undone = await vao.post(f"{PLAN}/Undo", headers=ann)

    assert answer.status_code == 409
    assert answer.json() == {
        "Message": "The plan 'slow-dr' was halted by a user and cannot be "
        "continued: undo it (Undo)."
    }
    assert undone.status_code == 200


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
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    await vao.post(f"{PLAN}/Restore", headers=ann)
    await settle(runtime)
    disabled = await vao.post(f"{PLAN}/Disable", headers=amy)

    answer = await continue_with(vao, ann, "RetryFailedStep")
    await settle(runtime)

    assert disabled.status_code == 200
    assert answer.status_code == 200
    run = await latest_run(runtime.store, workspace="default", plan="web")
    assert run is not None
    assert run.status is RunStatus.SUCCEEDED


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
    now = runtime.engine.clock.now()
    await runtime.store.add_credential(
        Credential(
            credential_id=new_id("ses"),
            kind=CredentialKind.SESSION,
            user_id=user.user_id,
            secret_hash=hash_secret("onw_expired"),
            created_at=now - timedelta(hours=2),
            expires_at=now - timedelta(hours=1),
        )
    )

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
        {"Message": f"Group not found: {other}"},
    )
    assert (no_vm.status_code, no_vm.json()) == (
        404,
        {"Message": f"Target not found: {other}"},
    )


async def test_an_unknown_path_is_the_documented_404(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Web API's message, naming the URI asked for."""
    answer = await vao.get("/api/v3/Schedules", headers=ann)

    assert answer.status_code == 404
    assert answer.json() == {
        "Message": "No HTTP resource was found that matches the request URI "
        f"'{BASE}/api/v3/Schedules'."
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
