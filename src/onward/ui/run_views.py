"""
Console models of run pages: the live parts, the log tail, the six choices, previews.
"""

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from onward.domain.events import ContinueOption
from onward.domain.plans import StageKind
from onward.domain.runs import Attempt, Run
from onward.service.ports import AuditEntry, LogEntry, RunFilter, RunPage
from onward.service.queries import Preview, RunDetail
from onward.service.workspace_runs import PreviewCommand
from onward.ui.console import Console

#: log lines a run page shows at first (the latest); the stream adds the rest
LOG_TAIL: Final = 1000
_LOG_PAGE: Final = 1000
_LOG_PAGES: Final = 20
#: the six continue options as the console words them: label and what it does
OPTION_TEXT: Final[Mapping[ContinueOption, tuple[str, str]]] = {
    ContinueOption.RETRY_STEP: (
        "Retry failed step",
        "Runs the failed step again (a new attempt), then its later steps.",
    ),
    ContinueOption.PROCEED_STEP: (
        "Proceed to next step",
        "The failed step stays failed (a warning); the target goes on with its "
        "next step.",
    ),
    ContinueOption.RETRY_TARGET: (
        "Retry target",
        "Runs all of the target's steps in this group again, from the first.",
    ),
    ContinueOption.PROCEED_TARGET: (
        "Skip target",
        "The target's remaining steps are skipped and it is marked failed; the "
        "group's other targets go on.",
    ),
    ContinueOption.RETRY_GROUP: (
        "Retry group",
        "Every target of the group, done or not, runs the group's steps again.",
    ),
    ContinueOption.PROCEED_GROUP: (
        "Skip rest of group",
        "Every unfinished target and step of the group is skipped; the next "
        "group starts.",
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunsPage:
    """One page of a workspace's runs, and the plans to filter them by."""

    page: RunPage
    plans: tuple[str, ...]


async def runs_page(console: Console, run_filter: RunFilter) -> RunsPage:
    """Return the runs the filter selects, and the workspace's plan names."""
    page = await console.runs.list_runs(run_filter)
    plans = await console.plans.list_plans(run_filter.workspace)
    return RunsPage(page=page, plans=tuple(p.name for p in plans))


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One continue option as the halt banner offers it."""

    option: ContinueOption
    label: str
    description: str
    #: False when a halt point is in a plan-level stage and the option is not a
    #: step option
    allowed: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRow:
    """An attempt with the names of its group, target and step."""

    attempt: Attempt
    place: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunLive:
    """What a run page shows that changes while the run goes on (logs aside)."""

    detail: RunDetail
    attempts: tuple[AttemptRow, ...]
    choices: tuple[Choice, ...]
    #: approval attempts that wait for a decision
    approvals: tuple[AttemptRow, ...]

    @property
    def run(self) -> Run:
        """Return the run record."""
        return self.detail.run

    def labels(self) -> dict[str, str]:
        """Return the place of each attempt by attempt id (for log lines)."""
        return {row.attempt.attempt_id: row.place for row in self.attempts}

    def banner_key(self) -> tuple[object, ...]:
        """Return what the halt banner and the actions depend on."""
        return (
            self.run.status,
            self.detail.halts,
            tuple(row.attempt.attempt_id for row in self.approvals),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLine:
    """A log line with the place of the attempt that wrote it."""

    entry: LogEntry
    place: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewView:
    """A preview of a continue or retry, ready to confirm."""

    command: PreviewCommand
    option: ContinueOption | None
    label: str
    preview: Preview


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """A whole run page."""

    live: RunLive
    logs: tuple[LogLine, ...]
    #: the sequence number of the last log line shown (the stream goes on there)
    log_seq: int
    #: older log lines were left out
    log_cut: bool
    audit: tuple[AuditEntry, ...]
    preview: PreviewView | None = None


async def live_view(console: Console, workspace: str, run_id: str) -> RunLive:
    """Return the parts of a run page that change as the run goes on."""
    detail = await console.runs.detail(workspace, run_id)
    plan_level = {s.index for s in detail.stages if s.kind != StageKind.GROUP.value}
    in_plan_level = any(h.place.lane.stage in plan_level for h in detail.halts)
    rows = sorted(
        (
            AttemptRow(
                attempt=attempt,
                place=f"{stage.name} / {target.name} / {step.name}",
            )
            for stage in detail.stages
            for target in stage.targets
            for step in target.steps
            for attempt in step.attempts
        ),
        key=lambda row: (row.attempt.queued_at, row.attempt.attempt_id),
    )
    choices = tuple(
        Choice(
            option=option,
            label=label,
            description=description,
            allowed=option.is_step_option or not in_plan_level,
        )
        for option, (label, description) in OPTION_TEXT.items()
    )
    approvals = tuple(
        row for row in rows if row.attempt.approval and row.attempt.status.is_in_flight
    )
    return RunLive(
        detail=detail, attempts=tuple(rows), choices=choices, approvals=approvals
    )


def log_lines(entries: Sequence[LogEntry], labels: Mapping[str, str]) -> list[LogLine]:
    """Return log entries with the place of the attempt that wrote each."""
    return [
        LogLine(entry=e, place=labels.get(e.attempt_id or "", "run")) for e in entries
    ]


async def run_view(
    console: Console,
    workspace: str,
    run_id: str,
    *,
    preview: tuple[PreviewCommand, ContinueOption | None] | None = None,
) -> RunView:
    """Return a whole run page: the run, its latest logs, its audit, a preview."""
    live = await live_view(console, workspace, run_id)
    tail: deque[LogEntry] = deque(maxlen=LOG_TAIL)
    after, seen = 0, 0
    for _ in range(_LOG_PAGES):
        batch = await console.runs.logs(
            workspace, run_id, after_seq=after, limit=_LOG_PAGE
        )
        tail.extend(batch)
        seen += len(batch)
        if batch:
            after = batch[-1].seq
        if len(batch) < _LOG_PAGE:
            break
    audit = await console.runs.audit(workspace, run_id)
    shown = None
    if preview is not None:
        shown = await preview_view(console, workspace, run_id, *preview)
    return RunView(
        live=live,
        logs=tuple(log_lines(tail, live.labels())),
        log_seq=after,
        log_cut=seen > len(tail),
        audit=tuple(audit),
        preview=shown,
    )


async def preview_view(
    console: Console,
    workspace: str,
    run_id: str,
    command: PreviewCommand,
    option: ContinueOption | None,
) -> PreviewView:
    """Return what a continue (with ``option``) or a retry would start and skip."""
    found = await console.runs.preview(workspace, run_id, command, option=option)
    label = OPTION_TEXT[option][0] if option is not None else "Retry the run"
    return PreviewView(command=command, option=option, label=label, preview=found)
