"""
Enterprise Manager errors: Onward errors and refused requests in the vendor's shapes.

The body is the vendor's ``Error``: in XML ``<Error Message="..." StatusCode="..."/>``
in its namespace, in JSON ``{"FirstChanceExceptionMessage": null, "Message": ...,
"StackTrace": null, "Status": null, "StatusCode": ...}`` (as the vendor's server
writes it). Statuses:

===============================================  ======
error                                            status
===============================================  ======
malformed query, ID or API version               400
no or bad credentials / session                  401 (logon: ``WWW-Authenticate``)
the role does not allow it (or no role)          403 ("Access denied")
unknown job, task, session                       404
the job's state does not allow the action        409
too many failed logons                           429 (``Retry-After``)
storage unavailable                              503 (``Retry-After``)
anything else                                    500, logged
===============================================  ======
"""

import json
from collections.abc import Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import Any, Final

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.dialects.veeam_em.render import Element, to_xml, wants_json

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


class EmRequestError(Exception):
    """A request the dialect refuses before calling Onward."""

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
    if wants_json(request.headers.get("accept")):
        body = {
            "FirstChanceExceptionMessage": None,
            "Message": message,
            "StackTrace": None,
            "Status": None,
            "StatusCode": status,
        }
        content = json.dumps(body, ensure_ascii=False).encode()
        media = "application/json; charset=utf-8"
    else:
        element = Element(
            name="Error", attrs={"Message": message, "StatusCode": status}
        )
        content = to_xml(element)
        media = "application/xml; charset=utf-8"
    return Response(
        content, status_code=status, media_type=media, headers=dict(headers or {})
    )


def onward_error_response(request: Request, exc: errors.OnwardError) -> Response:
    """Return an Onward error in the vendor's status code and body."""
    status = next(code for kind, code in _STATUSES if isinstance(exc, kind))
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, errors.StorageError):
        headers["Retry-After"] = "1"
    if status == 500:
        _log.error("veeam_em.error", error=exc.message, kind=type(exc).__name__)
        return error_response(request, 500, "Internal server error")
    if isinstance(exc, errors.WorkspaceNotFoundError):
        msg = f"Access denied: you have no role in workspace {exc.workspace!r}"
        return error_response(request, 403, msg)
    if status == 403:
        return error_response(request, 403, f"Access denied: {exc.message}")
    if isinstance(exc, errors.InvalidDefinitionError):
        message = "; ".join(problem.message for problem in exc.problems)
        return error_response(request, 400, message or exc.message)
    return error_response(request, status, exc.message, headers=headers)


class EmRoute(APIRoute):
    """A route answering in the vendor's shapes, whatever goes wrong."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become the vendor's errors."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
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
            except HTTPException as exc:
                phrase = HTTPStatus(exc.status_code).phrase
                return error_response(request, exc.status_code, phrase)

        return answer
