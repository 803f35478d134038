"""
VAO v3 plan routes under ``/api/v3``: plans, groups, VMs, steps and operations.

Reading needs the read permission; Halt, Continue, Failover, Restore, Undo and
FailbackToProduction the operate permission; Enable and Disable the author
permission. A plan's groups, VMs and steps are those of its main procedure (see
``service.plan_status``). The operations answer 200 without a body, as the
vendor does; the run they start or steer shows in the plan's state, and their
refusals are worded by ``refusals``. Halt cancels the plan's newest run
gracefully (Onward has no pause: a halted-by-operator plan cannot be
continued, only run again or undone).
"""

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onward.api.dialects.vao import render
from onward.api.dialects.vao.deps import (
    Author,
    GroupId,
    Limit,
    OnlyEnabled,
    Operator,
    PlanId,
    Reader,
    ServicesDep,
    Start,
    VaoServices,
    VmId,
)
from onward.api.dialects.vao.errors import VaoRequestError
from onward.api.dialects.vao.refusals import Operation, vendor_words
from onward.api.dialects.vao.routing import VaoRoute
from onward.api.dialects.vao.schemas import (
    PREFIX,
    ContinueIn,
    FailbackIn,
    FailoverIn,
    HaltIn,
    RestoreIn,
    parse_body,
)
from onward.service.commands import Caller, RecoveryOptions

router = APIRouter(route_class=VaoRoute, include_in_schema=False)

PLAN: Final = f"{PREFIX}/Plans/{{planId}}"
GROUP: Final = f"{PLAN}/Groups/{{groupId}}"

#: plan operations of the vendor that Onward does not provide (501), and why
UNSUPPORTED: Final = {
    "ReadinessCheck": "Onward has no readiness check.",
    "ResetState": "Onward keeps every run; a plan's state follows its runs.",
    "CommitFailback": "An Onward failback is final once it succeeds.",
    "PrepareFailback": "Onward fails back in one procedure (FailbackToProduction).",
    "UndoFailback": "Onward has no undo of a failback.",
    "PermanentFailover": "Onward has no permanent failover.",
    "SwitchoverToProduction": "Onward has no switchover.",
    "Clone": "Plans are edited through Onward's own API.",
}


@router.get(f"{PREFIX}/Plans")
async def list_plans(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    start: Start,
    limit: Limit,
    only_enabled: OnlyEnabled,
) -> Response:
    """Return the plans (only the enabled ones with onlyEnabled=true)."""
    statuses, total = await services.statuses.list_statuses(
        caller.workspace, offset=start, limit=limit, only_enabled=only_enabled
    )
    body = render.page(
        [render.plan_info(s) for s in statuses], total=total, start=start, limit=limit
    )
    return render.respond(
        request, "RecoveryPlanInfoPage", body, item="RecoveryPlanInfo"
    )


