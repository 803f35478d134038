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
unknown workspace (or no role), instance,     404     SecMaster.00040401
path, or a method the path does not take
a body larger than the server's limit         413     SecMaster.00041301
storage unavailable                           503     SecMaster.00050301
any other failure (logged)                    500     SecMaster.00050001
============================================  ======  ====================

Messages speak SecMaster's words: playbook instances, workspaces, operations;
a refused operation is worded where the instance's status is known
(``instances``).
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
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.body_limit import LimitedRoute

_log = structlog.get_logger("onward.api.secmaster")

INVALID: Final = "SecMaster.00040001"
WRONG_STATE: Final = "SecMaster.00040009"
UNAUTHENTICATED: Final = "SecMaster.00040101"
FORBIDDEN: Final = "SecMaster.00040301"
NOT_FOUND: Final = "SecMaster.00040401"
TOO_LARGE: Final = "SecMaster.00041301"
INTERNAL: Final = "SecMaster.00050001"
UNAVAILABLE: Final = "SecMaster.00050301"
REQUEST_ID: Final = "X-request-id"
#: the message of every 500: the cause is in the server's log only
INTERNAL_MESSAGE: Final = "Internal server error"
UNAVAILABLE_MESSAGE: Final = "The service is unavailable for a moment; try again"
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
#: the code of an HTTP error's status (others: INVALID)
_HTTP_CODES: Final = {
    401: UNAUTHENTICATED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    413: TOO_LARGE,
}
#: what each permission lets a role do, as a refusal names it
_ALLOWS: Final = {
    "read": "viewing playbook instances",
    "operate": "operating playbook instances (RETRY, TERMINATE)",
}


class SecMasterRequestError(Exception):
    """A request the dialect refuses, in SecMaster's status, code and words."""

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


def onward_error_response(
    exc: errors.OnwardError, path: Mapping[str, str] | None = None
) -> JSONResponse:
    """Return an Onward error in SecMaster's status, body and words.

    Args:
        exc: the error.
        path: the request's path parameters (``workspace_id``, ``instance_id``).
    """
    status, code = next((s, c) for kind, s, c in _KINDS if isinstance(exc, kind))
    if status == 500:
        _log.error("secmaster.error", error=exc.message, kind=type(exc).__name__)
        return error_response(500, code, INTERNAL_MESSAGE)
    if status == 503:
        # the store's message may carry the driver's own words: logged, not sent
        _log.warning("secmaster.storage_failed", error=exc.message)
        return error_response(503, code, UNAVAILABLE_MESSAGE, {"Retry-After": "1"})
    headers = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    return error_response(status, code, vendor_message(exc, path or {}), headers)


def vendor_message(exc: errors.OnwardError, path: Mapping[str, str]) -> str:
    """Return an Onward error's message in SecMaster's words, from its data."""
    workspace = path.get("workspace_id", "")
    instance = path.get("instance_id", "")
    if isinstance(exc, errors.RunNotFoundError):
        return f"Playbook instance {exc.run_id} does not exist in workspace {workspace}"
    if isinstance(exc, errors.WorkspaceNotFoundError):
        return f"Workspace {exc.workspace} does not exist, or you have no role in it"
    if isinstance(exc, errors.PermissionDeniedError):
        allows = _ALLOWS.get(exc.permission, exc.permission)
        return f"Your role in workspace {exc.workspace} does not allow {allows}"
    if isinstance(exc, errors.NotFoundError):
        return "The requested resource does not exist"
    if isinstance(exc, errors.StaleStateError):
        return (
            f"Playbook instance {instance} changed while the operation was "
            "applied; send it again"
        )
    if isinstance(exc, errors.ConflictError):
        return f"The status of playbook instance {instance} does not allow this"
    if isinstance(exc, errors.InvalidDefinitionError):
        return "; ".join(str(problem) for problem in exc.problems)
    return exc.message


class SecMasterRoute(LimitedRoute):
    """A route answering in SecMaster's shapes, with a request id, always.

    It reads the body before its handler runs (``LimitedRoute``): a body over
    the limit is SecMaster's error with 413.
    """

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
        return onward_error_response(exc, request.path_params)
    except RequestValidationError:
        return error_response(400, INVALID, "Invalid request parameters")
    except HTTPException as exc:
        code = _HTTP_CODES.get(exc.status_code, INVALID)
        code = INTERNAL if exc.status_code >= 500 else code
        return error_response(exc.status_code, code, str(exc.detail))
    # the API's edge: SecMaster's clients read only SecMaster's envelope (and its
    # X-request-id), so no failure may fall through to Onward's problem+json 500
    except Exception:  # noqa: BLE001
        _log.exception(
            "secmaster.request_failed", method=request.method, path=request.url.path
        )
        return error_response(500, INTERNAL, INTERNAL_MESSAGE)
