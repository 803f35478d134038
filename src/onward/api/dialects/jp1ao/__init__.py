"""
The Hitachi JP1/Automatic Operation dialect: tasks are runs, under ``/Automation/v1``.
"""

from fastapi import APIRouter

from onward.api.dialects.jp1ao import routes

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(routes.router)
# after every resource: what they leave unanswered under /Automation
router.include_router(routes.fallback)
