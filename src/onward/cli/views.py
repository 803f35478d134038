"""
Rich rendering of runs for the CLI: the run tree, run lists, logs, audit and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from onward.domain.events import ContinueOption
from onward.domain.plans import Plan, Procedure, Step
from onward.domain.runs import Attempt, AttemptStatus, Run, RunStatus, StepStatus
from onward.service.ports import AuditEntry, LogEntry, PlanSummary, PlanVersion, RunPage
from onward.service.queries import HaltView, RunDetail, StageView, StepView

#: the style of each status word, whatever record it belongs to
STATUS_STYLES: Final[Mapping[str, str]] = {
    "pending": "dim",
    "queued": "cyan",
    "running": "blue",
    "waiting": "yellow",
    "halted": "bold red",
    "succeeded": "green",
    "failed": "red",
    "timed_out": "red",
    "interrupted": "red",
    "skipped": "dim italic",
    "cancelling": "magenta",
    "cancelled": "magenta",
}

#: what each continue option does, as shown next to its command
OPTION_HELP: Final[Mapping[ContinueOption, str]] = {
    ContinueOption.RETRY_STEP: "run the failed step again, then the next steps",
    ContinueOption.PROCEED_STEP: "leave the failed step failed, go on with the next",
    ContinueOption.RETRY_TARGET: "run all the target's steps of the group again",
    ContinueOption.PROCEED_TARGET: "skip the target's remaining steps (target failed)",
    ContinueOption.RETRY_GROUP: "run every target of the group again from the first",
    ContinueOption.PROCEED_GROUP: "skip the group's unfinished work, start the next",
}

_PLAN_LEVEL_KINDS: Final = frozenset({"before", "after"})
_ERROR_WIDTH: Final = 120
#: the width of output that goes to a pipe or a file
_PIPE_WIDTH: Final = 200


def console() -> Console:
    """Return a console on stdout; off a terminal, wide enough not to cut tables."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=max(out.width, _PIPE_WIDTH))
    return out


def status_text(status: str) -> Text:
    """Return a status word in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def plural(count: int, noun: str) -> str:
    """Return ``1 step``, ``2 steps``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def when(moment: datetime | None) -> str:
    """Return a time as local ``YYYY-MM-DD HH:MM:SS``, or an empty string."""
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def clock(moment: datetime) -> str:
    """Return a time of day, local ``HH:MM:SS``."""
    return moment.astimezone().strftime("%H:%M:%S")


def place_name(*names: str) -> str:
    """Return a step's place as ``group / target / step``."""
    return " / ".join(names)


# -- one run -------------------------------------------------------------------


def render_run(detail: RunDetail) -> RenderableType:
    """Return the whole view of a run: header, tree table, and what to do next."""
    parts: list[RenderableType] = [_header(detail.run), _tree(detail)]
    parts.extend(next_steps(detail))
    return Group(*parts)


def _header(run: Run) -> Text:
    text = Text.assemble(
        ("Run ", "bold"),
        (run.run_id, "bold cyan"),
        f"  {run.plan_name} v{run.plan_version}",
        f" ({run.procedure})  ",
        status_text(run.status.value),
    )
    details = [f"started by {run.triggered_by or '?'} ({run.trigger.value})"]
    details.append(f"created {when(run.created_at)}")
    if run.finished_at is not None:
        details.append(f"finished {when(run.finished_at)}")
    if run.run_attempt > 1:
        details.append(f"run attempt {run.run_attempt}")
    if run.warnings:
        details.append(plural(run.warnings, "warning"))
    text.append("\n" + ", ".join(details), style="dim")
    params = [
        f"{key}={value}" for key, value in run.params.items() if value is not None
    ]
    if params:
        text.append(f"\nparams: {', '.join(params)}", style="dim")
    return text


def _tree(detail: RunDetail) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("Group", "Target", "Step", "Status", "Tries", "Detail"):
        table.add_column(column, overflow="fold" if column == "Detail" else "ellipsis")
    for stage in detail.stages:
        table.add_section()
        for row in _stage_rows(stage):
            table.add_row(*row)
    return table


def _stage_rows(stage: StageView) -> Iterator[tuple[str | Text, ...]]:
    group = stage.name if stage.kind == "group" else f"({stage.kind})"
    for target in stage.targets:
        name = f"{target.name} (halted)" if target.halted else target.name
        untouched = all(step.status is StepStatus.PENDING for step in target.steps)
        if untouched:
            count = plural(len(target.steps), "step")
            yield group, name, Text(count, style="dim"), status_text("pending"), "", ""
        else:
            for step in target.steps:
                yield group, name, step.name, *_step_cells(step)
                group = name = ""
        group = ""


