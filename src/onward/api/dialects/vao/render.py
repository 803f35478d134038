"""
VAO v3 representations: plans, groups, VMs and steps as the vendor names them.

The media type follows ``Accept``: ``application/json`` (the default),
``text/json`` or ``application/xml``; any other type is answered in JSON, as
the vendor does. XML is the JSON's shape in elements (the vendor publishes no
schema for v3): one element per property, list items named after their type,
null as ``i:nil="true"``. No text is written as it came: element names pass
through ``xml_name`` (ASP.NET's ``XmlConvert.EncodeLocalName``), text through
``values.xml_text``, so a client's key or control character cannot break the
document.
"""

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from xml.etree import ElementTree as ET

from fastapi import Request, Response

from onward.api.dialects import values
from onward.api.dialects.vao.schemas import PREFIX
from onward.domain.plans import Group, PlanKind, Step, Target
from onward.domain.recovery import RecoveryState
from onward.domain.runs import Run, RunStatus
from onward.service.plan_status import PlanStatus

JSON: Final = "application/json"
TEXT_JSON: Final = "text/json"
XML: Final = "application/xml"
_OFFERED: Final = (JSON, TEXT_JSON, XML)
_NIL_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
#: the element name of an empty key (ASP.NET Core's name for it; Web API would fail)
EMPTY_KEY: Final = "MVC-Empty"
_NAME_START: Final = re.compile("[A-Za-z_]")
_NAME_CHAR: Final = re.compile(r"[A-Za-z0-9_.\-]")
#: text that reads as an escape, whose underscore is escaped in turn (as .NET does)
_LOOKS_ESCAPED: Final = re.compile("_[Xx](?:[0-9A-Fa-f]{4}|[0-9A-Fa-f]{8})_")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class TextList(tuple[str, ...]):
    """Strings written as a list in JSON and as one space-separated text in XML.

    So .NET's ``XmlWriter.WriteValue`` writes the ``string[]`` of a ModelState
    entry (aspnet/AspNetWebStack ``src/System.Web.Http/HttpError.cs``).
    """

    __slots__ = ()


# --- media types ------------------------------------------------------------------


def media_type(accept: str | None) -> str:
    """Return the media type to answer in for an Accept header (JSON by default)."""
    best, best_rank = JSON, (0.0, 0)
    for offered in _OFFERED:
        rank = _quality(accept or "", offered)
        if rank > best_rank:
            best, best_rank = offered, rank
    return best if best_rank[0] > 0 else JSON


def _quality(accept: str, offered: str) -> tuple[float, int]:
    """Return the q-value the header gives a media type, and how specifically."""
    kind = offered.split("/")[0]
    found = (0.0, -1)
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        specific = {offered: 2, f"{kind}/*": 1, "*/*": 0}.get(media.lower())
        if specific is None or specific < found[1]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found = (q, specific)
    return (found[0], found[1]) if found[1] >= 0 else (0.0, 0)


def respond(
    request: Request,
    root: str,
    body: Any,
    *,
    status: int = 200,
    item: str = "",
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return a representation in the media type the request accepts.

    Args:
        request: the request (its Accept header).
        root: the XML root element's name (the vendor's type name).
        body: the JSON value.
        status: the HTTP status.
        item: the element name of list items in XML.
        headers: more response headers.
    """
    chosen = media_type(request.headers.get("accept"))
    if chosen == XML:
        content = to_xml(root, body, item=item)
        return Response(
            content,
            status_code=status,
            media_type="application/xml; charset=utf-8",
            headers=dict(headers or {}),
        )
    return json_response(body, status=status, media=chosen, headers=headers)


def json_response(
    body: Any,
    *,
    status: int = 200,
    media: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return a JSON body (of type application/json or text/json)."""
    text = _LONE_SURROGATE.sub("\ufffd", json.dumps(body, ensure_ascii=False))
    return Response(
        text.encode(),
        status_code=status,
        media_type=f"{media}; charset=utf-8",
        headers=dict(headers or {}),
    )


