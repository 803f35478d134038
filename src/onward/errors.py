"""
The whole exception tree of Onward.

::

    OnwardError
    ├── NotFoundError
    │   ├── PlanNotFoundError
    │   ├── GroupNotFoundError
    │   ├── TargetNotFoundError
    │   ├── RunNotFoundError
    │   ├── AttemptNotFoundError
    │   ├── ActionNotFoundError
    │   ├── WorkspaceNotFoundError
    │   ├── UserNotFoundError
    │   ├── CredentialNotFoundError
    │   ├── OperationNotFoundError
    │   └── DataObjectNotFoundError
    ├── ConflictError
    │   ├── InvalidTransitionError      (the command is impossible in the current state)
    │   ├── StaleStateError             (someone else changed the record first)
    │   ├── IdempotencyConflictError    (a key reused with a different request)
    │   ├── AlreadyExistsError          (a name is taken)
    │   ├── PlanInUseError
    │   └── AccessKeysOffError          (the server has no access_key_master)
    ├── AuthenticationError             (no valid credentials)
    │   └── RateLimitedError            (too many failed logins; try later)
    ├── PermissionDeniedError           (valid credentials, not enough role)
    │   └── SuperuserRequiredError      (only an unlimited superuser may)
    ├── InvalidDefinitionError          (a plan, parameter set or option is invalid)
    │   └── PlanInvalidError            (a plan text; each problem with its line)
    ├── StorageError
    │   └── StorageRefusedError         (refused for what it holds: do not retry it)
    └── ActionError                     (a step's action could not be carried out)

Each class's docstring is its default message; data rides on attributes so that
the API layers can render it in their own envelopes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OnwardError(Exception):
    """An Onward error occurred."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class NotFoundError(OnwardError):
    """The resource does not exist."""


class PlanNotFoundError(NotFoundError):
    """Plan not found."""

    def __init__(self, *, plan: str, version: int | None = None) -> None:
        self.plan = plan
        self.version = version
        suffix = f" (version {version})" if version is not None else ""
        super().__init__(f"Plan not found: {plan}{suffix}")


class GroupNotFoundError(NotFoundError):
    """Group not found."""

    def __init__(self, *, group: str) -> None:
        self.group = group
        super().__init__(f"Group not found: {group}")


class TargetNotFoundError(NotFoundError):
    """Target not found."""

    def __init__(self, *, target: str) -> None:
        self.target = target
        super().__init__(f"Target not found: {target}")


class RunNotFoundError(NotFoundError):
    """Run not found."""

    def __init__(self, *, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"Run not found: {run_id}")


class AttemptNotFoundError(NotFoundError):
    """Attempt not found."""

    def __init__(self, *, attempt_id: str) -> None:
        self.attempt_id = attempt_id
        super().__init__(f"Attempt not found: {attempt_id}")


class ActionNotFoundError(NotFoundError):
    """No action of this kind is installed."""

    def __init__(self, *, action: str) -> None:
        self.action = action
        super().__init__(f"No action of kind {action!r} is installed")


class ConflictError(OnwardError):
    """The request conflicts with the current state."""


class InvalidTransitionError(ConflictError):
    """The command is not allowed in the current state."""

    def __init__(
        self, *, subject: str, state: str, command: str, reason: str = ""
    ) -> None:
        self.subject = subject
        self.state = state
        self.command = command
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"Cannot {command} {subject} in state {state!r}{detail}")


class StaleStateError(ConflictError):
    """The record was changed by someone else first."""

    def __init__(self, *, subject: str, expected_version: int) -> None:
        self.subject = subject
        self.expected_version = expected_version
        super().__init__(
            f"{subject} was changed concurrently (expected version {expected_version})"
        )


class IdempotencyConflictError(ConflictError):
    """The idempotency key was already used for a different request."""

    def __init__(self, *, key: str) -> None:
        self.key = key
        super().__init__(
            f"Idempotency key {key!r} was already used for another request"
        )


