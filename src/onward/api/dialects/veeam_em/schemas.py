"""
Enterprise Manager wire words: the namespace, versions, actions, tasks and their ids.
"""

import re
import uuid
from collections.abc import Mapping
from typing import Final

from onward import errors
from onward.domain.runs import RunStatus
from onward.service.plan_uuids import parse_uuid

#: the XML namespace of every representation
NAMESPACE: Final = "http://www.veeam.com/ent/v1.0"
#: the header (and cookie) that carries the logon session's token
SESSION_HEADER: Final = "X-RestSvcSessionId"
#: the realm of the Basic challenge of the logon
REALM: Final = "Basic Realm=RestSvc"
#: the API versions a logon may name (``?v=``), besides ``latest``
VERSIONS: Final = tuple(f"v1_{minor}" for minor in range(9))

#: the job actions Onward carries out, and the task operation each makes
ACTIONS: Final[Mapping[str, str]] = {
    "start": "StartJob",
    "stop": "StopJob",
    "retry": "RetryJob",
}
#: the task operation of an Onward operation's command
OPERATIONS: Final[Mapping[str, str]] = {
    "start": "StartJob",
    "cancel": "StopJob",
    "retry": "RetryJob",
}
#: a job session's state in the vendor's words, by the state of the plan's run:
#: the session's ``Result`` once it ended, else its ``State`` (the vocabulary of
#: the EM reference's ``get_query_backupjobsession``: State Starting, Stopping,
#: Working, Pausing, Resuming, Stopped; Result Success, Warning, Failed)
SESSION_STATES: Final[Mapping[RunStatus, str]] = {
    RunStatus.PENDING: "Starting",
    RunStatus.RUNNING: "Working",
    RunStatus.WAITING: "Working",
    RunStatus.CANCELLING: "Stopping",
    # Onward's own: a critical step failed and the run waits for an operator
    RunStatus.HALTED: "Halted",
    RunStatus.SUCCEEDED: "Success",
    RunStatus.FAILED: "Failed",
    # stopped by a user before it ended: EM's State, as no Result says so
    RunStatus.CANCELLED: "Stopped",
}
#: the longest client text an error message repeats
_SHOWN: Final = 80
_TASK_PREFIX: Final = "task-"
_OPERATION_PREFIX: Final = "op_"
#: what follows ``task-`` in a task ID that can name an operation
_TASK_SUFFIX: Final = re.compile(r"[0-9A-Za-z_-]{1,64}")


def shown(text: str) -> str:
    """Return client text as an error message repeats it: cut short when long."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}..."


def check_version(version: str | None) -> None:
    """Refuse a logon that names an API version that is not served."""
    if version is None or version == "latest" or version in VERSIONS:
        return
    supported = ", ".join(("latest", *VERSIONS))
    msg = f"Unsupported API version '{shown(version)}'; supported: {supported}"
    raise errors.InvalidDefinitionError([errors.Problem("v", msg)], subject="request")


def job_id(text: str) -> uuid.UUID:
    """Return a job ID of a path; refuse one that is not a GUID."""
    found = parse_uuid(text)
    if found is None:
        msg = f"Invalid job ID '{shown(text)}': expected a GUID"
        raise errors.InvalidDefinitionError(
            [errors.Problem("ID", msg)], subject="request"
        )
    return found


def task_id(operation_id: str) -> str:
    """Return the task ID of an Onward operation (``op_X`` is ``task-X``)."""
    return _TASK_PREFIX + operation_id.removeprefix(_OPERATION_PREFIX)


def operation_id(task: str) -> str | None:
    """Return the operation id a task ID names, or None for a task ID of no task."""
    suffix = task.removeprefix(_TASK_PREFIX)
    if suffix == task or not _TASK_SUFFIX.fullmatch(suffix):
        return None
    return _OPERATION_PREFIX + suffix