def step_status(step: StepView) -> str:
    """Return a step's status as shown, ``queued`` or ``waiting`` over ``running``."""
    last = step.attempts[-1] if step.attempts else None
    if last is not None and last.status is AttemptStatus.QUEUED:
        return "queued"
    if last is not None and last.approval and last.status.is_in_flight:
        return "waiting"
    return step.status.value


def _step_cells(step: StepView) -> tuple[Text, str, str]:
    last = step.attempts[-1] if step.attempts else None
    tries = str(len(step.attempts)) if step.attempts else ""
    return status_text(step_status(step)), tries, _step_detail(step, last)


def _step_detail(step: StepView, last: Attempt | None) -> str:
    if last is not None and last.approval and last.status.is_in_flight:
        return f"waits for approval (attempt {last.attempt_id})"
    if step.error and step.status is not StepStatus.SUCCEEDED:
        note = "" if step.critical else " (non-critical)"
        return shorten(step.error) + note
    if last is not None and last.status is AttemptStatus.QUEUED and last.not_before:
        return f"retry not before {clock(last.not_before)}"
    return ""


def shorten(message: str, width: int = _ERROR_WIDTH) -> str:
    """Return the first line of a message, cut to ``width`` characters."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def next_steps(detail: RunDetail) -> list[RenderableType]:
    """Return what an operator can do next with the run, as commands."""
    run = detail.run
    parts: list[RenderableType] = []
    if detail.halts:
        parts.append(_halts(detail))
    waiting = waiting_approvals(detail)
    if waiting:
        parts.append(render_approvals(run.run_id, waiting))
    if run.status is RunStatus.HALTED:
        parts.append(_continue_commands(detail))
    elif run.status is RunStatus.FAILED:
        parts.append(
            Text(f"Retry it from each failed step:  onward run retry {run.run_id}")
        )
    return parts


_HALT_TITLES: Final[Mapping[RunStatus, str]] = {
    RunStatus.HALTED: "Halted at {points}:",
    RunStatus.RUNNING: "Halting at {points} (once the running steps finish):",
    RunStatus.FAILED: "Failed at {points}:",
}


def _title(title: str, style: str = "bold") -> Text:
    return Text.assemble("\n", (title, style))


def _halts(detail: RunDetail) -> Text:
    title = _HALT_TITLES.get(detail.run.status, "Halt points ({points}):")
    text = _title(title.format(points=plural(len(detail.halts), "point")))
    for halt in detail.halts:
        place = place_name(halt.place.stage_name, halt.place.target_name)
        text.append(f"\n  {place_name(place, halt.place.step_name)}: ", style="red")
        text.append(shorten(halt.error))
    return text


def _continue_commands(detail: RunDetail) -> Text:
    options = continue_options(detail)
    text = _title("Go on with one of:")
    width = max(len(option.value) for option in options)
    for option in options:
        command = f"onward run continue {detail.run.run_id} --option {option.value}"
        text.append(f"\n  {command:<{len(command) - len(option.value) + width}}  ")
        text.append(OPTION_HELP[option], style="dim")
    return text


def continue_options(detail: RunDetail) -> list[ContinueOption]:
    """Return the options a halted run accepts (only step options at plan level)."""
    kinds = {detail.stages[h.place.lane.stage].kind for h in detail.halts}
    if kinds & _PLAN_LEVEL_KINDS:
        return [option for option in ContinueOption if option.is_step_option]
    return list(ContinueOption)


def waiting_approvals(detail: RunDetail) -> list[tuple[str, Attempt]]:
    """Return each approval that waits for a person, with its place."""
    return [
        (place_name(stage.name, target.name, step.name), attempt)
        for stage in detail.stages
        for target in stage.targets
        for step in target.steps
        for attempt in step.attempts
        if attempt.approval and attempt.status.is_in_flight
    ]


def render_approvals(run_id: str, waiting: Sequence[tuple[str, Attempt]]) -> Text:
    """Return the approvals that wait, with the commands that decide them."""
    text = _title("Waiting for approval:", "bold yellow")
    for place, attempt in waiting:
        flag = f" --attempt {attempt.attempt_id}" if len(waiting) > 1 else ""
        text.append(f"\n  {place} (attempt {attempt.attempt_id})")
        text.append(f"\n    onward run approve {run_id}{flag} --comment '…'")
        text.append(f"\n    onward run reject {run_id}{flag} --comment '…'")
    return text


# -- JSON ----------------------------------------------------------------------


def run_json(detail: RunDetail) -> dict[str, Any]:
    """Return a run's tree as plain JSON-ready data (``run show --json``)."""
    run = detail.run
    return {
        "run_id": run.run_id,
        "plan": run.plan_name,
        "plan_version": run.plan_version,
        "procedure": run.procedure,
        "status": run.status.value,
        "run_attempt": run.run_attempt,
        "params": plain(run.params),
        "warnings": run.warnings,
        "trigger": run.trigger.value,
        "triggered_by": run.triggered_by,
        "chain": run.chain,
        "created_at": plain(run.created_at),
        "started_at": plain(run.started_at),
        "finished_at": plain(run.finished_at),
        "halts": [_halt_json(halt) for halt in detail.halts],
        "groups": [_stage_json(stage) for stage in detail.stages],
    }


