"""
The client's errors: a problem+json answer raised as a typed ``ApiError``.

::

    OnwardError
    └── ApiError                          (any problem document)
        ├── NotFoundApiError              (404; also a NotFoundError)
        ├── ConflictApiError              (409; also a ConflictError)
        ├── InvalidApiError               (400, 415, 422; an InvalidDefinitionError)
        ├── AuthenticationApiError        (401, 429; also an AuthenticationError)
        ├── PermissionApiError            (403; also a PermissionDeniedError)
        └── StorageApiError               (503; also a StorageError)

Each is also the matching class of :mod:`onward.errors`, so code that catches
``NotFoundError`` (and the CLI's exit codes) works the same over HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx
import pydantic

from onward import errors
from onward.client._models import ProblemItem


class ApiError(errors.OnwardError):
    """The server answered with an error."""

    def __init__(
        self,
        *,
        status: int,
        title: str,
        detail: str = "",
        type: str = "about:blank",
        code: str = "",
        instance: str | None = None,
        problems: Sequence[ProblemItem] = (),
        retry_after: int | None = None,
    ) -> None:
        #: the HTTP status
        self.status = status
        #: the problem type's URI, e.g. ``urn:onward:problem:not-found``
        self.type = type
        #: the problem type's short title
        self.title = title
        #: what went wrong, this time
        self.detail = detail
        #: the stable name of the problem type (the end of ``type``)
        self.code = code
        #: the request path the problem is about
        self.instance = instance
        #: every problem found in the request, each with its path
        self.errors = tuple(problems)
        #: seconds to wait before trying again (429, 503)
        self.retry_after = retry_after
        errors.OnwardError.__init__(self, _message(title, detail, self.errors))


def _message(title: str, detail: str, problems: Sequence[ProblemItem]) -> str:
    lines = [detail or title]
    many = len(problems) > 1 or (problems and problems[0].message not in lines[0])
    if many:
        lines.extend(f"  - {_located(p)}" for p in problems)
    return "\n".join(lines)


def _located(problem: ProblemItem) -> str:
    where = problem.path
    if problem.line is not None:
        where = f"line {problem.line}: {where}" if where else f"line {problem.line}"
    return f"{where}: {problem.message}" if where else problem.message


class NotFoundApiError(ApiError, errors.NotFoundError):
    """The resource does not exist (or is in a workspace the caller has no role in)."""


class ConflictApiError(ApiError, errors.ConflictError):
    """The command is impossible in the current state, or a name is taken."""


class InvalidApiError(ApiError, errors.InvalidDefinitionError):
    """The request or the plan it carries is invalid."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.problems = tuple(errors.Problem(p.path, p.message) for p in self.errors)
        self.subject = "request"


class AuthenticationApiError(ApiError, errors.AuthenticationError):
    """No valid credentials, or too many failed logins."""


class PermissionApiError(ApiError, errors.PermissionDeniedError):
    """The caller's role does not allow it."""

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.permission = ""
        self.workspace = ""


class StorageApiError(ApiError, errors.StorageError):
    """The server's database is unavailable; try again."""


#: the error class of each status
ERROR_CLASSES: Final[Mapping[int, type[ApiError]]] = {
    400: InvalidApiError,
    401: AuthenticationApiError,
    403: PermissionApiError,
    404: NotFoundApiError,
    409: ConflictApiError,
    415: InvalidApiError,
    422: InvalidApiError,
    429: AuthenticationApiError,
    503: StorageApiError,
}


def error_of(response: httpx.Response) -> ApiError:
    """Return the error an error response stands for (problem+json or not)."""
    status = response.status_code
    cls = ERROR_CLASSES.get(status, ApiError)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        title = response.reason_phrase or f"HTTP {status}"
        return cls(status=status, title=title, detail=response.text[:500])
    return cls(
        status=status,
        title=str(body.get("title", response.reason_phrase)),
        detail=str(body.get("detail") or ""),
        type=str(body.get("type", "about:blank")),
        code=str(body.get("code") or ""),
        instance=body.get("instance"),
        problems=_problems(body.get("errors")),
        retry_after=body.get("retry_after"),
    )


def _problems(items: Any) -> list[ProblemItem]:
    if not isinstance(items, list):
        return []
    problems = []
    for item in items:
        try:
            problems.append(ProblemItem.model_validate(item))
        except pydantic.ValidationError:
            continue
    return problems
