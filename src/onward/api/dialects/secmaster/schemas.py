"""
SecMaster wire shapes: playbook instances (Onward runs), the list and its filters.

A playbook instance is an Onward run of the workspace named by ``workspace_id``;
its playbook is the run's plan (version ``v<n>``), its data class and data
object those of the data object that started it (event runs only).
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, Self

from onward.api.dialects import values
from onward.api.dialects.secmaster.errors import refuse
from onward.domain.runs import Run, RunStatus, Trigger
from onward.domain.triggers import DataObject
from onward.service.ports import RunFilter
from onward.service.run_control import RunControl

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
#: the run statuses an instance RUNNING or RETRYING is in
ACTIVE: Final = tuple(s for s, name in INSTANCE_STATUS.items() if name == "RUNNING")
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
#: what each operation needs, as its refusal says
_NEEDS: Final[Mapping[str, str]] = {
    "RETRY": "only a FAILED playbook instance can be retried",
    "TERMINATE": (
        "only a RUNNING or RETRYING playbook instance, or a FAILED one awaiting "
        "RETRY, can be terminated"
    ),
}
#: limit + offset may not pass this
MAX_WINDOW: Final = 10_000
#: the query parameters the list reads (each at most once)
LIST_PARAMETERS: Final = frozenset(
    {
        "limit",
        "offset",
        "status",
        "name",
        "playbook_name",
        "dataclass_name",
        "dataobject_name",
        "trigger_type",
        "from_date",
        "to_date",
        "date_type",
    }
)
_TIME: Final = re.compile(
    r"(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?P<z>Z)?(?:(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2}))?"
)
_TIME_EXAMPLE: Final = "2021-01-30T23:00:00Z+0800"
#: the latest instant a query may name (datetime's own limit, in UTC)
_LATEST: Final = datetime.max.replace(tzinfo=UTC)
_JSON: Final = "application/json"


def status_of(run: Run, *, retried: bool = False) -> str:
    """Return the SecMaster status of a run.

    Args:
        run: the run.
        retried: an operator's retry set the run going again (its audit trail
            says so); a run on its second attempt or later is retried anyway.
    """
    status = INSTANCE_STATUS[run.status]
    again = retried or run.run_attempt > 1
    return "RETRYING" if status == "RUNNING" and again else status


def refusal(operation: str, instance_id: str, status: str, *, ended: bool) -> str:
    """Return why an operation is refused to an instance in its status."""
    state = f"{status} and has ended" if ended and status == "FAILED" else status
    return (
        f"Cannot {operation} playbook instance {instance_id}: it is {state}; "
        f"{_NEEDS[operation]}."
    )


def wire_time(moment: datetime | None) -> str | None:
    """Return a time as SecMaster writes it (``2021-01-30T23:00:00Z+0000``)."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z+0000" if moment else None


def parse_time(name: str, text: str) -> datetime:
    """Return a query time in UTC: ISO 8601, or SecMaster's ``...T23:00:00Z+0800``.

    Raises:
        SecMasterRequestError: not such a time, no such date or offset, or an
            instant before year 1 or after year 9999 (in UTC).
    """
    found = _TIME.fullmatch(text.strip())
    if found is None:
        refuse(f"{name} is not a time such as {_TIME_EXAMPLE}")
    try:
        moment = datetime.fromisoformat(found["time"])
    except ValueError:
        refuse(f"{name} names no such date or time: {found['time']}")
    shift = timedelta()
    if found["sign"] is not None:
        hours, minutes = int(found["hours"]), int(found["minutes"])
        if hours > 23 or minutes > 59:
            refuse(f"{name} has an offset beyond ±23:59")
        shift = timedelta(hours=hours, minutes=minutes)
        shift = -shift if found["sign"] == "-" else shift
    try:
        return moment.replace(tzinfo=timezone(shift)).astimezone(UTC)
    except OverflowError:
        refuse(f"{name} is out of range: it must fall within years 1 to 9999 in UTC")


def instance_name(run: Run) -> str:
    """Return a playbook instance's name: its plan and creation time."""
    return f"{run.plan_name}_{run.created_at:%Y%m%d%H%M%S}"


def object_name(source: DataObject) -> str:
    """Return a data object's name: its content's ``name`` string, else its id."""
    name = source.content.get("name")
    return name if isinstance(name, str) else source.object_id


