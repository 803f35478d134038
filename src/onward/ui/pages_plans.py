"""
Console pages of plans: the list, a version's definition, upload and validate, start,
enable and disable.
"""

import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from onward import errors
from onward.errors import LocatedProblem, PlanInvalidError
from onward.service.plan_files import line_of
from onward.ui import csrf, plan_views
from onward.ui.forms import FormDep
from onward.ui.rendering import ConsoleRoute, is_htmx, redirect, render
from onward.ui.session import Author, ConsoleDep, Operator, Reader, render_page

router = APIRouter(
    prefix="/w/{workspace}", route_class=ConsoleRoute, include_in_schema=False
)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


@router.get("/plans")
async def plans(request: Request, scope: Reader, console: ConsoleDep) -> Response:
    """List the workspace's plans."""
    found = await console.plans.list_plans(scope.workspace)
    return await render_page(
        request, console, scope, "plans.html", section="plans", plans=found
    )


@router.get("/plans/new")
async def new_plan(
    request: Request,
    scope: Author,
    console: ConsoleDep,
    from_plan: Annotated[str, Query(alias="from", max_length=128)] = "",
) -> Response:
    """Show the plan upload form (holding a plan's latest text, when named)."""
    text = ""
    if from_plan:
        text = (await console.plans.get(scope.workspace, from_plan)).source
    return await render_page(
        request,
        console,
        scope,
        "plan_new.html",
        section="plans",
        text=text,
        problems=(),
        listing=(),
        checked=False,
    )


@router.post("/plans/validate")
async def validate_plan(
    request: Request,
    scope: Reader,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Check a plan text without saving it; show each problem at its line."""
    text = form.raw("source")
    problems = console.plans.validate(text)
    context: dict[str, Any] = {
        "problems": problems,
        "listing": plan_views.annotate(text, problems),
        "checked": True,
    }
    if is_htmx(request):
        return render(request, "partials/plan_problems.html", scope=scope, **context)
    return await render_page(
        request, console, scope, "plan_new.html", section="plans", text=text, **context
    )


@router.post("/plans")
async def save_plan(
    request: Request,
    scope: Author,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Save a plan text as the next version of its plan."""
    text = form.raw("source")
    try:
        applied = await console.plans.apply(scope.caller(), text)
    except errors.InvalidDefinitionError as exc:
        problems = _located(text, exc)
        return await render_page(
            request,
            console,
            scope,
            "plan_new.html",
            status=422,
            section="plans",
            text=text,
            problems=problems,
            listing=plan_views.annotate(text, problems),
            checked=True,
        )
    stored = applied.version
    return redirect(
        request,
        f"/w/{scope.workspace}/plans/{stored.name}"
        f"?version={stored.version}&saved={int(applied.created)}",
    )


def _located(
    text: str, exc: errors.InvalidDefinitionError
) -> tuple[LocatedProblem, ...]:
    if isinstance(exc, PlanInvalidError):
        return exc.located
    return tuple(
        LocatedProblem(path=p.path, message=p.message, line=line_of(text, p.path))
        for p in exc.problems
    )


@router.get("/plans/{name}")
async def plan(
    request: Request,
    name: str,
    scope: Reader,
    console: ConsoleDep,
    version: Annotated[str, Query(max_length=12)] = "",
    saved: Annotated[str, Query(max_length=1)] = "",
    switched: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    """Show a plan version: its definition, its text, its versions, a start form."""
    page = await plan_views.plan_page(console, scope.workspace, name, _number(version))
    return await render_page(
        request,
        console,
        scope,
        "plan.html",
        section="plans",
        page=page,
        saved=saved,
        switched=switched,
        idempotency_key=secrets.token_urlsafe(16),
    )


@router.post("/plans/{name}/runs")
async def start_run(
    request: Request,
    name: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Start a run of the plan version with the form's parameters."""
    try:
        view = await plan_views.start_run(console, scope, name, form)
    except errors.InvalidDefinitionError as exc:
        page = await plan_views.refused_start(console, scope, name, form, exc)
        return await render_page(
            request,
            console,
            scope,
            "plan.html",
            status=422,
            section="plans",
            page=page,
            saved="",
            switched="",
            idempotency_key=secrets.token_urlsafe(16),
        )
    return redirect(request, f"/w/{scope.workspace}/runs/{view.run.run_id}")


@router.post("/plans/{name}/switch")
async def switch_plan(
    request: Request,
    name: str,
    scope: Author,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Enable the plan (it starts runs again) or disable it (it starts none)."""
    switched = await console.switches.set_plan_enabled(
        name,
        enabled=_enabled(form.get("switch")),
        caller=scope.caller(reason=form.get("reason")),
    )
    state = "enabled" if switched.enabled else "disabled"
    return redirect(
        request, f"/w/{scope.workspace}/plans/{quote(name, safe='')}?switched={state}"
    )


def _enabled(switch: str) -> bool:
    if switch not in ("enable", "disable"):
        problem = errors.Problem("switch", "choose enable or disable")
        raise errors.InvalidDefinitionError([problem], subject="plan switch")
    return switch == "enable"