class PlanInUseError(ConflictError):
    """The plan is used by runs and cannot be deleted."""

    def __init__(self, *, plan: str) -> None:
        self.plan = plan
        super().__init__(f"Plan {plan!r} is used by runs and cannot be deleted")


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a definition, located by its path."""

    #: where the problem is, e.g. ``groups[1].steps[0].timeout``
    path: str
    #: what is wrong there
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidDefinitionError(OnwardError):
    """The definition is invalid."""

    def __init__(
        self, problems: Sequence[Problem], *, subject: str = "definition"
    ) -> None:
        self.problems = tuple(problems)
        self.subject = subject
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"Invalid {subject} ({count} {noun}):\n{lines}")


class StorageError(OnwardError):
    """The store could not carry out the operation."""


# A value the database cannot take (SQLSTATE class 22, "data exception"), or
# one that could not be made a parameter for it. Any other StorageError may
# pass: the database may be away, or a race lost (a key taken meanwhile).
class StorageRefusedError(StorageError):
    """The database refused the record; trying it again as it is won't help."""


class ActionError(OnwardError):
    """The step's action could not be carried out."""


class WorkspaceNotFoundError(NotFoundError):
    """Workspace not found."""

    def __init__(self, *, workspace: str) -> None:
        self.workspace = workspace
        super().__init__(f"Workspace not found: {workspace}")


class UserNotFoundError(NotFoundError):
    """User not found."""

    def __init__(self, *, user: str) -> None:
        self.user = user
        super().__init__(f"User not found: {user}")


class CredentialNotFoundError(NotFoundError):
    """API key, access key or session not found."""

    def __init__(self, *, credential_id: str) -> None:
        self.credential_id = credential_id
        super().__init__(f"API key, access key or session not found: {credential_id}")


class OperationNotFoundError(NotFoundError):
    """Operation not found."""

    def __init__(self, *, operation_id: str) -> None:
        self.operation_id = operation_id
        super().__init__(f"Operation not found: {operation_id}")


class DataObjectNotFoundError(NotFoundError):
    """Data object not found."""

    def __init__(self, *, object_id: str) -> None:
        self.object_id = object_id
        super().__init__(f"Data object not found: {object_id}")


class AlreadyExistsError(ConflictError):
    """The name is already taken."""

    def __init__(self, *, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        super().__init__(f"{kind.capitalize()} {name!r} already exists")


class AuthenticationError(OnwardError):
    """Valid credentials are required."""


class RateLimitedError(AuthenticationError):
    """Too many failed attempts; try again later."""

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"Too many failed logins; try again in {retry_after} s")


class PermissionDeniedError(OnwardError):
    """The caller's role does not allow this."""

    def __init__(self, *, permission: str, workspace: str) -> None:
        self.permission = permission
        self.workspace = workspace
        super().__init__(
            f"Your role in workspace {workspace!r} does not allow {permission}"
        )


class SuperuserRequiredError(PermissionDeniedError):
    """Only superusers may do this."""

    def __init__(self, *, action: str) -> None:
        self.permission = action
        self.workspace = ""
        OnwardError.__init__(
            self, f"Only a superuser, signed in without key limits, may {action}"
        )


class AccessKeysOffError(ConflictError):
    """Access keys are off: the server has no master secret (access_key_master)."""

    def __init__(self) -> None:
        super().__init__(
            "Access keys are off on this server: it has no master secret. Set "
            "ONWARD_ACCESS_KEY_MASTER (the setting access_key_master: 32 "
            "characters or more, the same on every server) to turn them on."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LocatedProblem:
    """A problem of a plan text, with the line it is on when known."""

    path: str
    message: str
    #: 1-based line in the text (None for the whole document, or unknown)
    line: int | None


class PlanInvalidError(InvalidDefinitionError):
    """The plan is invalid; each problem has the line it is on, when known."""

    def __init__(self, problems: Sequence[LocatedProblem]) -> None:
        self.located = tuple(problems)
        super().__init__([Problem(p.path, p.message) for p in problems], subject="plan")
