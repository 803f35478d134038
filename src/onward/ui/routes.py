"""
The console's router: sessions, plan pages and run pages, none of them in OpenAPI.
"""

from fastapi import APIRouter

from onward.ui import pages_plans, pages_runs, session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(session.router)
router.include_router(pages_plans.router)
router.include_router(pages_runs.router)
