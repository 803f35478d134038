"""
Enterprise Manager errors: Onward errors and refused requests in the vendor's shapes.

The body is the vendor's ``Error``: in XML ``<Error Message="..." StatusCode="..."/>``
in its namespace, in JSON ``{"FirstChanceExceptionMessage": null, "Message": ...,
"StackTrace": null, "Status": null, "StatusCode": ...}`` (as the vendor's server
writes it). Messages speak the vendor's words (job, job session, task, logon
session), never Onward's (plan, run, operation, workspace). Statuses:

===============================================  ======
error                                            status
===============================================  ======
malformed query, ID, API version, body           400
no or bad credentials / session                  401 (logon: ``WWW-Authenticate``)
the role does not allow it (or no role)          403 ("Access denied")
unknown job, task, session, resource             404
a method the resource does not support           405 (``Allow``)
the job's state does not allow the action        409
a body larger than the server's limit            413
too many failed logons                           429 (``Retry-After``)
anything else                                    500, logged
storage unavailable                              503 (``Retry-After``)
===============================================  ======
"""

from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Any, Final

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.body_limit import BodyTooLargeError, LimitedRoute
from onward.api.dialects import values
from onward.api.dialects.veeam_em.render import Element, respond
from onward.api.dialects.veeam_em.schemas import SESSION_STATES, shown, task_id
from onward.domain.access import Permission
from onward.domain.runs import Run, RunStatus
from onward.service.plan_status import PlanStatus

_log = structlog.get_logger("onward.api.veeam_em")

#: (error class, status): the first class the error is an instance of wins
_STATUSES: Final = (
    (errors.RateLimitedError, 429),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.WorkspaceNotFoundError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.InvalidDefinitionError, 400),
    (errors.StorageError, 503),
    (errors.OnwardError, 500),
)
#: the message of a request the server could not answer (the cause is logged)
INTERNAL: Final = "Internal server error"
#: the message of a request refused for its logon session
SESSION_REFUSED: Final = (
    "The logon session is unknown, has expired or was logged out, "
    "or its account is disabled"
)
#: what each permission allows, as the 403 names it
_ALLOWS: Final[Mapping[str, str]] = {
    Permission.READ: "viewing jobs and tasks",
    Permission.OPERATE: "starting, stopping or retrying jobs, or stopping tasks",
}
#: why each job action was refused, after the job session's state
_NEEDS: Final[Mapping[str, str]] = {
    "start": "a job runs one session at a time",
    "stop": "only a Starting, Working or Halted session can be stopped",
    "retry": (
        "the retry action can be performed only for jobs that have been "
        "finished with the Failed status"
    ),
}
#: what a Halted session is (Onward's own state: EM has no word for it)
_HALTED: Final = "a critical step failed and it waits for an operator"
#: the refusals' words for states that are not a job session's
_NEVER_RUN: Final = "never run"
_DISABLED: Final = "disabled"
#: the query parameters the dialect reads
_PARAMETERS: Final = ("action", "format", "v")
#: the methods whose requests take no body
_NO_BODY: Final = frozenset({"GET", "HEAD", "DELETE"})
#: where a run's parameters are, in the problems of a refused start
_PARAMS: Final = "params."


class EmRequestError(Exception):
    """A request the dialect refuses before calling Onward, or in its own words."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return the vendor's ``Error`` in the media type the request accepts."""
    element = Element(name="Error", attrs={"Message": message, "StatusCode": status})
    data = {
        "FirstChanceExceptionMessage": None,
        "Message": message,
        "StackTrace": None,
        "Status": None,
        "StatusCode": status,
    }
    return respond(request, element, status=status, headers=headers, data=data)


def session_word(state: str, *, run: Run | None = None) -> str:
    """Return a job session's state in the vendor's words, from its run's state.

    Args:
        state: the run's state, as a refusal names it.
        run: the job's newest run now, if known: a success with warnings is
            then the vendor's ``Warning``.
    """
    try:
        status = RunStatus(state)
    except ValueError:
        return shown(state)
    if status is RunStatus.SUCCEEDED and run is not None and run.status is status:
        return "Warning" if run.warnings else SESSION_STATES[status]
    if status is RunStatus.HALTED:
        return f"{SESSION_STATES[status]} ({_HALTED})"
    return SESSION_STATES[status]


def job_refused(action: str, name: str, state: str, *, run: Run | None = None) -> str:
    """Return why a job action was refused, in the vendor's words.

    Args:
        action: the vendor's action (``start``, ``stop``, ``retry``).
        name: the job's name.
        state: the state the refusal names (``InvalidTransitionError.state``).
        run: the job's newest run now, if known.
    """
    if state == _DISABLED:
        return f'Cannot {action} job "{name}": the job is disabled; enable it first'
    if state == _NEVER_RUN:
        where = "it has no session yet"
    else:
        where = f"its last session is {session_word(state, run=run)}"
    return f'Cannot {action} job "{name}": {where}; {_NEEDS[action]}'