def _halt_json(halt: HaltView) -> dict[str, Any]:
    place = halt.place
    return {
        "group": place.stage_name,
        "target": place.target_name,
        "step": place.step_name,
        "error": halt.error,
    }


def _stage_json(stage: StageView) -> dict[str, Any]:
    return {
        "name": stage.name,
        "kind": stage.kind,
        "parallel": stage.parallel,
        "targets": [
            {
                "name": target.name,
                "status": target.status.value,
                "halted": target.halted,
                "steps": [_step_json(step) for step in target.steps],
            }
            for target in stage.targets
        ],
    }


def _step_json(step: StepView) -> dict[str, Any]:
    return {
        "name": step.name,
        "action": step.action,
        "critical": step.critical,
        "status": step.status.value,
        "error": step.error,
        "attempts": [_attempt_json(attempt) for attempt in step.attempts],
    }


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": attempt.attempt_id,
        "number": attempt.number,
        "run_attempt": attempt.run_attempt,
        "status": attempt.status.value,
        "approval": attempt.approval,
        "queued_at": plain(attempt.queued_at),
        "started_at": plain(attempt.started_at),
        "finished_at": plain(attempt.finished_at),
        "error": attempt.error,
        "output": plain(attempt.output),
    }


def plain(value: Any) -> Any:
    """Return ``value`` with datetimes, enums and mappings made JSON-ready."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def dumps(data: Any) -> str:
    """Return data as indented JSON."""
    return json.dumps(plain(data), indent=2, default=str)


# -- lists, logs, audit ----------------------------------------------------------


def render_runs(page: RunPage) -> RenderableType:
    """Return a table of runs, and the option to get the next page."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Run", "Plan", "Procedure", "Status", "Created", "By", "Warnings"):
        table.add_column(column, no_wrap=column == "Run")
    for run in page.runs:
        table.add_row(
            run.run_id,
            f"{run.plan_name} v{run.plan_version}",
            run.procedure,
            status_text(run.status.value),
            when(run.created_at),
            run.triggered_by,
            str(run.warnings or ""),
        )
    if not page.runs:
        return Text("No runs.", style="dim")
    if page.next_cursor is None:
        return table
    more = Text(f"More: --cursor {page.next_cursor}", style="dim")
    return Group(table, more)


@dataclass(frozen=True, slots=True)
class AttemptLabel:
    """Names an attempt in the log: where it ran and which try it was."""

    place: str
    number: int


def attempt_labels(detail: RunDetail) -> dict[str, AttemptLabel]:
    """Return every attempt of a run by id, with its place."""
    return {
        attempt.attempt_id: AttemptLabel(
            place_name(stage.name, target.name, step.name), attempt.number
        )
        for stage in detail.stages
        for target in stage.targets
        for step in target.steps
        for attempt in step.attempts
    }


def log_line(entry: LogEntry, labels: Mapping[str, AttemptLabel]) -> Text:
    """Return one run-log line: time, place and try, then the line itself."""
    label = labels.get(entry.attempt_id or "")
    where = f"{label.place} #{label.number}" if label else entry.attempt_id or "run"
    text = Text.assemble((clock(entry.at), "dim"), " ", (where, "cyan"), "  ")
    text.append(entry.line, style="red" if entry.stream == "stderr" else "")
    return text


