"""PlanSwitches: plans disabled and enabled again, by name or UUID; what they refuse."""

from __future__ import annotations

import pytest
from plan_drive import REPLICA, WEB, open_runtime
from structlog.testing import capture_logs

from onward import errors
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.plan_status import PlanStatuses
from onward.service.plan_switches import PlanSwitches
from onward.service.plan_uuids import plan_uuid

AMY = Caller(actor="amy", reason="CHG-7 freeze")
EVENT_PLAN = (
    "name: responder\n"
    "groups: [{name: g, targets: [t], steps: [{name: s, action: noop}]}]\n"
    "triggers: [{name: alerts, type: event, dataclass: alert}]\n"
)


def switches_of(runtime: Runtime) -> PlanSwitches:
    """Return the service under test, over the runtime's store and clock."""
    return PlanSwitches(store=runtime.store, clock=runtime.engine.clock)


def switch_events(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    """Return the captured ``plan.enabled`` and ``plan.disabled`` events."""
    return [e for e in logs if e["event"] in ("plan.enabled", "plan.disabled")]


async def test_a_disabled_plan_starts_no_run_and_the_change_is_logged() -> None:
    """Disabling refuses starts, saying how to enable; who, when and why are logged."""
    runtime = await open_runtime(WEB)
    switches = switches_of(runtime)
    with capture_logs() as logs:
        disabled = await switches.set_plan_enabled("web", enabled=False, caller=AMY)
    with pytest.raises(errors.InvalidTransitionError) as refused:
        await runtime.commands.start_run("web")

    assert disabled.enabled is False
    assert disabled.latest.name == "web"
    assert refused.value.state == "disabled"
    assert "onward plan enable web" in refused.value.message
    assert "POST /api/v1/workspaces/default/plans/web/enable" in refused.value.message
    assert switch_events(logs) == [
        {
            "event": "plan.disabled",
            "log_level": "info",
            "workspace": "default",
            "plan": "web",
            "plan_id": disabled.summary.plan_id,
            "actor": "amy",
            "reason": "CHG-7 freeze",
            "at": runtime.engine.clock.now().isoformat(),
        }
    ]


async def test_setting_the_switch_to_what_it_is_changes_and_logs_nothing() -> None:
    """Enabling an enabled plan and disabling a disabled one are no errors."""
    runtime = await open_runtime(WEB)
    switches = switches_of(runtime)
    with capture_logs() as logs:
        still = await switches.set_plan_enabled("web", enabled=True, caller=AMY)
        await switches.set_plan_enabled("web", enabled=False, caller=AMY)
        again = await switches.set_plan_enabled("web", enabled=False, caller=AMY)
        back = await switches.set_plan_enabled("web", enabled=True, caller=AMY)
    run = await runtime.commands.start_run("web")

    assert (still.enabled, again.enabled, back.enabled) == (True, False, True)
    assert [e["event"] for e in switch_events(logs)] == [
        "plan.disabled",
        "plan.enabled",
    ]
    assert run.plan_name == "web"


async def test_an_unknown_plan_or_one_of_another_workspace_is_not_found() -> None:
    """A plan is switched in the caller's workspace only."""
    runtime = await open_runtime(WEB)
    switches = switches_of(runtime)

    with pytest.raises(errors.PlanNotFoundError):
        await switches.set_plan_enabled("nope", enabled=False, caller=AMY)
    with pytest.raises(errors.PlanNotFoundError):
        await switches.set_plan_enabled(
            "web", enabled=False, caller=Caller(workspace="other")
        )
    assert (await switches.current("default", "web")).enabled is True


async def test_a_plan_is_switched_by_its_uuid() -> None:
    """By UUID (as the dialects name plans) the switch moves, and statuses see it."""
    runtime = await open_runtime(WEB, REPLICA)
    switches = switches_of(runtime)
    summary = await runtime.store.get_plan_summary(workspace="default", name="web-dr")
    uid = plan_uuid(summary.plan_id)
    with capture_logs() as logs:
        off = await switches.set_plan_enabled_by_uuid(uid, enabled=False, caller=AMY)
        on = await switches.set_plan_enabled_by_uuid(uid, enabled=True, caller=AMY)
    status = await PlanStatuses(engine=runtime.engine).get("default", uid)

    assert off.summary.name == "web-dr"
    assert off.summary.enabled is False
    assert on.summary.enabled is True
    assert status.summary.enabled is True
    assert [e["event"] for e in switch_events(logs)] == [
        "plan.disabled",
        "plan.enabled",
    ]
    assert (await switches.current("default", "web")).enabled is True


async def test_a_refusal_in_another_workspace_names_it() -> None:
    """The way to enable a plan names its workspace when it is not the default."""
    runtime = await open_runtime()
    ops = Caller(actor="amy", workspace="ops")
    await runtime.commands.apply_plan(WEB, caller=ops)
    await switches_of(runtime).set_plan_enabled("web", enabled=False, caller=ops)

    with pytest.raises(errors.InvalidTransitionError) as refused:
        await runtime.commands.start_run("web", caller=ops)

    assert "`onward --workspace ops plan enable web`" in refused.value.message
    assert "/api/v1/workspaces/ops/plans/web/enable" in refused.value.message


async def test_a_disabled_plan_s_event_trigger_starts_nothing() -> None:
    """A matching event starts no run of a disabled plan, and does once enabled."""
    runtime = await open_runtime(EVENT_PLAN)
    switches = switches_of(runtime)
    await switches.set_plan_enabled("responder", enabled=False, caller=AMY)
    _, quiet = await runtime.triggers.post_event(
        workspace="default", dataclass="alert", content={}, actor="a"
    )
    await switches.set_plan_enabled("responder", enabled=True, caller=AMY)
    _, started = await runtime.triggers.post_event(
        workspace="default", dataclass="alert", content={}, actor="a"
    )

    assert quiet == []
    assert [run.plan_name for run in started] == ["responder"]
