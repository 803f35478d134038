"""
CSRF protection of the console's forms: a token tied to the session, on every POST.

A signed-in session's token is an HMAC of its session secret: the secret is
in an HttpOnly cookie that no other site can read, so no other site can compute
the token, and every server replica computes the same one without shared state.
Before sign-in, the login form uses a double-submit cookie (a random value in a
cookie and in the form). A form sends the token as the ``csrf_token`` field;
htmx sends it in the ``X-CSRF-Token`` header, set once in the base template.
"""

import hashlib
import hmac
import secrets
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request

from onward.ui.forms import FormDep

#: the cookie holding the session secret (HttpOnly, SameSite=Lax)
SESSION_COOKIE: Final = "onward_session"
#: the double-submit cookie of the login form
LOGIN_COOKIE: Final = "onward_login_csrf"
#: the form field and the header that carry the token
FIELD: Final = "csrf_token"
HEADER: Final = "X-CSRF-Token"
_PURPOSE: Final = b"onward.console.csrf.v1"
_REFUSED: Final = (
    "The form's security token is missing or out of date: reload the page."
)


def token_for(secret: str) -> str:
    """Return the CSRF token of the session whose secret this is."""
    return hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def session_token(request: Request) -> str:
    """Return the CSRF token of the request's session ("" when signed out)."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    return token_for(secret) if secret else ""


def new_login_token() -> str:
    """Return a fresh random value for the login form's double-submit cookie."""
    return secrets.token_urlsafe(32)


def _sent(request: Request, form_token: str) -> str:
    return request.headers.get(HEADER, "") or form_token


async def require_token(request: Request, form: FormDep) -> None:
    """Refuse (403) a POST whose token does not match its session's.

    Raises:
        HTTPException: 403 when the token is missing or wrong, or when the
            request has no session cookie at all.
    """
    expected = session_token(request)
    sent = _sent(request, form.get(FIELD))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail=_REFUSED)


async def require_login_token(request: Request, form: FormDep) -> None:
    """Refuse (403) a login whose form token does not match its cookie.

    Raises:
        HTTPException: 403 when the cookie or the field is missing or differs.
    """
    expected = request.cookies.get(LOGIN_COOKIE, "")
    sent = _sent(request, form.get(FIELD))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail=_REFUSED)


#: a dependency that refuses a POST without the session's CSRF token
Protected = Annotated[None, Depends(require_token)]
#: the same for the login form
LoginProtected = Annotated[None, Depends(require_login_token)]