def job_refusal(
    action: str,
    status: PlanStatus,
    exc: errors.InvalidTransitionError | errors.InvalidDefinitionError,
) -> EmRequestError:
    """Return a job action's refusal in the vendor's words, with its status.

    A refused transition is 409 and names the job's last session; a start the
    plan cannot make without parameters (or without a ``run`` procedure) is 400.
    """
    name = status.summary.name
    if isinstance(exc, errors.InvalidTransitionError):
        message = job_refused(action, name, exc.state, run=status.last_run)
        return EmRequestError(409, message)
    params = sorted(
        problem.path.removeprefix(_PARAMS)
        for problem in exc.problems
        if problem.path.startswith(_PARAMS)
    )
    if params:
        wanted = ", ".join(shown(param) for param in params)
        message = (
            f'Cannot {action} job "{name}": it needs parameters Enterprise Manager '
            f"cannot send: {wanted}"
        )
    else:
        message = f'Cannot {action} job "{name}": it has no steps to {action}'
    return EmRequestError(400, message)


def task_refused(task: str, state: str) -> str:
    """Return why stopping a task was refused, in the vendor's words."""
    return f"Cannot stop task {shown(task)}: its job session is {session_word(state)}"


def onward_error_response(request: Request, exc: errors.OnwardError) -> Response:
    """Return an Onward error in the vendor's status code and body."""
    status = next(code for kind, code in _STATUSES if isinstance(exc, kind))
    if status == 500:
        _log.error(
            "veeam_em.request_failed", error=exc.message, kind=type(exc).__name__
        )
        return error_response(request, 500, INTERNAL)
    if isinstance(exc, errors.StorageError):
        _log.warning("veeam_em.storage_failed", error=exc.message)
        msg = "The service is unavailable for a moment; try again"
        return error_response(request, 503, msg, headers={"Retry-After": "1"})
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(request, status, _message(request, exc), headers=headers)


def _message(request: Request, exc: errors.OnwardError) -> str:
    """Return the vendor's words for an Onward error answered with a 4xx."""
    if isinstance(exc, errors.RateLimitedError):
        return f"Too many failed logons; try again in {exc.retry_after} s"
    if isinstance(exc, errors.AuthenticationError):
        return SESSION_REFUSED
    if isinstance(exc, errors.WorkspaceNotFoundError):
        return "Access denied: your account has no role"
    if isinstance(exc, errors.PermissionDeniedError):
        allows = _ALLOWS.get(exc.permission, "this request")
        return f"Access denied: your role does not allow {allows}"
    if isinstance(exc, errors.NotFoundError):
        return _not_found(request, exc)
    if isinstance(exc, errors.InvalidTransitionError):
        return "The job's state does not allow this now"
    if isinstance(exc, errors.ConflictError):
        return "The job changed in the meantime; try again"
    if isinstance(exc, errors.InvalidDefinitionError):
        return "; ".join(problem.message for problem in exc.problems) or exc.message
    return exc.message


def _not_found(request: Request, exc: errors.NotFoundError) -> str:
    if isinstance(exc, errors.PlanNotFoundError):
        return f"Job not found: {shown(exc.plan)}"
    if isinstance(exc, errors.OperationNotFoundError):
        return f"Task not found: {shown(task_id(exc.operation_id))}"
    return f"Resource not found: {request.method} {shown(request.url.path)}"


def refused_input(request: Request) -> str | None:
    """Return why the request's form is refused before routing, or None.

    A query parameter the dialect reads, given twice, is ambiguous (others are
    ignored, however often given); a body on a request that takes none
    (``GET``, ``HEAD``, ``DELETE``) is refused rather than ignored.
    """
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = sorted(name for name in _PARAMETERS if counts[name] > 1)
    if repeated:
        return f"Parameter '{shown(repeated[0])}' is given more than once"
    if request.method not in _NO_BODY:
        return None
    length = request.headers.get("content-length")
    size = values.decimal(length.strip()) if length is not None else 0
    if size is None:
        return f"Invalid Content-Length '{shown(length or '')}'"
    if size or "transfer-encoding" in request.headers:
        return f"A {request.method} request takes no body"
    return None


class EmRoute(LimitedRoute):
    """A route answering in the vendor's shapes, whatever goes wrong.

    It reads the body before its handler runs (``LimitedRoute``), though no
    handler reads it: a body over the limit is the vendor's ``Error`` with 413.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become the vendor's errors."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            refused = refused_input(request)
            if refused is not None:
                return error_response(request, 400, refused)
            try:
                return await handler(request)
            except EmRequestError as exc:
                return error_response(
                    request, exc.status, exc.message, headers=exc.headers
                )
            except errors.OnwardError as exc:
                return onward_error_response(request, exc)
            except RequestValidationError as exc:
                names = ", ".join(
                    str((error.get("loc") or ("request",))[-1])
                    for error in exc.errors()
                )
                return error_response(request, 400, f"Invalid parameters: {names}")
            except BodyTooLargeError as exc:
                return error_response(request, 413, str(exc.detail))
            except HTTPException as exc:
                return error_response(request, exc.status_code, _phrase(exc))
            # the API's edge: the vendor's clients read only the vendor's Error,
            # so nothing may escape to Onward's own (problem+json) 500
            except Exception:  # noqa: BLE001
                _log.exception(
                    "veeam_em.request_failed",
                    method=request.method,
                    path=request.url.path,
                )
                return error_response(request, 500, INTERNAL)

        return answer


def _phrase(exc: HTTPException) -> str:
    try:
        return HTTPStatus(exc.status_code).phrase
    except ValueError:
        return f"HTTP {exc.status_code}"
