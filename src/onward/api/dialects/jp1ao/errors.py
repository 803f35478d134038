"""
JP1/AO errors: Onward errors and refused requests in JP1/AO's status codes and body.

The body is JP1/AO's error information: ``errorSource`` (the request URL),
``message``, ``messageID``, ``application`` (``Automation``). Every answer of
the dialect, error or not, carries JP1/AO's CORS and ``Cache-Control``
headers; a successful one also ``WWW-Authenticate: HSSO <token>`` when the
request's credentials named a token (``remember_token``). Statuses:

=================================================  ======  ===============
error                                              status  messageID
=================================================  ======  ===============
unparsable body                                    400     generic error
invalid query parameter, argument or body member   400     ONWARD-E400
no or bad credentials, disabled user, rate limit   401     ONWARD-E401
no role, too low a role, unknown task or action    404     KNAE02102-E
a method the path does not take                    405     ONWARD-E405
the task's status does not allow the action        409     ONWARD-E409
storage unavailable                                412     ONWARD-E412
a body larger than the server's limit              413     ONWARD-E413
any other error                                    500     ONWARD-E500
=================================================  ======  ===============

Refusals speak JP1/AO's words: the task's instanceID, its JP1/AO status and
the action's name, never Onward's run ids, states or commands.
"""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.body_limit import LimitedRoute
from onward.api.dialects.jp1ao.schemas import TASK_STATUS
from onward.domain.runs import RunStatus

_log = structlog.get_logger("onward.api.jp1ao")

#: headers JP1/AO sends with every answer
COMMON_HEADERS: Final = {
    "Access-Control-Expose-Headers": "WWW-Authenticate",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, DELETE, PUT, HEAD, OPTIONS",
    "Access-Control-Allow-Credentials": "true",
    "Cache-Control": "no-cache",
}
NOT_FOUND_ID: Final = "KNAE02102-E"
NOT_FOUND_MESSAGE: Final = (
    "The specified resource does not exist or you do not have access. "
    "After reviewing the content of the following, please re-run.\n"
    "- The presence or absence of resources\n- Access rights to the resource"
)
#: the seed's descriptions of its 412 and 500
UNAVAILABLE_MESSAGE: Final = "The server is not available."
FAILED_MESSAGE: Final = "A server processing error occurred."
_MESSAGE_IDS: Final = {
    400: "ONWARD-E400",
    401: "ONWARD-E401",
    404: NOT_FOUND_ID,
    405: "ONWARD-E405",
    409: "ONWARD-E409",
    412: "ONWARD-E412",
    413: "ONWARD-E413",
    500: "ONWARD-E500",
}
_RUN_STATUSES: Final = frozenset(status.value for status in RunStatus)
#: (error class, status): the first class the error is an instance of wins
_STATUSES: Final = (
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 404),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.InvalidDefinitionError, 400),
    (errors.StorageError, 412),
    (errors.OnwardError, 500),
)


