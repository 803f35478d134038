"""
Enterprise Manager resources: the API root, logon sessions, jobs and tasks as elements.
"""

import uuid
from typing import Final

from onward.api.dialects.veeam_em.render import Element, leaf, link, links
from onward.api.dialects.veeam_em.schemas import OPERATIONS, VERSIONS, task_id
from onward.domain.plans import PlanKind, TriggerKind
from onward.domain.runs import RunStatus
from onward.service.operations import OperationStatus, OperationView
from onward.service.plan_status import PlanStatus

#: the logon session GUIDs' namespace (a session's GUID names its credential)
_SESSIONS: Final = uuid.UUID("0e5a3d59-2f4c-4b8e-a1d7-3c9b6f2e8a41")
#: what a finished task says of the run it followed, by the run's resting state
_OUTCOMES: Final = {
    RunStatus.SUCCEEDED: "finished successfully",
    RunStatus.FAILED: "failed",
    RunStatus.HALTED: "halted: a critical step failed and waits for an operator",
    RunStatus.CANCELLED: "was stopped",
}
#: the resting state that counts as a success for each command
_SUCCESS: Final = {"cancel": RunStatus.CANCELLED}


def session_id(credential_id: str) -> uuid.UUID:
    """Return the logon session GUID of a session credential."""
    return uuid.uuid5(_SESSIONS, credential_id)


def enterprise_manager(base: str) -> Element:
    """Return the API root: how to log on, in each version."""
    versions = [
        Element(
            name="SupportedVersion",
            attrs={"Name": version},
            children=[
                links(
                    link(
                        "Create",
                        f"{base}sessionMngr/?v={version}",
                        type_="LogonSession",
                    )
                )
            ],
        )
        for version in VERSIONS
    ]
    return Element(
        name="EnterpriseManager",
        children=[
            links(
                link("Down", f"{base}logonSessions", type_="LogonSessionList"),
                link("Create", f"{base}sessionMngr/?v=latest", type_="LogonSession"),
            ),
            Element(name="SupportedVersions", children=versions, is_list=True),
        ],
    )


def logon_session(base: str, *, username: str, session: uuid.UUID) -> Element:
    """Return a logon session with the links of what it may reach."""
    href = f"{base}logonSessions/{session}"
    return Element(
        name="LogonSession",
        attrs={"Type": "LogonSession", "Href": href},
        children=[
            links(
                link("Up", base, type_="EnterpriseManager"),
                link("Down", f"{base}jobs", type_="JobReferenceList"),
                link("Down", f"{base}jobs?format=Entity", type_="JobList"),
                link("Delete", href, type_="LogonSession"),
            ),
            leaf("UserName", username),
            leaf("SessionId", str(session)),
        ],
    )


def logon_sessions(base: str, *, username: str, session: uuid.UUID) -> Element:
    """Return the logon sessions this session sees: itself."""
    return Element(
        name="LogonSessions",
        children=[logon_session(base, username=username, session=session)],
        is_list=True,
        json_key="LogonSessions",
    )


def job_reference(base: str, status: PlanStatus, *, name: str = "Ref") -> Element:
    """Return a job's reference (``Ref`` in lists, ``EntityRef`` alone)."""
    href = f"{base}jobs/{status.uid}"
    return Element(
        name=name,
        attrs={
            "Type": "JobReference",
            "Href": href,
            "Name": status.summary.name,
            "UID": f"urn:veeam:Job:{status.uid}",
        },
        children=[
            links(
                link(
                    "Alternate",
                    f"{href}?format=Entity",
                    type_="Job",
                    name=status.summary.name,
                )
            )
        ],
    )


def job_references(base: str, statuses: list[PlanStatus]) -> Element:
    """Return the jobs as references."""
    return Element(
        name="EntityReferences",
        children=[job_reference(base, status) for status in statuses],
        is_list=True,
        json_key="Refs",
    )


def job(base: str, status: PlanStatus) -> Element:
    """Return a job's entity."""
    href = f"{base}jobs/{status.uid}"
    name = status.summary.name
    timers = [t for t in status.plan.triggers if t.kind is TriggerKind.TIMER]
    replica = status.plan.kind is PlanKind.REPLICA
    objects = [
        Element(
            name="ObjectInJob",
            attrs={"Type": "ObjectInJob"},
            children=[
                leaf("ObjectInJobId", str(status.target_uuid(group, target))),
                leaf("Name", target.name),
                leaf("DisplayName", f"{group.name}/{target.name}"),
            ],
        )
        for group in status.procedure.groups
        for target in group.targets
    ]
    info = Element(
        name="ReplicaJobInfo" if replica else "BackupJobInfo",
        children=[Element(name="Includes", children=objects, is_list=True)],
    )
    return Element(
        name="Job",
        attrs={
            "Type": "Job",
            "Href": f"{href}?format=Entity",
            "Name": name,
            "UID": f"urn:veeam:Job:{status.uid}",
        },
        children=[
            links(
                link("Alternate", href, type_="JobReference", name=name),
                link("Start", f"{href}?action=start"),
                link("Stop", f"{href}?action=stop"),
                link("Retry", f"{href}?action=retry"),
            ),
            leaf("JobType", "Replica" if replica else "Backup"),
            leaf("Platform", "CustomPlatform"),
            leaf("Description", status.plan.description),
            leaf("ScheduleConfigured", bool(timers)),
            # a disabled plan's timers start nothing, whatever their own flag
            leaf(
                "ScheduleEnabled",
                status.summary.enabled and any(t.enabled for t in timers),
            ),
            Element(name="JobInfo", children=[info]),
        ],
    )


def jobs(base: str, statuses: list[PlanStatus]) -> Element:
    """Return the jobs as entities."""
    return Element(
        name="Jobs",
        children=[job(base, status) for status in statuses],
        is_list=True,
        json_key="Jobs",
    )


def task(base: str, view: OperationView) -> Element:
    """Return an operation as a task: Running until its run rests, then Finished."""
    operation = view.operation
    identifier = task_id(operation.operation_id)
    href = f"{base}tasks/{identifier}"
    children = [
        links(link("Delete", href, type_="Task")),
        leaf("TaskId", identifier),
        leaf(
            "State",
            "Running" if view.status is OperationStatus.RUNNING else "Finished",
        ),
        leaf(
            "Operation",
            OPERATIONS.get(operation.command, f"{operation.command.title()}Job"),
        ),
    ]
    if view.status is OperationStatus.DONE and view.result is not None:
        wanted = _SUCCESS.get(operation.command, RunStatus.SUCCEEDED)
        outcome = _OUTCOMES.get(view.result, view.result.value)
        children.append(
            Element(
                name="Result",
                attrs={"Success": view.result is wanted},
                children=[leaf("Message", f'Job "{view.run.plan_name}" {outcome}.')],
            )
        )
    return Element(name="Task", attrs={"Type": "Task", "Href": href}, children=children)
