"""
VAO errors: Onward errors and refused requests in the vendor's status codes and bodies.

The plans API answers as ASP.NET Web API does: an ``HttpError`` body,
``{"Message": ...}``, with ``ModelState`` (property name -> messages) for an
invalid request, in the negotiated media type (JSON or XML). The token
endpoint answers OAuth 2.0 errors (RFC 6749 section 5.2):
``{"error": ..., "error_description": ...}``. Statuses:

===============================================  ======
error                                            status
===============================================  ======
malformed or invalid body, query or path value   400
no, bad or expired bearer token                  401 (``WWW-Authenticate: Bearer``)
the role does not allow it (or no role)          403
unknown plan, group, VM, endpoint                404
method not allowed on the resource               405
the plan's state does not allow it               409
a body larger than the server's limit            413
a body of a media type other than JSON           415
too many failed logins (token endpoint)          429 (``Retry-After``)
an operation Onward does not provide             501
storage unavailable                              503 (``Retry-After``)
anything else                                    500, logged
===============================================  ======

Messages speak the vendor's words: roles as VAO names them, no workspace; a
refused plan operation is worded by ``refusals``.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import structlog
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from onward import errors
from onward.api.body_limit import BodyTooLargeError
from onward.api.dialects.vao import render
from onward.api.dialects.vao.schemas import UnsupportedMediaTypeError
from onward.domain.access import GRANTS, Permission, Role

_log = structlog.get_logger("onward.api.vao")

#: Web API's message for a request refused for its credentials
DENIED: Final = "Authorization has been denied for this request."
#: Web API's message for an invalid request (with ModelState)
INVALID: Final = "The request is invalid."
#: Web API's message for a failure of the server (``HttpError(Exception, ...)``)
FAILED: Final = "An error has occurred."

#: the vendor's name of each role, the lowest first
ROLE_NAMES: Final = {
    Role.VIEWER: "Viewer",
    Role.OPERATOR: "Plan Operator",
    Role.AUTHOR: "Plan Author",
    Role.ADMIN: "Administrator",
}

#: OAuth 2.0 error codes of the token endpoint (RFC 6749 section 5.2)
INVALID_REQUEST: Final = "invalid_request"
INVALID_GRANT: Final = "invalid_grant"
UNSUPPORTED_GRANT: Final = "unsupported_grant_type"

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


class VaoRequestError(Exception):
    """A request the dialect refuses before calling Onward."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class TokenError(Exception):
    """An OAuth 2.0 error of the token endpoint."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    model_state: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return an ``HttpError`` body in the media type the request accepts."""
    body: dict[str, Any] = {"Message": message}
    if model_state:
        body["ModelState"] = {
            key: render.TextList(messages) for key, messages in model_state.items()
        }
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="VAO"')
    return render.respond(request, "Error", body, status=status, headers=extra)


def token_error(exc: TokenError) -> Response:
    """Return an OAuth 2.0 error of the token endpoint."""
    body = {"error": exc.error, "error_description": exc.description}
    return render.json_response(
        body,
        status=exc.status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers},
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
        _log.error("vao.error", error=exc.message, kind=type(exc).__name__)
        return error_response(request, 500, FAILED)
    if status == 401:
        return error_response(request, 401, DENIED, headers=headers)
    if isinstance(exc, errors.WorkspaceNotFoundError):
        return error_response(request, 403, f"{DENIED[:-1]}: the account has no role.")
    if isinstance(exc, errors.PermissionDeniedError):
        return error_response(request, 403, forbidden_message(exc))
    if isinstance(exc, errors.InvalidDefinitionError):
        state: dict[str, list[str]] = {}
        for problem in exc.problems:
            state.setdefault(problem.path or "request", []).append(problem.message)
        return error_response(request, 400, INVALID, model_state=state)
    return error_response(request, status, _message(exc), headers=headers)


def _message(exc: errors.OnwardError) -> str:
    """Return the error's message, a group or target named as VAO names it."""
    if isinstance(exc, errors.GroupNotFoundError):
        return f"VM group not found: {exc.group}"
    if isinstance(exc, errors.TargetNotFoundError):
        return f"VM not found: {exc.target}"
    return exc.message


def validation_error_response(
    request: Request, exc: RequestValidationError
) -> Response:
    """Return a malformed query string or path value as an invalid request."""
    state: dict[str, list[str]] = {}
    for error in exc.errors():
        location = error.get("loc") or ("request",)
        name = str(location[-1])
        state.setdefault(name, []).append(
            f"The value '{error.get('input')}' is not valid for {name}."
        )
    return error_response(request, 400, INVALID, model_state=state)


def forbidden_message(exc: errors.PermissionDeniedError) -> str:
    """Return a refusal for a role too low, naming the vendor's roles that may."""
    permission = Permission(exc.permission)
    roles = [name for role, name in ROLE_NAMES.items() if permission in GRANTS[role]]
    names = ", ".join(roles[:-1]) + " or " + roles[-1] if len(roles) > 1 else roles[0]
    return f"{DENIED[:-1]}: it needs the {names} role."


#: the errors ``vendor_error`` answers; anything else is a failure (``failure``)
EXPECTED: Final = (
    TokenError,
    VaoRequestError,
    UnsupportedMediaTypeError,
    errors.OnwardError,
    RequestValidationError,
    HTTPException,
)


def vendor_error(request: Request, exc: Exception) -> Response:
    """Return one of the ``EXPECTED`` errors in the vendor's status code and body."""
    if isinstance(exc, TokenError):
        return token_error(exc)
    if isinstance(exc, VaoRequestError):
        return error_response(request, exc.status, exc.message, headers=exc.headers)
    if isinstance(exc, UnsupportedMediaTypeError):
        msg = (
            f"The request entity's media type '{exc.media_type}' "
            "is not supported for this resource."
        )
        return error_response(request, 415, msg)
    if isinstance(exc, errors.OnwardError):
        return onward_error_response(request, exc)
    if isinstance(exc, RequestValidationError):
        return validation_error_response(request, exc)
    if isinstance(exc, BodyTooLargeError):
        return error_response(request, 413, str(exc.detail))
    if isinstance(exc, HTTPException):
        phrase = HTTPStatus(exc.status_code).phrase
        return error_response(request, exc.status_code, phrase)
    raise exc


def failure(request: Request) -> Response:
    """Log the exception being handled, with its traceback; answer Web API's 500.

    Call it from an ``except`` block only.
    """
    _log.exception("vao.request_failed", method=request.method, path=request.url.path)
    return error_response(request, 500, FAILED)
