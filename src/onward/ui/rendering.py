"""
Console rendering: the Jinja2 environment, page responses, errors as pages, headers.
"""

from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from http import HTTPStatus
from importlib import metadata
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import jinja2
from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from onward import errors
from onward.domain.access import Role
from onward.ui import csrf, forms

#: where the templates and static files are, inside the package
TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"

#: every status gets a symbol and a word, never a colour alone
STATUS_SYMBOLS: Final[Mapping[str, str]] = {
    "pending": "○",
    "queued": "○",
    "running": "▶",
    "waiting": "◷",
    "halted": "‖",
    "succeeded": "✓",
    "failed": "✗",
    "timed_out": "◔",
    "interrupted": "↯",
    "skipped": "↷",
    "cancelling": "⊘",
    "cancelled": "⊘",
    "done": "✓",
}
#: headers of every console response: no framing, no inline scripts, no leaks
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_STATUS_OF: Final[tuple[tuple[type[errors.OnwardError], int], ...]] = (
    (errors.PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.IdempotencyConflictError, 422),
    (errors.ConflictError, 409),
    (errors.InvalidDefinitionError, 422),
    (errors.StorageError, 503),
)


def _when(moment: datetime | None) -> str:
    """Show a time in UTC, to the second."""
    if moment is None:
        return "—"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _version() -> str:
    try:
        return metadata.version("onward")
    except metadata.PackageNotFoundError:
        return "unknown"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["path"] = lambda value: quote(str(value), safe="")
    env.globals["symbols"] = STATUS_SYMBOLS
    env.globals["version"] = _version()
    env.globals["roles"] = [role.value for role in Role]
    return env


#: the console's templates
ENV: Final = _environment()


def is_htmx(request: Request) -> bool:
    """Tell whether htmx sent the request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def fragment(name: str, **context: Any) -> str:
    """Render a template to text (a partial, or an event's data)."""
    return ENV.get_template(name).render(**context)


def render(
    request: Request, name: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page or partial, with the session's CSRF token in its context."""
    context.setdefault("csrf_token", csrf.session_token(request))
    context.setdefault("scope", None)
    context.setdefault("workspaces", ())
    context.setdefault("section", "")
    context.setdefault("path", request.url.path)
    return HTMLResponse(fragment(name, **context), status_code=status)


def redirect(request: Request, url: str) -> Response:
    """Answer a form post with "see other" (htmx: a page load of ``url``)."""
    if is_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> Response:
    """Send a signed-out visitor to the login page, back here afterwards."""
    if request.headers.get("accept", "").startswith("text/event-stream"):
        return Response(status_code=204)  # an EventSource stops on 204
    wanted = request.url.path if request.method == "GET" else "/"
    url = f"/login?next={quote(wanted, safe='/')}"
    return redirect(request, url)


def error_page(
    request: Request,
    status: int,
    message: str,
    *,
    problems: tuple[errors.Problem, ...] = (),
) -> HTMLResponse:
    """Render an error: a fragment for htmx, a whole page otherwise."""
    template = "partials/error.html" if is_htmx(request) else "error.html"
    return render(
        request,
        template,
        status=status,
        title=HTTPStatus(status).phrase,
        status_code=status,
        message=message,
        problems=problems,
    )


def _from_error(request: Request, exc: errors.OnwardError) -> Response:
    if isinstance(exc, errors.AuthenticationError) and not isinstance(
        exc, errors.RateLimitedError
    ):
        return login_redirect(request)
    status = next((s for kind, s in _STATUS_OF if isinstance(exc, kind)), 500)
    if isinstance(exc, errors.RateLimitedError):
        status = 429
    message = exc.message if status != 500 else "The server could not do this."
    if isinstance(exc, errors.StaleStateError):
        message = "The run changed since this page was shown: look again and retry."
    problems = (
        tuple(exc.problems) if isinstance(exc, errors.InvalidDefinitionError) else ()
    )
    return error_page(request, status, message, problems=problems)


class ConsoleRoute(APIRoute):
    """A console route: Onward errors become pages, every answer gets safe headers.

    It reads the body before its handler runs, so a body over the limit is
    the console's 413 page wherever it is sent (a live page's stream too).
    """

    def get_route_handler(
        self,
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler to render errors as pages and add the headers."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                await forms.read_body(request)
                response = await handler(request)
            except errors.OnwardError as exc:
                response = _from_error(request, exc)
            except HTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else ""
                response = error_page(request, exc.status_code, detail)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handle


class ConsoleStatic(StaticFiles):
    """The console's static files; a request's body is read (and limited) first."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body, then answer the file."""
        if scope["type"] == "http":
            async for _ in Request(scope, receive).stream():
                pass
        await super().__call__(scope, receive, send)