def instance_body(
    run: Run, source: DataObject | None, project_id: str, *, retried: bool = False
) -> dict[str, Any]:
    """Return the playbook instance of a run (``retried`` as ``status_of`` takes it)."""
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
        "status": status_of(run, retried=retried),
        "trigger_type": TRIGGER_TYPES[run.trigger],
        "start_time": wire_time(run.created_at),
        "end_time": wire_time(run.updated_at or run.created_at),
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
class InstanceTest:
    """The list's filters the store cannot apply, as a test of each run."""

    status: str | None = None
    name: str | None = None
    trigger: str | None = None
    dataclass: str | None = None
    dataobject: str | None = None
    ended_since: datetime | None = None
    ended_until: datetime | None = None
    #: the ids of running runs an operator's retry set going (see ``status_of``)
    retried: frozenset[str] = field(default_factory=frozenset)

    @property
    def tells_retried(self) -> bool:
        """Tell whether the status filter needs to know which runs were retried."""
        return self.status in ("RUNNING", "RETRYING")

    def keep(self, run: Run, source: DataObject | None) -> bool:
        """Tell whether a run (started by ``source``) passes the filters."""
        return (
            self._has_status(run)
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

    def _has_status(self, run: Run) -> bool:
        if self.status is None:
            return True
        return status_of(run, retried=run.run_id in self.retried) == self.status

    def _ended_within(self, run: Run) -> bool:
        if self.ended_since is None and self.ended_until is None:
            return True
        ended = run.finished_at
        return (
            ended is not None
            and (self.ended_since is None or ended >= self.ended_since)
            and (self.ended_until is None or ended <= self.ended_until)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceQuery:
    """A list request in Onward's terms."""

    run_filter: RunFilter
    test: InstanceTest
    offset: int
    limit: int

    def knowing(self, retried: frozenset[str]) -> Self:
        """Return the query whose test knows which running runs were retried."""
        return replace(self, test=replace(self.test, retried=retried))


def parse_list_query(workspace: str, pairs: Iterable[tuple[str, str]]) -> InstanceQuery:
    """Return the list request of SecMaster's query parameters; raise a 400.

    Args:
        workspace: the path's workspace.
        pairs: the query's parameters in order (a parameter the list reads may
            come once only; others are ignored).
    """
    params = _single(pairs)
    limit = _whole(params, "limit", minimum=1)
    offset = _whole(params, "offset", minimum=0)
    if limit + offset > MAX_WINDOW:
        refuse(f"limit + offset must not pass {MAX_WINDOW}")
    status = _choice(params, "status", STATUSES)
    date_type = _choice(params, "date_type", ("START", "END")) or "START"
    since = _time(params, "from_date")
    until = _time(params, "to_date")
    if until == _LATEST:
        # to_date is inclusive: the store is asked for times before its successor
        refuse(f"to_date must be before {_LATEST:%Y-%m-%dT%H:%M:%S.%fZ}")
    starts = date_type == "START"
    run_filter = RunFilter(
        workspace=workspace,
        plan_name=params.get("playbook_name") or None,
        statuses=_statuses(status),
        created_after=since if starts else None,
        created_before=_after(until) if starts else None,
    )
    test = InstanceTest(
        status=status,
        name=params.get("name") or None,
        trigger=_choice(params, "trigger_type", ("TIMER", "EVENT")),
        dataclass=params.get("dataclass_name") or None,
        dataobject=params.get("dataobject_name") or None,
        ended_since=None if starts else since,
        ended_until=None if starts else until,
    )
    return InstanceQuery(run_filter=run_filter, test=test, offset=offset, limit=limit)


def _single(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in LIST_PARAMETERS and name in params:
            refuse(f"{name} is given more than once")
        params[name] = value
    return params


def _statuses(status: str | None) -> tuple[RunStatus, ...]:
    if status in ("RUNNING", "RETRYING"):
        return ACTIVE
    return tuple(s for s, name in INSTANCE_STATUS.items() if name == status)


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    text = params.get(name)
    return None if text is None else parse_time(name, text)


def _after(until: datetime | None) -> datetime | None:
    """Return the exclusive bound of an inclusive ``to_date``."""
    return None if until is None else until + timedelta(microseconds=1)


def _whole(params: Mapping[str, str], name: str, *, minimum: int) -> int:
    text = params.get(name)
    if text is None:
        refuse(f"{name} is required")
    # decimal() converts every digit string, and Python refuses to convert one
    # of more than 4,300 digits: no number within the window is that long
    number = values.decimal(text, maximum=MAX_WINDOW) if len(text) <= 64 else None
    if number is None or number < minimum:
        refuse(f"{name} must be a whole number from {minimum} to {MAX_WINDOW}")
    return number


def _choice(
    params: Mapping[str, str], name: str, allowed: tuple[str, ...]
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        refuse(f"{name} must be one of {', '.join(allowed)}")
    return value


def parse_operation(content_type: str | None, raw: bytes) -> str:
    """Return the operation of a body ``{"operation": ...}``; raise a 400.

    Args:
        content_type: the request's ``Content-Type``: JSON, in UTF-8 if it
            names a charset (the seed's ``application/json;charset=UTF-8``).
        raw: the request's body.
    """
    if not _is_json(content_type or ""):
        refuse("content-type must be application/json;charset=UTF-8")
    try:
        body = values.load_json(raw) if raw.strip() else None
    except values.JsonBodyError as exc:
        refuse(str(exc))
    if not isinstance(body, dict):
        refuse('The request body must be {"operation": "RETRY" | "TERMINATE"}')
    operation = body.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        refuse("operation must be RETRY or TERMINATE")
    return operation


def _is_json(content_type: str) -> bool:
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    charsets = [
        value.strip().strip('"').lower()
        for key, _, value in (p.partition("=") for p in parameters)
        if key.strip().lower() == "charset"
    ]
    return media_type.lower() == _JSON and all(c == "utf-8" for c in charsets)
