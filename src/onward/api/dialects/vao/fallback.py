"""
VAO requests no resource takes: Web API's 404, or its 405 with ``Allow``.

Included after every other VAO route: the sign-in paths and anything under
``/api/v3`` that matched no route (or matched it with another method, HEAD,
OPTIONS and methods HTTP does not define included) are answered here, in any
case, in the vendor's envelope.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onward.api.dialects.routing import AnyMethod
from onward.api.dialects.vao import auth, routes
from onward.api.dialects.vao.routing import VaoRoute, unmatched
from onward.api.dialects.vao.schemas import PREFIX


class _Fallback(AnyMethod, VaoRoute):
    """A route of what the resources leave: every method, in the vendor's words."""


router = APIRouter(route_class=_Fallback, include_in_schema=False)

#: the paths answered here: the sign-in endpoints and all under the plans API
PATHS = ("/api/token", "/token", "/api/logout", f"{PREFIX}/{{path:path}}")


async def no_resource(request: Request) -> Response:
    """Answer a request that matches no resource as Web API does (404 or 405)."""
    unmatched(request, [*auth.router.routes, *routes.router.routes])


for _path in PATHS:
    router.add_api_route(_path, no_resource)