def render_audit(entries: Sequence[AuditEntry]) -> RenderableType:
    """Return a run's audit trail as a table."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Time", "Actor", "Command", "Status", "Reason", "Details"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        change = f"{entry.status_before or '-'} → {entry.status_after}"
        details = json.dumps(plain(entry.details), default=str) if entry.details else ""
        table.add_row(
            when(entry.at), entry.actor, entry.command, change, entry.reason, details
        )
    return table


def print_renderable(console: Console, renderable: RenderableType) -> None:
    """Print without Rich guessing markup or highlighting in our data."""
    console.print(renderable, markup=False, highlight=False, soft_wrap=False)


# -- plans -----------------------------------------------------------------------


def render_plans(plans: Sequence[PlanSummary]) -> RenderableType:
    """Return a table of plans with their latest version and their state."""
    if not plans:
        return Text("No plans. Apply one: onward plan apply -f PLAN.yaml", style="dim")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Plan", "Latest", "Updated", "State"):
        table.add_column(column)
    for plan in plans:
        table.add_row(
            plan.name,
            f"v{plan.latest_version}",
            when(plan.updated_at),
            _plan_state(enabled=plan.enabled),
        )
    return table


def _plan_state(*, enabled: bool) -> Text:
    return Text("enabled") if enabled else Text("disabled", style="bold yellow")


def plan_switch(name: str, *, enabled: bool) -> str:
    """Return what ``plan enable``/``plan disable`` say of the plan afterwards."""
    if enabled:
        return f"Plan {name} is enabled: it may start runs."
    return (
        f"Plan {name} is disabled: it starts no run until `onward plan enable {name}`."
    )


def plan_summary(plan: Plan) -> str:
    """Return ``N groups, N targets, N steps`` for a plan's procedures."""
    stages = [s for p in plan.procedures.values() for s in p.stages()]
    groups = sum(1 for stage in stages if not stage.is_plan_level)
    targets = sum(len(s.targets) for s in stages if not s.is_plan_level)
    steps = sum(len(stage.steps) for stage in stages)
    return ", ".join(
        (plural(groups, "group"), plural(targets, "target"), plural(steps, "step"))
    )


def render_plan(
    stored: PlanVersion,
    versions: Sequence[PlanVersion],
    plan: Plan,
    *,
    enabled: bool = True,
) -> RenderableType:
    """Return a plan version: who made it, its parameters and its procedures."""
    numbers = ", ".join(str(v.version) for v in versions)
    head = Text.assemble(
        ("Plan ", "bold"),
        (stored.name, "bold cyan"),
        f" v{stored.version}  ({plan.kind.value}; {plan_summary(plan)})  ",
        _plan_state(enabled=enabled),
    )
    if not enabled:
        head.append(
            "\nstarts no run (manual, triggered or chained) until"
            f" `onward plan enable {stored.name}`",
            style="yellow",
        )
    head.append(
        f"\ncreated {when(stored.created_at)} by {stored.created_by or '?'};"
        f" versions: {numbers}",
        style="dim",
    )
    if plan.description:
        head.append(f"\n{plan.description}")
    parts: list[RenderableType] = [head]
    if plan.params:
        parts.append(_params_table(plan))
    parts.extend(_procedure_table(name, p) for name, p in plan.procedures.items())
    return Group(*parts)


def _params_table(plan: Plan) -> Table:
    table = Table(title="Parameters", title_justify="left", box=None, pad_edge=False)
    for column in ("Name", "Type", "Required", "Default", "Description"):
        table.add_column(column, header_style="bold")
    for spec in plan.params.values():
        default = "" if spec.default is None else str(spec.default)
        required = "yes" if spec.required else "no"
        table.add_row(spec.name, spec.type.value, required, default, spec.description)
    return table


def _procedure_table(name: str, procedure: Procedure) -> Table:
    title = f"Procedure {name}"
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in ("Group", "Targets", "Parallel", "Steps"):
        table.add_column(column, header_style="bold", overflow="fold")
    for stage in procedure.stages():
        steps = ", ".join(_step_label(step) for step in stage.steps)
        targets = (
            "" if stage.is_plan_level else ", ".join(t.name for t in stage.targets)
        )
        group = stage.name if not stage.is_plan_level else f"({stage.name})"
        table.add_row(group, targets, str(stage.parallel), steps)
    return table


def _step_label(step: Step) -> str:
    return f"{step.name} [{step.action}]" + ("" if step.critical else " (non-critical)")