@router.get(PLAN)
async def get_plan(
    request: Request, caller: Reader, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Return one plan."""
    status = await services.statuses.get(caller.workspace, plan_id)
    return render.respond(request, "RecoveryPlanInfo", render.plan_info(status))


@router.get(f"{PLAN}/Groups")
async def list_groups(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    plan_id: PlanId,
    start: Start,
    limit: Limit,
) -> Response:
    """Return the plan's VM groups."""
    status = await services.statuses.get(caller.workspace, plan_id)
    groups = [render.group_info(status, group) for group in status.procedure.groups]
    body = render.slice_page(groups, start=start, limit=limit)
    return render.respond(
        request, "RecoveryGroupInfoPage", body, item="RecoveryGroupInfo"
    )


@router.get(f"{GROUP}/Vms")
async def list_vms(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    plan_id: PlanId,
    group_id: GroupId,
    start: Start,
    limit: Limit,
) -> Response:
    """Return the VMs (targets) of a group."""
    status, group = await services.statuses.get_group(
        caller.workspace, plan_id, group_id
    )
    vms = [render.vm_info(status, group, target) for target in group.targets]
    body = render.slice_page(vms, start=start, limit=limit)
    return render.respond(request, "RecoveryVmInfoPage", body, item="RecoveryVmInfo")


@router.get(f"{GROUP}/Steps")
async def list_group_steps(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    plan_id: PlanId,
    group_id: GroupId,
    start: Start,
    limit: Limit,
) -> Response:
    """Return the steps of a group."""
    status, group = await services.statuses.get_group(
        caller.workspace, plan_id, group_id
    )
    steps = [render.step_info(status, group, step) for step in group.steps]
    body = render.slice_page(steps, start=start, limit=limit)
    return render.respond(
        request, "RecoveryStepInfoPage", body, item="RecoveryStepInfo"
    )


@router.get(f"{GROUP}/Vms/{{vmId}}/Steps")
async def list_group_vm_steps(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    plan_id: PlanId,
    group_id: GroupId,
    vm_id: VmId,
    start: Start,
    limit: Limit,
) -> Response:
    """Return the steps a VM of a group goes through."""
    status, group, target = await services.statuses.get_target(
        caller.workspace, plan_id, vm_id, group=group_id
    )
    steps = [render.step_info(status, group, step, target) for step in group.steps]
    body = render.slice_page(steps, start=start, limit=limit)
    return render.respond(
        request, "RecoveryStepInfoPage", body, item="RecoveryStepInfo"
    )


@router.get(f"{PLAN}/Vms/{{vmId}}/Steps")
async def list_vm_steps(
    request: Request,
    caller: Reader,
    services: ServicesDep,
    plan_id: PlanId,
    vm_id: VmId,
    start: Start,
    limit: Limit,
) -> Response:
    """Return the steps a VM of the plan goes through (whatever its group)."""
    status, group, target = await services.statuses.get_target(
        caller.workspace, plan_id, vm_id
    )
    steps = [render.step_info(status, group, step, target) for step in group.steps]
    body = render.slice_page(steps, start=start, limit=limit)
    return render.respond(
        request, "RecoveryStepInfoPage", body, item="RecoveryStepInfo"
    )


@router.post(f"{PLAN}/Enable")
async def enable_plan(
    caller: Author, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Enable a plan: it may start runs again."""
    await services.switches.set_plan_enabled_by_uuid(
        plan_id, enabled=True, caller=caller
    )
    return render.empty()


@router.post(f"{PLAN}/Disable")
async def disable_plan(
    caller: Author, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Disable a plan: it starts no run (manual, triggered or chained) until enabled."""
    await services.switches.set_plan_enabled_by_uuid(
        plan_id, enabled=False, caller=caller
    )
    return render.empty()


@router.post(f"{PLAN}/Halt")
async def halt_plan(
    request: Request, caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Halt a plan: cancel its newest run gracefully (running steps finish)."""
    parse_body(HaltIn, await request.body(), _type(request), required=False)
    async with _refused(services, caller, plan_id, Operation.HALT):
        await services.runs.cancel_newest(caller, plan_id)
    return render.empty()


@router.post(f"{PLAN}/Continue")
async def continue_plan(
    request: Request, caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Continue a HALTED plan by one of the six options."""
    body = parse_body(ContinueIn, await request.body(), _type(request), required=True)
    option = body.option()
    async with _refused(services, caller, plan_id, Operation.CONTINUE):
        await services.runs.continue_newest(caller, plan_id, option)
    return render.empty()


@router.post(f"{PLAN}/Failover")
async def failover_plan(
    request: Request, caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Run the failover procedure of a replica or storage plan."""
    body = parse_body(FailoverIn, await request.body(), _type(request), required=False)
    point = body.restore_point_date
    async with _refused(services, caller, plan_id, Operation.FAILOVER):
        await services.runs.start(
            caller,
            plan_id,
            procedure="failover",
            chain=body.execute_chained_plans,
            recovery=RecoveryOptions(
                restore_point=point.isoformat() if point is not None else None,
                protect_after=body.protect_storage_volumes,
            ),
        )
    return render.empty()


@router.post(f"{PLAN}/Restore")
async def restore_plan(
    request: Request, caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Run the plan's ``run`` procedure (a restore date is its restore_point param)."""
    body = parse_body(RestoreIn, await request.body(), _type(request), required=False)
    point = body.restore_point_date
    async with _refused(services, caller, plan_id, Operation.RESTORE):
        await services.runs.start(
            caller,
            plan_id,
            params={"restore_point": point.isoformat()} if point is not None else None,
            chain=body.execute_chained_plans,
        )
    return render.empty()


@router.post(f"{PLAN}/Undo")
async def undo_plan(
    caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Run the undo_failover procedure of a replica or storage plan."""
    async with _refused(services, caller, plan_id, Operation.UNDO):
        await services.runs.start(caller, plan_id, procedure="undo_failover")
    return render.empty()


@router.post(f"{PLAN}/FailbackToProduction")
async def failback_plan(
    request: Request, caller: Operator, services: ServicesDep, plan_id: PlanId
) -> Response:
    """Run the failback procedure (its restore location is the procedure's own)."""
    parse_body(FailbackIn, await request.body(), _type(request), required=False)
    async with _refused(services, caller, plan_id, Operation.FAILBACK):
        await services.runs.start(caller, plan_id, procedure="failback")
    return render.empty()


def _unsupported(operation: str, reason: str) -> Callable[..., Awaitable[Response]]:
    async def refuse(
        caller: Operator, services: ServicesDep, plan_id: PlanId
    ) -> Response:
        await services.statuses.get(caller.workspace, plan_id)
        msg = f"The operation '{operation}' is not supported: {reason}"
        raise VaoRequestError(501, msg)

    refuse.__doc__ = f"Refuse {operation}: {reason}"
    return refuse


for _operation, _reason in UNSUPPORTED.items():
    router.add_api_route(
        f"{PLAN}/{_operation}", _unsupported(_operation, _reason), methods=["POST"]
    )


def _refused(
    services: VaoServices, caller: Caller, plan_id: uuid.UUID, operation: Operation
) -> AbstractAsyncContextManager[None]:
    return vendor_words(
        services.statuses, workspace=caller.workspace, plan=plan_id, operation=operation
    )


def _type(request: Request) -> str | None:
    return request.headers.get("content-type")
