"""
VAO routes: paths matched in any case, errors answered in the vendor's shapes.

ASP.NET Web API matches route templates whatever their case, so VAO clients
send ``/api/v3/plans/{id}/continue`` as well as ``/api/v3/Plans/{id}/Continue``.
A ``VaoRoute`` tries its path as spelled, then in any case: a match in another
case is served as if the path had been spelled the route's way (its parameters
keep the client's text). Only the dialect's own routes do so; the other
dialects and the native API keep their case-sensitive paths.

Requests that match no VAO resource, or not with their method, are answered
by ``unmatched``: Web API's 404, or its 405 with ``Allow``.
"""

import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, NoReturn

from fastapi import Request, Response
from starlette.routing import Match
from starlette.types import Scope

from onward.api.body_limit import LimitedRoute
from onward.api.dialects.vao import errors


class VaoRoute(LimitedRoute):
    """A route matched in any case, answering in the vendor's shapes whatever fails.

    It reads the body before its handler runs (``LimitedRoute``): a body over
    the limit is Web API's error with 413.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Build the route and its case-insensitive twin of the path's pattern."""
        super().__init__(path, endpoint, **kwargs)
        self._any_case = re.compile(self.path_regex.pattern, re.IGNORECASE)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match the path as spelled, else in any case (as the route spells it)."""
        found = super().matches(scope)
        if found[0] is not Match.NONE or scope["type"] != "http":
            return found
        root, route_path = _split_root(scope)
        loose = self._any_case.fullmatch(route_path)
        if loose is None:
            return found
        spelled = self.path_format.format(**loose.groupdict())
        return super().matches({**scope, "path": root + spelled})

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: errors become the vendor's errors."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.EXPECTED as exc:
                return errors.vendor_error(request, exc)
            # the API boundary: the vendor's clients must get the vendor's 500
            # envelope, never Onward's native problem+json, whatever failed
            except Exception:  # noqa: BLE001
                return errors.failure(request)

        return answer


def _split_root(scope: Scope) -> tuple[str, str]:
    """Return the request path as the app's root path and the path routes match.

    The split Starlette's routing makes (its ``get_route_path`` is private).
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return root, path[len(root) :]
    return "", path


def unmatched(request: Request, routes: Iterable[object]) -> NoReturn:
    """Refuse a request no route takes: 405 if some take its path, else 404.

    Args:
        request: the request.
        routes: the routes that might take its path with another method.
    """
    allowed = sorted(
        {
            method
            for route in routes
            if isinstance(route, VaoRoute)
            and route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods or ()
        }
    )
    if allowed:
        msg = f"The requested resource does not support http method '{request.method}'."
        raise errors.VaoRequestError(405, msg, headers={"Allow": ", ".join(allowed)})
    msg = f"No HTTP resource was found that matches the request URI '{request.url}'."
    raise errors.VaoRequestError(404, msg)
