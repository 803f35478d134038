"""
The native REST API, served under ``/api/v1``: one router of every resource.
"""

from typing import Final

from fastapi import APIRouter

from onward.api.native import (
    events,
    routes_access,
    routes_auth,
    routes_data,
    routes_operations,
    routes_plans,
    routes_runs,
)

__all__ = ["ROUTERS", "router"]

#: the resources' routers, in the order of the OpenAPI document
ROUTERS: Final = tuple(
    module.router
    for module in (
        routes_auth,
        routes_access,
        routes_plans,
        routes_runs,
        events,
        routes_operations,
        routes_data,
    )
)

router = APIRouter()
for _router in ROUTERS:
    router.include_router(_router)