class Jp1RequestError(Exception):
    """A request the dialect refuses before calling Onward."""

    def __init__(self, status: int, message: str, *, message_id: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.message_id = message_id or _MESSAGE_IDS[status]


def request_url(request: Request) -> str:
    """Return the request's URL as the client sent it (its path percent-encoded)."""
    raw_path: bytes | None = request.scope.get("raw_path")
    if not raw_path:
        return str(request.url)
    # the decoded path would put raw control and non-ASCII characters in the body
    return str(request.url.replace(path=raw_path.decode("latin-1")))


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    message_id: str = "",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Return JP1/AO's error information with its status."""
    body = {
        "errorSource": request_url(request),
        "message": message,
        "messageID": message_id or _MESSAGE_IDS[status],
        "application": "Automation",
    }
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Basic realm="Automation"')
    return JSONResponse(body, status_code=status, headers=extra)


def onward_error_response(request: Request, exc: errors.OnwardError) -> JSONResponse:
    """Return an Onward error in JP1/AO's status code and body."""
    status = next(code for kind, code in _STATUSES if isinstance(exc, kind))
    if status in (412, 500):
        # the database's or Onward's own words stay in the log
        _log.error("jp1ao.error", error=exc.message, kind=type(exc).__name__)
        message = UNAVAILABLE_MESSAGE if status == 412 else FAILED_MESSAGE
        return error_response(request, status, message)
    if status == 404:
        return error_response(request, 404, NOT_FOUND_MESSAGE)
    if status == 409:
        # the invoke route words its refusals itself (``refusal``)
        return error_response(request, 409, "The task's status does not allow this.")
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(request, status, exc.message, headers=headers)


def refusal(
    exc: errors.ConflictError,
    *,
    action: str,
    number: int,
    run_id: str,
    status: RunStatus,
) -> Jp1RequestError:
    """Return the 409 of a refused action in JP1/AO's words.

    Args:
        exc: Onward's refusal.
        action: the JP1/AO action asked for (``stop``, ``rerunStart`` ...).
        number: the task's instanceID.
        run_id: the task's run, which a refusal names when its status is why.
        status: the run's status as read before the action, for refusals that
            name no status of the run.
    """
    if isinstance(exc, errors.StaleStateError):
        msg = (
            f"Task {number} was changed by another request during the {action} "
            "action. Get the task again, then retry."
        )
        return Jp1RequestError(409, msg)
    if (
        isinstance(exc, errors.InvalidTransitionError)
        and exc.subject == f"run {run_id}"
        and exc.state in _RUN_STATUSES
    ):
        status = RunStatus(exc.state)
    msg = (
        f"The {action} action is not available for task {number}: "
        f"its status is {TASK_STATUS[status]}."
    )
    return Jp1RequestError(409, msg)


def remember_token(request: Request, token: str) -> None:
    """Name the token a successful answer gives back (``WWW-Authenticate: HSSO``)."""
    request.state.jp1ao_hsso_token = token


def finish(request: Request, response: Response) -> Response:
    """Return an answer with JP1/AO's headers; a HEAD answer loses its body.

    A success also carries the request's HSSO token, if it has one; an error
    keeps its own ``WWW-Authenticate`` (a 401's Basic challenge) or none.
    """
    for name, value in COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    token: str | None = getattr(request.state, "jp1ao_hsso_token", None)
    if token is not None and 200 <= response.status_code < 300:
        response.headers["WWW-Authenticate"] = f"HSSO {token}"
    if request.method == "HEAD":
        # the headers (Content-Length too) stay those of the GET
        response.body = b""
    return response


class Jp1Route(LimitedRoute):
    """A route answering in JP1/AO's shapes, whatever goes wrong; GET takes HEAD.

    It reads the body before its handler runs (``LimitedRoute``): a body over
    the limit is JP1/AO's error information with 413.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Build the route; a GET route answers HEAD too, as HTTP servers do."""
        super().__init__(path, endpoint, **kwargs)
        if self.methods is not None and "GET" in self.methods:
            self.methods.add("HEAD")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become JP1/AO errors; add JP1/AO's headers."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            return finish(request, await _answer(handler, request))

        return answer


async def _answer(
    handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    try:
        return await handler(request)
    except Jp1RequestError as exc:
        return error_response(
            request, exc.status, exc.message, message_id=exc.message_id
        )
    except errors.OnwardError as exc:
        return onward_error_response(request, exc)
    except RequestValidationError:
        return error_response(request, 400, "A query parameter is invalid.")
    except HTTPException as exc:
        status = exc.status_code if exc.status_code in _MESSAGE_IDS else 404
        return error_response(request, status, str(exc.detail))
    except Exception:  # noqa: BLE001 - the API boundary: a JP1/AO client gets JP1/AO's 500
        # anything else is a bug: log it whole, answer as JP1/AO does (with its
        # headers) rather than with Onward's native problem document
        _log.exception(
            "jp1ao.request_failed", method=request.method, path=request.url.path
        )
        return error_response(request, 500, FAILED_MESSAGE)
