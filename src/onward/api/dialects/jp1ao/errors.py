"""
JP1/AO errors: Onward errors and refused requests in JP1/AO's status codes and body.

The body is JP1/AO's error information: ``errorSource`` (the request URL),
``message``, ``messageID``, ``application`` (``Automation``). Every answer of
the dialect, error or not, carries JP1/AO's CORS and ``Cache-Control``
headers. Statuses:

=================================================  ======  ===============
error                                              status  messageID
=================================================  ======  ===============
unparsable body                                    400     generic error
invalid query parameter, argument or body member   400     ONWARD-E400
no or bad credentials, disabled user, rate limit   401     ONWARD-E401
no role, too low a role, unknown task or action    404     KNAE02102-E
the task's status does not allow the action        409     ONWARD-E409
storage unavailable                                412     ONWARD-E412
any other Onward error                             500     ONWARD-E500
=================================================  ======  ===============
"""

from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from onward import errors

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
_MESSAGE_IDS: Final = {
    400: "ONWARD-E400",
    401: "ONWARD-E401",
    404: NOT_FOUND_ID,
    409: "ONWARD-E409",
    412: "ONWARD-E412",
    500: "ONWARD-E500",
}
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
        "errorSource": str(request.url),
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
    if status == 500:
        _log.error("jp1ao.error", error=exc.message, kind=type(exc).__name__)
        return error_response(request, 500, "A server processing error occurred.")
    if status == 404:
        return error_response(request, 404, NOT_FOUND_MESSAGE)
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(request, status, exc.message, headers=headers)


class Jp1Route(APIRoute):
    """A route answering in JP1/AO's shapes, whatever goes wrong."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become JP1/AO errors; add JP1/AO's headers."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            response = await _answer(handler, request)
            for name, value in COMMON_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

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