def empty(status: int = 200) -> Response:
    """Return a body-less answer (the vendor's plan operations answer so)."""
    return Response(status_code=status)


def to_xml(root: str, body: Any, *, item: str = "") -> bytes:
    """Return a JSON value as XML elements."""
    element = ET.Element(root, {"xmlns:i": _NIL_NS})
    _fill(element, body, item)
    declaration = b'<?xml version="1.0" encoding="utf-8"?>'
    return declaration + ET.tostring(element, encoding="unicode").encode()


def xml_name(key: str) -> str:
    """Return a key as an XML element name, as .NET's ``XmlConvert.EncodeLocalName``.

    Each character a name cannot hold becomes ``_xHHHH_`` (``_xHHHHHHHH_``
    past U+FFFF), and so does the underscore of text that reads as such an
    escape. Unlike .NET, every character outside ASCII letters, digits, ``_``,
    ``-`` and ``.`` is escaped (chosen: any XML parser accepts the result).
    """
    if not key:
        return EMPTY_KEY
    escaped = {found.start() for found in _LOOKS_ESCAPED.finditer(key)}
    name = []
    for index, char in enumerate(key):
        allowed = _NAME_START if index == 0 else _NAME_CHAR
        if index in escaped or not allowed.fullmatch(char):
            code = ord(char)
            name.append(f"_x{code:04X}_" if code <= 0xFFFF else f"_x{code:08X}_")
        else:
            name.append(char)
    return "".join(name)


