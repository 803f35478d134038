"""
Watching a run until it rests (``--wait``) and following its log (``logs --follow``).

A terminal gets a Rich Live view refreshed by polling the run about twice a
second; pipes and tests get plain status lines, one per change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from onward.cli import views
from onward.cli.backend import Backend
from onward.domain.runs import AttemptStatus, RunStatus, StepStatus
from onward.service.queries import RunDetail

#: how often the run is read again
POLL_SECONDS: Final = 0.5
#: how long a due attempt may stay queued before the hint about `onward serve`
UNCLAIMED_AFTER: Final = timedelta(seconds=10)

#: the exit code of ``--wait`` for each status a run rests in
EXIT_CODES: Final[Mapping[RunStatus, int]] = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.HALTED: 10,
    RunStatus.FAILED: 11,
    RunStatus.CANCELLED: 12,
}


def rests(detail: RunDetail) -> bool:
    """Tell whether the run waits for nothing but an operator (or has ended)."""
    return detail.run.status in EXIT_CODES


def unclaimed(detail: RunDetail, now: datetime) -> bool:
    """Tell whether an attempt has been due for long without any worker taking it."""
    for stage in detail.stages:
        for target in stage.targets:
            for step in target.steps:
                for attempt in step.attempts:
                    due = attempt.not_before or attempt.queued_at
                    late = now - due > UNCLAIMED_AFTER
                    if attempt.status is AttemptStatus.QUEUED and late:
                        return True
    return False


def serve_hint(backend: Backend) -> str:
    """Return the hint shown when nothing takes the run's queued steps."""
    return (
        "Nothing has taken this run's queued steps for "
        f"{UNCLAIMED_AFTER.seconds} s: `onward serve` must be running on this "
        f"database ({backend.database})."
    )


class _Watch:
    """The state of one ``--wait``: what was shown, and whether the hint was."""

    def __init__(self, backend: Backend, console: Console, run_id: str) -> None:
        self.backend = backend
        self.console = console
        self.run_id = run_id
        self.hinted = False
        self.seen: dict[str, str] = {}
        self.announced: set[str] = set()

    def hint_due(self, detail: RunDetail) -> bool:
        """Tell whether the hint about `onward serve` is to be shown now (once)."""
        if self.hinted or not unclaimed(detail, datetime.now(UTC)):
            return False
        self.hinted = True
        return True

    def new_approvals(self, detail: RunDetail) -> Text | None:
        """Return how to decide the approvals that started waiting since last time."""
        waiting = views.waiting_approvals(detail)
        fresh = [a.attempt_id for _, a in waiting if a.attempt_id not in self.announced]
        if not fresh:
            return None
        self.announced.update(fresh)
        return views.render_approvals(detail.run.run_id, waiting)

    def changes(self, detail: RunDetail) -> list[Text]:
        """Return a line for the run and each step whose status changed."""
        lines: list[Text] = []
        now = views.clock(datetime.now(UTC))
        for key, label, status in _statuses(detail):
            first = key not in self.seen
            if self.seen.get(key) != status:
                self.seen[key] = status
                if first and status == "pending":
                    continue
                line = Text.assemble((now, "dim"), f" {label}: ")
                line.append_text(views.status_text(status))
                lines.append(line)
        return lines


def _statuses(detail: RunDetail) -> list[tuple[str, str, str]]:
    items = []
    for stage in detail.stages:
        for target in stage.targets:
            for step in target.steps:
                place = views.place_name(stage.name, target.name, step.name)
                status = views.step_status(step)
                if step.error and step.status is StepStatus.FAILED:
                    status = f"{status} ({views.shorten(step.error)})"
                key = f"{stage.index}.{target.index}.{step.index}"
                items.append((key, place, status))
    run = detail.run
    status = run.status.value
    if run.warnings and run.status is RunStatus.SUCCEEDED:
        status = f"{status} ({views.plural(run.warnings, 'warning')})"
    items.append(("run", f"run {run.run_id}", status))
    return items


async def wait_for_rest(backend: Backend, run_id: str, console: Console) -> int:
    """Show the run until it rests; return 0, 10, 11 or 12 by how it rests."""
    watch = _Watch(backend, console, run_id)
    if console.is_terminal:
        detail = await _live(watch)
    else:
        detail = await _plain(watch)
    return EXIT_CODES[detail.run.status]


async def _live(watch: _Watch) -> RunDetail:
    detail = await watch.backend.run_detail(watch.run_id)
    with Live(_live_view(watch, detail), console=watch.console) as live:
        while not rests(detail):
            await asyncio.sleep(POLL_SECONDS)
            detail = await watch.backend.run_detail(watch.run_id)
            watch.hint_due(detail)
            live.update(_live_view(watch, detail))
    return detail


def _live_view(watch: _Watch, detail: RunDetail) -> RenderableType:
    parts: list[RenderableType] = [views.render_run(detail)]
    if watch.hinted:
        parts.append(Text("\n" + serve_hint(watch.backend), style="yellow"))
    if not rests(detail):
        parts.append(Text("\nWatching… Ctrl-C stops watching; the run goes on.", "dim"))
    return Group(*parts)


async def _plain(watch: _Watch) -> RunDetail:
    while True:
        detail = await watch.backend.run_detail(watch.run_id)
        for line in watch.changes(detail):
            views.print_renderable(watch.console, line)
        approvals = watch.new_approvals(detail)
        if approvals is not None:
            views.print_renderable(watch.console, approvals)
        if watch.hint_due(detail):
            click.echo(serve_hint(watch.backend), err=True)
        if rests(detail):
            for part in views.next_steps(detail):
                views.print_renderable(watch.console, part)
            return detail
        await asyncio.sleep(POLL_SECONDS)


async def follow_logs(
    backend: Backend,
    run_id: str,
    console: Console,
    *,
    attempt_id: str | None = None,
    follow: bool = False,
) -> None:
    """Print a run's log; with ``follow``, keep printing until the run rests."""
    detail = await backend.run_detail(run_id)
    labels = views.attempt_labels(detail)
    after = 0
    while True:
        # read the status first: a run that rested before the read has no more lines
        rested = rests(detail)
        entries = await backend.logs(run_id, after_seq=after, attempt_id=attempt_id)
        if any(
            e.attempt_id is not None and e.attempt_id not in labels for e in entries
        ):
            labels = views.attempt_labels(await backend.run_detail(run_id))
        for entry in entries:
            views.print_renderable(console, views.log_line(entry, labels))
            after = max(after, entry.seq)
        if entries:
            continue
        if not follow or rested:
            return
        await asyncio.sleep(POLL_SECONDS)
        detail = await backend.run_detail(run_id)
