"""
SecMaster wire shapes: playbook instances (Onward runs), the list and its filters.

A playbook instance is an Onward run of the workspace named by ``workspace_id``;
its playbook is the run's plan (version ``v<n>``), its data class and data
object those of the data object that started it (event runs only).
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from onward.api.dialects.secmaster.errors import refuse
from onward.domain.runs import Run, RunStatus, Trigger
from onward.domain.triggers import DataObject
from onward.service.ports import RunFilter
from onward.service.run_control import RunControl
from onward.service.run_scans import RunTest

PREFIX: Final = "/v1/{project_id}/workspaces/{workspace_id}/soc/playbooks/instances"

#: SecMaster status of each run status (a running retried run is RETRYING)
INSTANCE_STATUS: Final[Mapping[RunStatus, str]] = {
    RunStatus.PENDING: "RUNNING",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.WAITING: "RUNNING",
    RunStatus.HALTED: "FAILED",
    RunStatus.FAILED: "FAILED",
    RunStatus.SUCCEEDED: "FINISHED",
    RunStatus.CANCELLING: "TERMINATING",
    RunStatus.CANCELLED: "TERMINATED",
}
STATUSES: Final = (
    "RUNNING",
    "FINISHED",
    "FAILED",
    "RETRYING",
    "TERMINATING",
    "TERMINATED",
)
TRIGGER_TYPES: Final[Mapping[Trigger, str]] = {
    Trigger.TIMER: "TIMER",
    Trigger.EVENT: "EVENT",
    Trigger.MANUAL: "MANUAL",
    Trigger.CHAIN: "CHAIN",
}
#: the operations of ``.../operation`` and the Onward controls they carry out
OPERATIONS: Final[Mapping[str, RunControl]] = {
    "RETRY": RunControl.RETRY_FAILED_STEP,
    "TERMINATE": RunControl.CANCEL,
}
#: limit + offset may not pass this
MAX_WINDOW: Final = 10_000
_TIME: Final = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?P<z>Z)?(?P<offset>[+-]\d{2}:?\d{2})?$"
)


def status_of(run: Run) -> str:
    """Return the SecMaster status of a run."""
    status = INSTANCE_STATUS[run.status]
    return "RETRYING" if status == "RUNNING" and run.run_attempt > 1 else status


def wire_time(moment: datetime | None) -> str | None:
    """Return a time as SecMaster writes it (``2021-01-30T23:00:00Z+0000``)."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z+0000" if moment else None


def parse_time(name: str, text: str) -> datetime:
    """Return a query time: ISO 8601, or SecMaster's ``...T23:00:00Z+0800``."""
    found = _TIME.match(text.strip())
    if found is None:
        refuse(f"{name} is not a time such as 2021-01-30T23:00:00Z+0800")
    moment = datetime.fromisoformat(found["time"])
    offset = found["offset"]
    if offset is None:
        return moment.replace(tzinfo=UTC)
    sign = -1 if offset.startswith("-") else 1
    digits = offset[1:].replace(":", "")
    shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=timezone(sign * shift))


def instance_name(run: Run) -> str:
    """Return a playbook instance's name: its plan and creation time."""
    return f"{run.plan_name}_{run.created_at:%Y%m%d%H%M%S}"


def object_name(source: DataObject) -> str:
    """Return a data object's name: its content's ``name`` string, else its id."""
    name = source.content.get("name")
    return name if isinstance(name, str) else source.object_id


def instance_body(
    run: Run, source: DataObject | None, project_id: str
) -> dict[str, Any]:
    """Return the playbook instance of a run."""
    return {
        "id": run.run_id,
        "name": instance_name(run),
        "project_id": project_id,
        "playbook": {
            "id": run.plan_id,
            "version_id": f"{run.plan_id}-v{run.plan_version}",
            "name": run.plan_name,
            "version": f"v{run.plan_version}",
        },
        "dataclass": (
            {"id": source.dataclass, "name": source.dataclass} if source else None
        ),
        "dataobject": _data_object(source, project_id) if source else None,
        "status": status_of(run),
        "trigger_type": TRIGGER_TYPES[run.trigger],
        "start_time": wire_time(run.created_at),
        "end_time": wire_time(run.finished_at or run.started_at or run.created_at),
    }


