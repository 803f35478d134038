"""
VAO sign-in: the OAuth 2.0 token endpoint (password and refresh grants) and logout.

``POST /api/token`` (and ``/token``, the VAO 3.0 path) takes a form, or a JSON
object with the same names: ``grant_type=password`` with ``username``
(``DOMAIN\\USERNAME`` or ``USERNAME``: Onward has no domains, so the part
before the last backslash is dropped) and ``password``, or
``grant_type=refresh_token`` with ``refresh_token``. It answers
``{access_token, token_type, expires_in, refresh_token}``. ``POST /api/logout``
with the bearer token ends the session and its refresh tokens. A JSON body is
parsed by ``values.load_json`` (too deep a nesting is an ``invalid_request``).
"""

from typing import Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onward import errors
from onward.api.dialects import values
from onward.api.dialects.vao import render
from onward.api.dialects.vao.deps import ServicesDep, SignedIn
from onward.api.dialects.vao.errors import (
    INVALID_GRANT,
    INVALID_REQUEST,
    UNSUPPORTED_GRANT,
    TokenError,
)
from onward.api.dialects.vao.routing import VaoRoute
from onward.service.sessions import SessionGrant

router = APIRouter(route_class=VaoRoute, include_in_schema=False)

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post("/api/token")
@router.post("/token")
async def token(request: Request, services: ServicesDep) -> Response:
    """Issue an access token and a refresh token (password or refresh grant)."""
    form = _form(await request.body())
    grant = form.get("grant_type", "")
    address = request.client.host if request.client is not None else ""
    try:
        if grant == "password":
            issued = await services.sessions.login(
                _username(_required(form, "username")),
                _required(form, "password"),
                address=address,
                refreshable=True,
            )
        elif grant == "refresh_token":
            issued = await services.sessions.refresh(_required(form, "refresh_token"))
        else:
            msg = "grant_type must be password or refresh_token"
            raise TokenError(UNSUPPORTED_GRANT, msg)
    except errors.RateLimitedError as exc:
        raise TokenError(
            INVALID_GRANT,
            exc.message,
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except errors.AuthenticationError as exc:
        raise TokenError(INVALID_GRANT, _grant_failure(grant, exc)) from exc
    return render.json_response(_token_body(issued, services), headers=_NO_STORE)


@router.post("/api/logout")
async def logout(principal: SignedIn, services: ServicesDep) -> Response:
    """End the session of the bearer token, and its refresh tokens."""
    await services.sessions.logout(principal)
    return render.empty()


def _token_body(issued: SessionGrant, services: ServicesDep) -> dict[str, object]:
    seconds = (issued.expires_at - services.clock.now()).total_seconds()
    return {
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": max(int(seconds), 0),
        "refresh_token": issued.refresh_token,
    }


def _form(raw: bytes) -> dict[str, str]:
    """Return the token request's fields, from a form or a JSON object."""
    text = raw.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            document = values.load_json(text)
        except values.JsonBodyError as exc:
            raise TokenError(INVALID_REQUEST, str(exc)) from None
        if not isinstance(document, dict):
            msg = "The body must be a form"
            raise TokenError(INVALID_REQUEST, msg)
        return {str(k): str(v) for k, v in document.items() if v is not None}
    fields = parse_qs(text, keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if not value:
        msg = f"The {name} field is required"
        raise TokenError(INVALID_REQUEST, msg)
    return value


def _username(name: str) -> str:
    """Return an Onward username from DOMAIN\\USERNAME or USERNAME."""
    return name.rpartition("\\")[2]


def _grant_failure(grant: str, exc: errors.AuthenticationError) -> str:
    if grant == "password":
        return "The user name or password is incorrect."
    return exc.message
