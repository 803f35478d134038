"""
Console pages of runs: the filtered list, a live run and its commands; operations.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from onward import errors
from onward.domain.events import ContinueOption
from onward.domain.runs import RunStatus
from onward.service.commands import parse_option
from onward.service.ports import RunFilter
from onward.service.workspace_runs import PreviewCommand
from onward.ui import csrf, run_views
from onward.ui.forms import Form, FormDep
from onward.ui.rendering import ConsoleRoute, is_htmx, redirect, render
from onward.ui.session import ConsoleDep, Operator, Reader, Scope, render_page
from onward.ui.sse import RunStream

router = APIRouter(
    prefix="/w/{workspace}", route_class=ConsoleRoute, include_in_schema=False
)

#: runs listed on one page
PAGE_SIZE: Final = 50
_RUN: Final = "/runs/{run_id}"


def run_filter(
    workspace: str,
    *,
    plan: str,
    statuses: list[str],
    since: str,
    until: str,
    cursor: str,
) -> RunFilter:
    """Return the filter of the runs list; values that mean nothing are left out."""
    known = {s.value for s in RunStatus}
    return RunFilter(
        workspace=workspace,
        plan_name=plan or None,
        statuses=tuple(RunStatus(s) for s in statuses if s in known),
        created_after=_day(since),
        created_before=_day(until, days=1),
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )


def _day(text: str, *, days: int = 0) -> datetime | None:
    """Return the start of a day (UTC), ``days`` later, or None if not a date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(days=days)


@router.get("/runs")
async def runs(
    request: Request,
    scope: Reader,
    console: ConsoleDep,
    plan: Annotated[str, Query(max_length=128)] = "",
    status: Annotated[list[str] | None, Query(max_length=16)] = None,
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """List the workspace's runs, newest first, filtered."""
    chosen = run_filter(
        scope.workspace,
        plan=plan,
        statuses=status or [],
        since=since,
        until=until,
        cursor=cursor,
    )
    page = await run_views.runs_page(console, chosen)
    given = [("plan", plan), *(("status", s) for s in status or [])]
    kept = [(k, v) for k, v in [*given, ("since", since), ("until", until)] if v]
    context: dict[str, Any] = {
        "page": page,
        "chosen": chosen,
        "since": since,
        "until": until,
        "query": urlencode(kept),
        "older": urlencode([*kept, ("cursor", page.page.next_cursor or "")]),
    }
    if is_htmx(request):
        return render(request, "partials/runs_table.html", scope=scope, **context)
    return await render_page(
        request, console, scope, "runs.html", section="runs", **context
    )


@router.get(_RUN)
async def run(
    request: Request, run_id: str, scope: Reader, console: ConsoleDep
) -> Response:
    """Show a run live: its matrix, halt banner, attempts, logs and audit."""
    view = await run_views.run_view(console, scope.workspace, run_id)
    return await render_page(
        request, console, scope, "run.html", section="runs", view=view
    )


@router.get(f"{_RUN}/events")
async def run_events(
    request: Request,
    run_id: str,
    scope: Reader,
    console: ConsoleDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    last_event_id: Annotated[str, Header(alias="Last-Event-ID", max_length=20)] = "",
) -> Response:
    """Stream the run page's changes as server-sent events until the run ends."""
    await console.runs.get(scope.workspace, run_id)
    resumed = int(last_event_id) if last_event_id.isdigit() else 0
    stream = RunStream(
        console,
        scope,
        run_id,
        after_seq=max(after, resumed),
        csrf_token=csrf.session_token(request),
    )
    return StreamingResponse(
        stream.events(request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _preview_of(form: Form) -> tuple[PreviewCommand, ContinueOption | None]:
    if form.get("command") == PreviewCommand.RETRY.value:
        return PreviewCommand.RETRY, None
    return PreviewCommand.CONTINUE, parse_option(form.get("option"))


@router.post(f"{_RUN}/preview")
async def preview(
    request: Request,
    run_id: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Show what a continue option (or a retry) would start and skip."""
    command, option = _preview_of(form)
    if is_htmx(request):
        shown = await run_views.preview_view(
            console, scope.workspace, run_id, command, option
        )
        return render(
            request, "partials/preview.html", scope=scope, shown=shown, run_id=run_id
        )
    view = await run_views.run_view(
        console, scope.workspace, run_id, preview=(command, option)
    )
    return await render_page(
        request, console, scope, "run.html", section="runs", view=view
    )


def _back(request: Request, scope: Scope, run_id: str) -> Response:
    return redirect(request, f"/w/{scope.workspace}/runs/{run_id}")


@router.post(f"{_RUN}/continue")
async def continue_run(
    request: Request,
    run_id: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Go on with a halted run by the chosen option (checked against the preview)."""
    await console.operations.continue_run(
        scope.caller(reason=form.get("reason")),
        run_id,
        parse_option(form.get("option")),
        preview_token=form.get("preview_token") or None,
    )
    return _back(request, scope, run_id)


@router.post(f"{_RUN}/retry")
async def retry_run(
    request: Request,
    run_id: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Run a failed run again from each failed step."""
    await console.operations.retry_run(
        scope.caller(reason=form.get("reason")),
        run_id,
        preview_token=form.get("preview_token") or None,
    )
    return _back(request, scope, run_id)


@router.post(f"{_RUN}/cancel")
async def cancel_run(
    request: Request,
    run_id: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Cancel a run: gracefully, or killing its running steps."""
    await console.operations.cancel_run(
        scope.caller(reason=form.get("reason")), run_id, force=form.checked("force")
    )
    return _back(request, scope, run_id)


def _approved(decision: str) -> bool:
    if decision not in ("approve", "reject"):
        problem = errors.Problem("decision", "choose approve or reject")
        raise errors.InvalidDefinitionError([problem], subject="approval")
    return decision == "approve"


@router.post(f"{_RUN}/approval")
async def decide_approval(
    request: Request,
    run_id: str,
    scope: Operator,
    console: ConsoleDep,
    form: FormDep,
    _: csrf.Protected,
) -> Response:
    """Approve or reject a waiting approval step."""
    await console.operations.decide_approval(
        scope.caller(reason=form.get("comment")),
        run_id,
        approved=_approved(form.get("decision")),
        attempt_id=form.get("attempt_id") or None,
        comment=form.get("comment"),
    )
    return _back(request, scope, run_id)


@router.get("/operations")
async def operations(request: Request, scope: Reader, console: ConsoleDep) -> Response:
    """List the workspace's operations (accepted commands), newest first."""
    found = await console.operations.list_operations(scope.workspace, limit=100)
    if is_htmx(request):
        return render(
            request, "partials/operations_table.html", scope=scope, operations=found
        )
    return await render_page(
        request,
        console,
        scope,
        "operations.html",
        section="operations",
        operations=found,
    )
