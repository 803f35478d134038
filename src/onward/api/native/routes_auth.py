"""
Native routes of signing in and out: login, logout, and who the caller is.
"""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onward.api.body_limit import LimitedRoute
from onward.api.deps import CurrentPrincipal, ServicesDep
from onward.api.idempotency import Idem, Reply
from onward.api.native.schemas import LoginIn, MeOut, TokenOut, problem_responses
from onward.service.commands import Caller

router = APIRouter(tags=["auth"], route_class=LimitedRoute)


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses=problem_responses(400, 401, 422, 429, 503),
)
async def login(body: LoginIn, request: Request, services: ServicesDep) -> TokenOut:
    """Sign in with a password; the token is shown once and expires.

    Repeated failures for an account or an address are refused with 429 and
    Retry-After for a while. An Idempotency-Key is ignored here: a second login
    makes a second session, and tokens are never stored in clear.
    """
    address = request.client.host if request.client is not None else ""
    issued = await services.auth.login(body.username, body.password, address=address)
    return TokenOut.of(issued)


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 409, 422, 503),
)
async def logout(
    principal: CurrentPrincipal, idem: Idem, services: ServicesDep
) -> Response:
    """End the session the request is signed in with (not an API key: 409)."""

    async def act(caller: Caller) -> Reply:
        await services.access.logout(principal)
        return Reply(status=204)

    return await idem.run(act)


@router.get("/me", response_model=MeOut, responses=problem_responses(401, 503))
async def me(principal: CurrentPrincipal) -> MeOut:
    """Return who the caller is, with their role in each workspace."""
    return MeOut.of(principal)
