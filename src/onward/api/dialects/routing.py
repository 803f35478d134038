"""
Routing shared by the dialects: fallback routes that take every method.

FastAPI routes a function for the methods it names. A request with any other
method (WebDAV's ``PROPFIND``, a typo such as ``GTE``) would get Starlette's own
405 in Onward's native body, which no vendor's client expects. A dialect's
fallback routes are ``AnyMethod`` routes: whatever the method, a request on
their paths reaches the fallback, which answers in the vendor's envelope.
"""

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute


class AnyMethod(APIRoute):
    """A route that takes its paths with every method, named or not.

    A route naming no method takes them all (Starlette's and FastAPI's
    matching both skip the method check for an empty set). Such a route is
    in no OpenAPI document, yet needs an operation id of its own.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        """Build the route for its path, with no method named."""
        kwargs.update(methods=[], include_in_schema=False)
        if kwargs.get("operation_id") is None:
            kwargs["operation_id"] = f"{endpoint.__name__}_any_method_{path}"
        super().__init__(path, endpoint, **kwargs)
