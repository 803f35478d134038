"""
Enterprise Manager wire words: the namespace, versions, actions, tasks and their ids.
"""

import uuid
from collections.abc import Mapping
from typing import Final

from onward import errors
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
_TASK_PREFIX: Final = "task-"
_OPERATION_PREFIX: Final = "op_"


def check_version(version: str | None) -> None:
    """Refuse a logon that names an API version that is not served."""
    if version is None or version == "latest" or version in VERSIONS:
        return
    supported = ", ".join(("latest", *VERSIONS))
    msg = f"Unsupported API version '{version}'; supported: {supported}"
    raise errors.InvalidDefinitionError([errors.Problem("v", msg)], subject="request")


def job_id(text: str) -> uuid.UUID:
    """Return a job ID of a path; refuse one that is not a GUID."""
    found = parse_uuid(text)
    if found is None:
        msg = f"Invalid job ID '{text}': expected a GUID"
        raise errors.InvalidDefinitionError(
            [errors.Problem("ID", msg)], subject="request"
        )
    return found


def task_id(operation_id: str) -> str:
    """Return the task ID of an Onward operation (``op_X`` is ``task-X``)."""
    return _TASK_PREFIX + operation_id.removeprefix(_OPERATION_PREFIX)


def operation_id(task: str) -> str:
    """Return the operation id a task ID names; an unknown form is not found."""
    if not task.startswith(_TASK_PREFIX) or len(task) == len(_TASK_PREFIX):
        raise errors.OperationNotFoundError(operation_id=task)
    return _OPERATION_PREFIX + task.removeprefix(_TASK_PREFIX)