def _data_object(source: DataObject, project_id: str) -> dict[str, Any]:
    created = wire_time(source.created_at)
    return {
        "id": source.object_id,
        "name": object_name(source),
        "create_time": created,
        "update_time": created,
        "project_id": project_id,
        "dataclass_id": source.dataclass,
        "content": json.dumps(dict(source.content), sort_keys=True),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceQuery:
    """A list request in Onward's terms."""

    run_filter: RunFilter
    keep: RunTest
    offset: int
    limit: int


def parse_list_query(workspace: str, params: Mapping[str, str]) -> InstanceQuery:
    """Return the list request of SecMaster's query parameters; raise a 400."""
    limit = _whole(params, "limit", minimum=1)
    offset = _whole(params, "offset", minimum=0)
    if limit + offset > MAX_WINDOW:
        refuse(f"limit + offset must not pass {MAX_WINDOW}")
    status = _choice(params, "status", STATUSES)
    trigger = _choice(params, "trigger_type", ("TIMER", "EVENT"))
    date_type = _choice(params, "date_type", ("START", "END")) or "START"
    since = (
        parse_time("from_date", params["from_date"]) if "from_date" in params else None
    )
    until = parse_time("to_date", params["to_date"]) if "to_date" in params else None
    statuses = tuple(s for s, name in INSTANCE_STATUS.items() if name == status)
    if status == "RETRYING":
        statuses = tuple(s for s, name in INSTANCE_STATUS.items() if name == "RUNNING")
    starts = date_type == "START"
    run_filter = RunFilter(
        workspace=workspace,
        plan_name=params.get("playbook_name") or None,
        statuses=statuses,
        created_after=since if starts else None,
        # to_date is inclusive
        created_before=until + timedelta(microseconds=1) if starts and until else None,
    )
    wanted = _Wanted(
        status=status,
        name=params.get("name") or None,
        trigger=trigger,
        dataclass=params.get("dataclass_name") or None,
        dataobject=params.get("dataobject_name") or None,
        ended_since=None if starts else since,
        ended_until=None if starts else until,
    )
    return InstanceQuery(
        run_filter=run_filter, keep=wanted.keep, offset=offset, limit=limit
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Wanted:
    """The filters the store cannot apply."""

    status: str | None
    name: str | None
    trigger: str | None
    dataclass: str | None
    dataobject: str | None
    ended_since: datetime | None
    ended_until: datetime | None

    def keep(self, run: Run, source: DataObject | None) -> bool:
        """Tell whether a run (started by ``source``) passes the filters."""
        return (
            (self.status is None or status_of(run) == self.status)
            and (self.name is None or self.name in instance_name(run))
            and (self.trigger is None or TRIGGER_TYPES[run.trigger] == self.trigger)
            and (
                self.dataclass is None
                or (source is not None and source.dataclass == self.dataclass)
            )
            and (
                self.dataobject is None
                or (source is not None and object_name(source) == self.dataobject)
            )
            and self._ended_within(run)
        )

    def _ended_within(self, run: Run) -> bool:
        if self.ended_since is None and self.ended_until is None:
            return True
        ended = run.finished_at
        return (
            ended is not None
            and (self.ended_since is None or ended >= self.ended_since)
            and (self.ended_until is None or ended <= self.ended_until)
        )


def _whole(params: Mapping[str, str], name: str, *, minimum: int) -> int:
    text = params.get(name)
    if text is None:
        refuse(f"{name} is required")
    if not text.isdigit() or int(text) < minimum:
        refuse(f"{name} must be a whole number, {minimum} or more")
    return int(text)


def _choice(
    params: Mapping[str, str], name: str, allowed: tuple[str, ...]
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        refuse(f"{name} must be one of {', '.join(allowed)}")
    return value


def parse_operation(raw: bytes) -> RunControl:
    """Return the control of an operation body ``{"operation": ...}``; raise a 400."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        refuse("The request body is not valid JSON")
    if not isinstance(body, dict):
        refuse('The request body must be {"operation": "RETRY" | "TERMINATE"}')
    operation = body.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        refuse("operation must be RETRY or TERMINATE")
    return OPERATIONS[operation]
