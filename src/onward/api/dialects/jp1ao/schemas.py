"""
JP1/AO wire shapes: tasks (Onward runs), action descriptors, invoke results.

A JP1/AO task is an Onward run of the dialect's workspace; its ``instanceID``
is the number the store gave the run (``onward.service.numbers``), its service
the run's plan, whose ``serviceID`` is the plan's number.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from onward.domain.runs import RunStatus, Trigger
from onward.service.numbers import NumberedRun
from onward.service.run_control import RunControl

#: the Onward workspace the dialect serves (JP1/AO paths name none)
WORKSPACE: Final = "default"
#: JP1/AO's part of a server's paths, and the API version the dialect speaks
ROOT: Final = "/Automation"
PREFIX: Final = f"{ROOT}/v1"
TASKS: Final = f"{PREFIX}/objects/Tasks"

#: JP1/AO task status of each run status
TASK_STATUS: Final[Mapping[RunStatus, str]] = {
    RunStatus.PENDING: "waiting",
    RunStatus.RUNNING: "inProgress",
    RunStatus.WAITING: "waitingForResponse",
    # a halted run waits for a retry, as a failed JP1/AO task does
    RunStatus.HALTED: "failed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLING: "stopping",
    RunStatus.SUCCEEDED: "completed",
    RunStatus.CANCELLED: "canceled",
}

#: JP1/AO task actions and the Onward controls they carry out
ACTIONS: Final[Mapping[str, RunControl]] = {
    "stop": RunControl.CANCEL,
    "forceStop": RunControl.FORCE_CANCEL,
    "rerunStart": RunControl.RETRY_FAILED_STEP,
    "rerunStepStart": RunControl.SKIP_FAILED_STEP,
}
_ACTION_OF: Final = {control: name for name, control in ACTIONS.items()}


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True)


class ActionDescriptor(_Wire):
    """What a client posts back to ``.../actions/{name}/invoke``."""

    name: str
    href: str
    method: str
    parameters: list[Any] | None = None


class ActionList(_Wire):
    """The actions a task allows now."""

    data: list[ActionDescriptor]
    count: int


class InvokeResult(_Wire):
    """The answer of an invoked action."""

    instance_id: str = Field(alias="instanceId")
    created: str
    updated: str
    completed: str
    state: str
    affected_resources: list[str] = Field(alias="affectedResources")
    result: list[Any] = Field(default_factory=list)


def iso(moment: datetime | None) -> str | None:
    """Return JP1/AO's ISO 8601 form of a time (milliseconds, offset)."""
    return moment.isoformat(timespec="milliseconds") if moment else None


def member_values(task: NumberedRun) -> dict[str, Any]:
    """Return the task's members as values (times as datetimes), by JP1/AO name."""
    run = task.run
    updated = run.updated_at or run.created_at
    return {
        "instanceID": task.number,
        "name": f"{run.plan_name}_{run.created_at:%Y%m%d%H%M%S}",
        "status": TASK_STATUS[run.status],
        "startTime": run.started_at,
        "completionTime": run.finished_at,
        "scheduledStartTime": None,
        "submitter": run.triggered_by,
        "submitTime": run.created_at,
        "modifyTime": updated,
        "serviceState": "release",
        "scheduleType": "recurrence" if run.trigger is Trigger.TIMER else "immediate",
        "description": "",
        "serviceName": run.plan_name,
        "tags": "",
        "serviceGroupName": run.workspace,
        "toDo": run.status in (RunStatus.HALTED, RunStatus.WAITING),
        "notes": "",
        "serviceID": task.plan_number,
    }


#: every member of a task, in JP1/AO's order
TASK_MEMBERS: Final = (
    "instanceID",
    "name",
    "status",
    "startTime",
    "completionTime",
    "scheduledStartTime",
    "submitter",
    "submitTime",
    "modifyTime",
    "serviceState",
    "scheduleType",
    "description",
    "serviceName",
    "tags",
    "serviceGroupName",
    "toDo",
    "notes",
    "serviceID",
)


def task_body(task: NumberedRun, fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the task's JSON object (only ``fields`` if named)."""
    body = {
        name: iso(value) if isinstance(value, datetime) else value
        for name, value in member_values(task).items()
    }
    if fields:
        return {name: body[name] for name in fields}
    return body


def task_url(base_url: str, task: NumberedRun) -> str:
    """Return the URL of a task."""
    return f"{base_url}{TASKS}/{task.number}"


def descriptor(base_url: str, task: NumberedRun, name: str) -> ActionDescriptor:
    """Return the descriptor of a task action."""
    return ActionDescriptor(
        name=name,
        href=f"{task_url(base_url, task)}/actions/{name}/invoke",
        method="POST",
        parameters=[],
    )


def action_names(controls: tuple[RunControl, ...]) -> tuple[str, ...]:
    """Return the JP1/AO actions of the Onward controls."""
    return tuple(_ACTION_OF[control] for control in controls)
