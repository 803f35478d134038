"""
Native error mapping: Onward errors and bad requests as RFC 9457 problem+json.

Each problem has ``type`` (``urn:onward:problem:<code>``), ``title``, ``status``,
``detail`` (the error's message), ``instance`` (the request path) and ``code``;
invalid input adds ``errors``: one ``{path, message}`` per problem (plus ``in``
for request fields, ``line`` for plan texts). Statuses:

====================================  ======
error                                 status
====================================  ======
malformed JSON body                   400
AuthenticationError                   401 (``WWW-Authenticate: Bearer``)
PermissionDeniedError                 403
NotFoundError                         404
ConflictError (transition, stale)     409
BodyTooLargeError                     413 (``limit``: the limit in bytes)
IdempotencyConflictError              422 (a key reused for another request)
InvalidDefinitionError, bad fields    422
RateLimitedError                      429 (``Retry-After``)
StorageError                          503 (``Retry-After``)
anything else                         500, logged, no details
====================================  ======
"""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onward import errors
from onward.api.body_limit import BodyTooLargeError
from onward.errors import PlanInvalidError

#: what a client is told of a server-side failure (the rest goes to the log)
_HIDDEN_DETAILS: Final = {
    500: "The server could not do this.",
    503: "The database is unavailable for a moment; try again shortly.",
}
_log = structlog.get_logger("onward.api")

#: the media type of every error response of the native API
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"

#: (error class, status, code, title): the first class the error is an instance of wins
_KINDS: Final[Sequence[tuple[type[errors.OnwardError], int, str, str]]] = (
    (errors.RateLimitedError, 429, "rate-limited", "Too many failed attempts"),
    (errors.AuthenticationError, 401, "unauthenticated", "Authentication required"),
    (errors.PermissionDeniedError, 403, "forbidden", "Permission denied"),
    (errors.NotFoundError, 404, "not-found", "Not found"),
    (
        errors.IdempotencyConflictError,
        422,
        "idempotency-key-reused",
        "Idempotency key reused for another request",
    ),
    (errors.StaleStateError, 409, "stale-state", "Changed in the meantime"),
    (errors.InvalidTransitionError, 409, "invalid-transition", "Not allowed now"),
    (errors.ConflictError, 409, "conflict", "Conflict"),
    (errors.InvalidDefinitionError, 422, "invalid", "Invalid input"),
    (errors.StorageError, 503, "storage-unavailable", "Storage unavailable"),
    (errors.OnwardError, 500, "internal", "Internal error"),
)


class ProblemResponse(JSONResponse):
    """A JSON response of media type application/problem+json."""

    media_type = PROBLEM_MEDIA_TYPE


def problem(
    request: Request | None,
    status: int,
    *,
    code: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """Return a problem+json response."""
    body: dict[str, Any] = {
        "type": f"urn:onward:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path if request is not None else None,
        "code": code,
    }
    body.update({k: v for k, v in extensions.items() if v is not None})
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


async def onward_error(request: Request, exc: Exception) -> Response:
    """Render an Onward error by the table above."""
    assert isinstance(exc, errors.OnwardError)  # noqa: S101 - registered for it only
    status, code, title = next(
        (s, c, t) for kind, s, c, t in _KINDS if isinstance(exc, kind)
    )
    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
        extensions["retry_after"] = exc.retry_after
    elif isinstance(exc, errors.AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="onward"'
    elif isinstance(exc, errors.StorageError):
        headers["Retry-After"] = "1"
    if isinstance(exc, PlanInvalidError):
        extensions["errors"] = [
            {"path": p.path, "message": p.message, "line": p.line} for p in exc.located
        ]
    elif isinstance(exc, errors.InvalidDefinitionError):
        extensions["errors"] = [
            {"path": p.path, "message": p.message} for p in exc.problems
        ]
    if status >= 500:
        _log.error("api.failed", path=request.url.path, error=exc.message)
    # the database's own words stay in the log: they are for the operator
    detail = _HIDDEN_DETAILS.get(status, exc.message)
    return problem(
        request,
        status,
        code=code,
        title=title,
        detail=detail,
        headers=headers,
        **extensions,
    )


async def request_invalid(request: Request, exc: Exception) -> Response:
    """Render bad request fields as 422 (or a malformed JSON body as 400)."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it
    items = [_field_problem(error) for error in exc.errors()]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem(
            request,
            400,
            code="malformed",
            title="Malformed request body",
            detail="The body is not valid JSON.",
            errors=items,
        )
    return problem(
        request,
        422,
        code="invalid",
        title="Invalid input",
        detail="; ".join(f"{i['path'] or i['in']}: {i['message']}" for i in items),
        errors=items,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """Render an HTTP error raised by the framework (unknown route, bad method...)."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for it
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return problem(
        request,
        exc.status_code,
        code=phrase.lower().replace(" ", "-"),
        title=phrase,
        detail=detail,
        headers=exc.headers,
    )


async def body_too_large(request: Request, exc: Exception) -> Response:
    """Render a request body over the limit as 413, naming the limit."""
    assert isinstance(exc, BodyTooLargeError)  # noqa: S101 - registered for it
    return problem(
        request,
        413,
        code="content-too-large",
        title="Request body too large",
        detail=str(exc.detail),
        limit=exc.limit,
    )


class UnhandledErrors:
    """Turn any exception that escaped into a logged, bare 500 problem."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it fails before responding."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:  # the one generic 500 handler
            _log.exception("api.unhandled", path=scope.get("path", ""))
            if started:
                raise
            response = problem(
                None,
                500,
                code="internal",
                title="Internal error",
                detail="The server could not do this; the error is in its log.",
                instance=scope.get("path", ""),
            )
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(errors.OnwardError, onward_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(BodyTooLargeError, body_too_large)
    app.add_middleware(UnhandledErrors)


def _field_problem(error: Mapping[str, Any]) -> dict[str, str]:
    location, *rest = error.get("loc", ("body",)) or ("body",)
    message = str(error.get("msg", ""))
    if error.get("type") == "json_invalid":
        where = f" at character {rest[0]}" if rest else ""
        return {"in": str(location), "path": "", "message": f"{message}{where}"}
    path = ""
    for part in rest:
        path += (
            f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
        )
    return {"in": str(location), "path": path, "message": message}