def _fill(element: ET.Element, value: Any, item: str) -> None:
    if value is None:
        element.set("i:nil", "true")
    elif isinstance(value, TextList):
        element.text = values.xml_text(" ".join(value))
    elif isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, xml_name(str(key))), child, item)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for child in value:
            _fill(ET.SubElement(element, item or "Item"), child, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = values.xml_text(str(value))


# --- plan states ------------------------------------------------------------------

#: (state, stateName) of a plan whose newest run is of a procedure
_OPERATION_STATES: Final = {
    "run": ("Restore", "RESTORE"),
    "failover": ("Failover", "FAILOVER"),
    "protect": ("Failover", "FAILOVER"),
    "undo_failover": ("UndoFailover", "UNDO FAILOVER"),
    "failback": ("Failback", "FAILBACK"),
}
READY: Final = ("Ready", "READY")
HALTED: Final = ("Halted", "HALTED")
HALTING: Final = ("Halting", "HALTING")
R = RecoveryState
#: (state, stateName) of replica and storage plans by recovery state
_RECOVERY_STATES: Final = {
    R.READY: READY,
    R.IN_FAILOVER: _OPERATION_STATES["failover"],
    R.PROTECTING: _OPERATION_STATES["failover"],
    R.FAILED_OVER: _OPERATION_STATES["failover"],
    R.FAILOVER_HALTED: HALTED,
    R.FAILOVER_INCOMPLETE: _OPERATION_STATES["failover"],
    R.UNDOING_FAILOVER: _OPERATION_STATES["undo_failover"],
    R.UNDO_HALTED: HALTED,
    R.UNDO_INCOMPLETE: _OPERATION_STATES["undo_failover"],
    R.FAILING_BACK: _OPERATION_STATES["failback"],
    R.FAILBACK_HALTED: HALTED,
    R.FAILBACK_INCOMPLETE: _OPERATION_STATES["failback"],
}
#: the newest run's outcome as the vendor's result name
_RESULTS: Final = {
    RunStatus.PENDING: "In progress",
    RunStatus.RUNNING: "In progress",
    RunStatus.WAITING: "In progress",
    RunStatus.CANCELLING: "In progress",
    RunStatus.HALTED: "Halted",
    RunStatus.SUCCEEDED: "Success",
    RunStatus.FAILED: "Error",
    RunStatus.CANCELLED: "Canceled",
}
_PLAN_TYPES: Final = {PlanKind.REPLICA: "Replica", PlanKind.STORAGE: "Storage"}


def plan_type(status: PlanStatus) -> str:
    """Return the vendor's type of a plan: ``Replica``, ``Storage`` or ``Restore``."""
    return _PLAN_TYPES.get(status.plan.kind, "Restore")


def plan_state(status: PlanStatus) -> tuple[str, str]:
    """Return the vendor's (state, stateName) of a plan."""
    run = status.last_run
    if run is not None and run.status is RunStatus.CANCELLING:
        return HALTING
    if status.recovery is not None:
        return _RECOVERY_STATES[status.recovery]
    if run is None:
        return READY
    if run.status in (RunStatus.HALTED, RunStatus.CANCELLED):
        return HALTED
    return _OPERATION_STATES.get(run.procedure, _OPERATION_STATES["run"])


def result_name(run: Run | None) -> str:
    """Return the vendor's result name of a plan's newest run ("" if none)."""
    if run is None:
        return ""
    name = _RESULTS[run.status]
    if run.status is RunStatus.SUCCEEDED and run.warnings:
        return "Warning"
    return name


# --- resources --------------------------------------------------------------------


def plan_info(status: PlanStatus) -> dict[str, Any]:
    """Return a plan as a RecoveryPlanInfo."""
    state, state_name = plan_state(status)
    run = status.last_run
    groups = status.procedure.groups
    return {
        "id": str(status.uid),
        "name": status.summary.name,
        "description": status.plan.description,
        "planType": plan_type(status),
        "enabled": status.summary.enabled,
        "state": state,
        "stateName": state_name,
        "resultName": result_name(run),
        "lastRunTime": _time(run.started_at or run.created_at) if run else None,
        "groupsCount": len(groups),
        "vmsCount": sum(len(group.targets) for group in groups),
        "_links": {"self": {"href": f"{PREFIX}/Plans/{status.uid}"}},
    }


def group_info(status: PlanStatus, group: Group) -> dict[str, Any]:
    """Return a group of a plan as a RecoveryGroupInfo."""
    group_id = status.group_uuid(group)
    return {
        "id": str(group_id),
        "name": group.name,
        "planId": str(status.uid),
        "vmsCount": len(group.targets),
        "stepsCount": len(group.steps),
        "maxParallelVms": group.parallel,
        "_links": {"self": {"href": f"{PREFIX}/Plans/{status.uid}/Groups/{group_id}"}},
    }


def vm_info(status: PlanStatus, group: Group, target: Target) -> dict[str, Any]:
    """Return a target of a group as a RecoveryVmInfo."""
    return {
        "id": str(status.target_uuid(group, target)),
        "name": target.name,
        "groupId": str(status.group_uuid(group)),
        "planId": str(status.uid),
    }


def step_info(
    status: PlanStatus, group: Group, step: Step, target: Target | None = None
) -> dict[str, Any]:
    """Return a step of a group (for one of its VMs, if named) as a RecoveryStepInfo."""
    info: dict[str, Any] = {
        "id": str(status.step_uuid(group, step.name)),
        "name": step.name,
        "type": step.action,
        "critical": step.critical,
        "timeout": int(step.timeout.total_seconds()) if step.timeout else None,
        "retries": step.retry.maximum_attempts - 1,
        "groupId": str(status.group_uuid(group)),
    }
    if target is not None:
        info["vmId"] = str(status.target_uuid(group, target))
    return info


def page(
    items: Sequence[Mapping[str, Any]], *, total: int, start: int, limit: int | None
) -> dict[str, Any]:
    """Return one page of a collection with its paging facts."""
    return {
        "data": list(items),
        "pagination": {
            "total": total,
            "count": len(items),
            "start": start,
            "limit": limit if limit is not None else total,
        },
    }


def slice_page(
    items: Sequence[Mapping[str, Any]], *, start: int, limit: int | None
) -> dict[str, Any]:
    """Return one page of a whole collection."""
    end = None if limit is None else start + limit
    return page(items[start:end], total=len(items), start=start, limit=limit)


def _time(moment: datetime) -> str:
    return moment.isoformat()
