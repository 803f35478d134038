"""
Console sessions: the login form, the session cookie, logout, and who is signed in.

The session is the API's own (``AuthService.login``): its secret lives in an
HttpOnly, SameSite=Lax cookie, Secure when the console is served over HTTPS.
A page of a workspace needs a role there, checked by the ``Reader``,
``Operator`` and ``Author`` dependencies exactly as the API checks it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from onward import errors
from onward.domain.access import Permission, Principal, Role
from onward.service.commands import Caller
from onward.ui import csrf
from onward.ui.console import Console, get_console
from onward.ui.forms import FormDep
from onward.ui.rendering import ConsoleRoute, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

#: the console's services
ConsoleDep = Annotated[Console, Depends(get_console)]
#: the workspace a signed-in user lands in when they have a role there
HOME_WORKSPACE: Final = "default"
_LOGIN_COOKIE_SECONDS: Final = 3600


async def current_principal(request: Request, console: ConsoleDep) -> Principal:
    """Return who the session cookie belongs to; raise AuthenticationError."""
    secret = request.cookies.get(csrf.SESSION_COOKIE, "")
    if not secret:
        msg = "Sign in to use the console"
        raise errors.AuthenticationError(msg)
    return await console.auth.authenticate(secret)


#: the signed-in principal (a signed-out visitor is sent to the login page)
SignedIn = Annotated[Principal, Depends(current_principal)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """A signed-in principal in one workspace, and what the role there allows."""

    principal: Principal
    workspace: str
    role: Role | None
    #: may start, continue, retry, cancel runs and decide approvals
    may_operate: bool
    #: may upload plans
    may_author: bool

    def caller(self, *, reason: str = "", idempotency_key: str = "") -> Caller:
        """Return the caller of a command sent from this scope."""
        return Caller(
            actor=self.principal.username,
            reason=reason,
            idempotency_key=idempotency_key or None,
            workspace=self.workspace,
        )


def _scope(permission: Permission) -> Callable[..., Awaitable[Scope]]:
    async def scope(workspace: str, principal: SignedIn, console: ConsoleDep) -> Scope:
        await console.access.authorize(principal, permission, workspace)
        return Scope(
            principal=principal,
            workspace=workspace,
            role=principal.role_in(workspace),
            may_operate=principal.may(Permission.OPERATE, workspace),
            may_author=principal.may(Permission.AUTHOR, workspace),
        )

    scope.__doc__ = f"Require the {permission.value} permission in the workspace."
    return scope


#: any role in the path's workspace
Reader = Annotated[Scope, Depends(_scope(Permission.READ))]
#: operator, author or admin in the path's workspace
Operator = Annotated[Scope, Depends(_scope(Permission.OPERATE))]
#: author or admin in the path's workspace
Author = Annotated[Scope, Depends(_scope(Permission.AUTHOR))]


async def render_page(
    request: Request,
    console: Console,
    scope: Scope,
    name: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a whole page of a workspace, with the workspaces for the picker."""
    workspaces = await console.access.list_workspaces(scope.principal)
    return render(
        request,
        name,
        status=status,
        scope=scope,
        workspaces=[w.name for w in workspaces],
        **context,
    )


def safe_next(target: str) -> str:
    """Return a local path to go to after login ("/" for anything else).

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so a
    target holding any of them, or starting with ``//``, is not followed.
    """
    local = target.startswith("/") and not target.startswith("//")
    if local and "\\" not in target and target.isprintable() and " " not in target:
        return target
    return "/"


def _login_form(
    request: Request, *, next_path: str, status: int = 200, message: str = ""
) -> Response:
    token = csrf.new_login_token()
    response = render(
        request,
        "login.html",
        status=status,
        csrf_token=token,
        next_path=safe_next(next_path),
        message=message,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        max_age=_LOGIN_COOKIE_SECONDS,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
async def login_page(
    request: Request, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """Show the login form."""
    return _login_form(request, next_path=next_path)


@router.post("/login")
async def login(
    request: Request, form: FormDep, console: ConsoleDep, _: csrf.LoginProtected
) -> Response:
    """Sign in with a password; set the session cookie and go where asked."""
    address = request.client.host if request.client is not None else ""
    next_path = form.get("next", "/")
    try:
        issued = await console.auth.login(
            form.get("username"), form.raw("password"), address=address
        )
    except errors.RateLimitedError as exc:
        message = f"Too many failed sign-ins: try again in {exc.retry_after} s."
        return _login_form(request, next_path=next_path, status=429, message=message)
    except errors.AuthenticationError:
        message = "Invalid username or password."
        return _login_form(request, next_path=next_path, status=401, message=message)
    response = redirect(request, safe_next(next_path))
    expires = issued.credential.expires_at
    now = console.engine.clock.now()
    lifetime = (expires - now).total_seconds() if expires else None
    response.set_cookie(
        csrf.SESSION_COOKIE,
        issued.secret,
        max_age=int(lifetime) if lifetime else None,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(
    request: Request, principal: SignedIn, console: ConsoleDep, _: csrf.Protected
) -> Response:
    """End the session and forget its cookie."""
    await console.access.logout(principal)
    response = redirect(request, "/login")
    response.delete_cookie(csrf.SESSION_COOKIE, path="/")
    return response


@router.get("/")
async def home(request: Request, principal: SignedIn) -> Response:
    """Go to the runs of the default workspace (or of the first one with a role)."""
    if principal.role_in(HOME_WORKSPACE) is not None:
        return redirect(request, f"/w/{HOME_WORKSPACE}/runs")
    held = sorted(principal.roles)
    if not held:
        return render(
            request,
            "error.html",
            status=403,
            title="No workspace",
            status_code=403,
            message="You have no role in any workspace: ask an admin for one.",
            problems=(),
        )
    return redirect(request, f"/w/{held[0]}/runs")


@router.get("/workspace")
async def pick_workspace(
    request: Request,
    principal: SignedIn,
    name: Annotated[str, Query(max_length=64)] = HOME_WORKSPACE,
) -> Response:
    """Go to the runs of the workspace chosen in the picker."""
    return redirect(request, f"/w/{_path_name(name)}/runs")


def _path_name(name: str) -> str:
    """Return a workspace name fit for a path (unsafe characters dropped)."""
    return "".join(c for c in name if c.isalnum() or c in "._-") or HOME_WORKSPACE
