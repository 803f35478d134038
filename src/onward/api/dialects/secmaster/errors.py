"""
SecMaster errors: Onward errors and refused requests as ``{code, message}``.

Every answer of the dialect, error or not, carries ``X-request-id`` in
SecMaster's format ``request_uuid-timestamp-hostname`` (a hex UUID, epoch
milliseconds, the server's host name). Statuses and codes (the codes are
Onward's own, in SecMaster's ``SecMaster.<8 digits>`` form):

============================================  ======  ====================
error                                         status  code
============================================  ======  ====================
invalid parameter, query or body              400     SecMaster.00040001
the instance's status does not allow it       400     SecMaster.00040009
no, bad or expired credentials or signature   401     SecMaster.00040101
role too low in the workspace                 403     SecMaster.00040301
unknown workspace (or no role), instance      404     SecMaster.00040401
storage unavailable                           503     SecMaster.00050301
any other Onward error                        500     SecMaster.00050001
============================================  ======  ====================
"""

import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final, NoReturn

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from onward import errors

_log = structlog.get_logger("onward.api.secmaster")

INVALID: Final = "SecMaster.00040001"
WRONG_STATE: Final = "SecMaster.00040009"
UNAUTHENTICATED: Final = "SecMaster.00040101"
FORBIDDEN: Final = "SecMaster.00040301"
NOT_FOUND: Final = "SecMaster.00040401"
INTERNAL: Final = "SecMaster.00050001"
UNAVAILABLE: Final = "SecMaster.00050301"
REQUEST_ID: Final = "X-request-id"
_HOST: Final = socket.gethostname()

#: (error class, status, code): the first class the error is an instance of wins
_KINDS: Final = (
    (errors.AuthenticationError, 401, UNAUTHENTICATED),
    (errors.PermissionDeniedError, 403, FORBIDDEN),
    (errors.NotFoundError, 404, NOT_FOUND),
    (errors.ConflictError, 400, WRONG_STATE),
    (errors.InvalidDefinitionError, 400, INVALID),
    (errors.StorageError, 503, UNAVAILABLE),
    (errors.OnwardError, 500, INTERNAL),
)


class SecMasterRequestError(Exception):
    """A request the dialect refuses before calling Onward."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def refuse(message: str) -> NoReturn:
    """Raise the 400 of an invalid parameter, query or body."""
    raise SecMasterRequestError(400, INVALID, message)


def request_id() -> str:
    """Return a new request id: ``request_uuid-timestamp-hostname``."""
    return f"{uuid.uuid4().hex}-{time.time_ns() // 1_000_000}-{_HOST}"


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Return SecMaster's error body with its status."""
    return JSONResponse(
        {"code": code, "message": message}, status_code=status, headers=headers
    )


def onward_error_response(exc: errors.OnwardError) -> JSONResponse:
    """Return an Onward error in SecMaster's status and body."""
    status, code = next((s, c) for kind, s, c in _KINDS if isinstance(exc, kind))
    if status == 500:
        _log.error("secmaster.error", error=exc.message, kind=type(exc).__name__)
        return error_response(500, code, "Internal server error")
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(status, code, exc.message, headers)


class SecMasterRoute(APIRoute):
    """A route answering in SecMaster's shapes, with a request id, always."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become SecMaster errors; add X-request-id."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            response = await _answer(handler, request)
            response.headers[REQUEST_ID] = request_id()
            return response

        return answer


async def _answer(
    handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    try:
        return await handler(request)
    except SecMasterRequestError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except errors.OnwardError as exc:
        return onward_error_response(exc)
    except RequestValidationError:
        return error_response(400, INVALID, "Invalid request parameters")
    except HTTPException as exc:
        return error_response(exc.status_code, INVALID, str(exc.detail))
