"""
The Veeam Availability Orchestrator v3 dialect: sign-in, plans and their operations.

Vendor words live only here; see docs/dialects.md for the mapping of VAO
concepts onto Onward's and what is not supported.
"""

from fastapi import APIRouter

from onward.api.dialects.vao import auth, fallback, routes

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(routes.router)
router.include_router(fallback.router)
