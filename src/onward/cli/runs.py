"""
``onward run``: start, list, show, continue, retry, cancel, approve and read runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import click

from onward.cli import views, watch
from onward.cli.backend import Backend, Intent, Options, call, pass_options
from onward.domain.events import ContinueOption
from onward.domain.plans import DEFAULT_PROCEDURE
from onward.domain.runs import Run, RunStatus

_F = TypeVar("_F", bound=Callable[..., Any])


@click.group()
def run() -> None:
    """Start runs and take them to the end: show, continue, retry, cancel, approve."""


def intent_options(command: _F) -> _F:
    """Add ``--reason`` and ``--idempotency-key`` to a command that changes a run."""
    command = click.option(
        "--idempotency-key",
        metavar="KEY",
        help="Send the command once: the same key again returns the first outcome.",
    )(command)
    return click.option(
        "--reason", default="", help="Why: recorded in the run's audit trail."
    )(command)


def wait_option(command: _F) -> _F:
    """Add ``--wait``: watch the run until it rests, exit by how it rests."""
    return click.option(
        "--wait",
        is_flag=True,
        help="Watch the run until it rests; exit 0 succeeded, 10 halted, "
        "11 failed, 12 cancelled.",
    )(command)


def parse_params(pairs: Sequence[str]) -> dict[str, str]:
    """Return ``k=v`` pairs as a mapping; raise click.BadParameter on another shape."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            msg = f"expected NAME=VALUE, got {pair!r}"
            raise click.BadParameter(msg, param_hint="'--param'")
        params[key.strip()] = value
    return params


def _act(
    options: Options,
    operation: Callable[[Backend], Awaitable[Run]],
    done: str,
    *,
    wait: bool = False,
) -> None:
    """Send one command; print its outcome; with ``wait``, watch the run to its rest."""

    async def act(backend: Backend) -> int:
        changed = await operation(backend)
        click.echo(f"{done} run {changed.run_id}: {changed.status.value}")
        if not wait:
            click.echo(f"See it with: onward run show {changed.run_id}")
            return 0
        return await watch.wait_for_rest(backend, changed.run_id, views.console())

    code = call(options, act)
    if code:
        raise click.exceptions.Exit(code)


@run.command("start")
@click.argument("plan_name", metavar="PLAN")
@click.option(
    "--version", type=click.IntRange(min=1), help="The plan version (default: latest)."
)
@click.option(
    "--procedure", default=DEFAULT_PROCEDURE, show_default=True, help="The procedure."
)
@click.option(
    "--param",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run parameter (repeatable).",
)
@click.option(
    "--chain", is_flag=True, help="Start the plan's chain when the run succeeds."
)
@wait_option
@intent_options
@pass_options
def start(
    options: Options,
    plan_name: str,
    version: int | None,
    procedure: str,
    pairs: tuple[str, ...],
    chain: bool,
    wait: bool,
    reason: str,
    idempotency_key: str | None,
) -> None:
    """Start a run of PLAN; it is queued for `onward serve` to carry out."""
    params = parse_params(pairs)
    intent = Intent(reason=reason, idempotency_key=idempotency_key)
    _act(
        options,
        lambda b: b.start_run(
            plan_name,
            version=version,
            procedure=procedure,
            params=params,
            chain=chain,
            intent=intent,
        ),
        "Started",
        wait=wait,
    )


@run.command("list")
@click.option("--plan", "plan_name", help="Only runs of this plan.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([status.value for status in RunStatus]),
    help="Only runs in this status (repeatable).",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--cursor", help="The cursor printed under the previous page.")
@pass_options
def list_runs(
    options: Options,
    plan_name: str | None,
    statuses: tuple[str, ...],
    limit: int,
    cursor: str | None,
) -> None:
    """List runs, newest first."""
    page = call(
        options,
        lambda b: b.list_runs(
            plan_name=plan_name,
            statuses=[RunStatus(status) for status in statuses],
            limit=limit,
            cursor=cursor,
        ),
    )
    views.print_renderable(views.console(), views.render_runs(page))


@run.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print the run tree as JSON.")
@pass_options
def show(options: Options, run_id: str, as_json: bool) -> None:
    """Show a run: groups, targets and steps with status, tries, errors, halt points."""
    detail = call(options, lambda b: b.run_detail(run_id))
    if as_json:
        click.echo(views.dumps(views.run_json(detail)))
    else:
        views.print_renderable(views.console(), views.render_run(detail))


@run.command("continue")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--option",
    "option",
    required=True,
    type=click.Choice([option.value for option in ContinueOption]),
    help="How to go on from every halt point.",
)
@wait_option
@intent_options
@pass_options
def continue_(
    options: Options,
    run_id: str,
    option: str,
    wait: bool,
    reason: str,
    idempotency_key: str | None,
) -> None:
    """Go on with a halted run.

    \b
    retry-step      run the failed step again, then the target's next steps
    proceed-step    leave the failed step failed, go on with the target's next step
    retry-target    run all the target's steps of the group again from the first
    proceed-target  skip the target's remaining steps (the target is failed)
    retry-group     run every target of the group again from the first step
    proceed-group   skip the group's unfinished targets and steps, start the next group
    """
    intent = Intent(reason=reason, idempotency_key=idempotency_key)
    _act(
        options,
        lambda b: b.continue_run(run_id, option, intent),
        f"Continued ({option})",
        wait=wait,
    )


@run.command("retry")
@click.argument("run_id", metavar="RUN")
@wait_option
@intent_options
@pass_options
def retry(
    options: Options, run_id: str, wait: bool, reason: str, idempotency_key: str | None
) -> None:
    """Run a failed run again from each failed step; succeeded steps are not rerun."""
    intent = Intent(reason=reason, idempotency_key=idempotency_key)
    _act(options, lambda b: b.retry_run(run_id, intent), "Retried", wait=wait)


@run.command("cancel")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--force", is_flag=True, help="Kill running steps instead of letting them finish."
)
@intent_options
@pass_options
def cancel(
    options: Options, run_id: str, force: bool, reason: str, idempotency_key: str | None
) -> None:
    """Cancel a run: start nothing new; with --force, kill the running steps too."""
    intent = Intent(reason=reason, idempotency_key=idempotency_key)
    _act(
        options,
        lambda b: b.cancel_run(run_id, force=force, intent=intent),
        "Cancelled" if not force else "Cancelled (force)",
    )


def _decide(
    options: Options,
    run_id: str,
    attempt_id: str | None,
    comment: str,
    *,
    approved: bool,
) -> None:
    _act(
        options,
        lambda b: b.decide_approval(
            run_id,
            approved=approved,
            attempt_id=attempt_id,
            comment=comment,
            intent=Intent(reason=comment),
        ),
        "Approved" if approved else "Rejected",
    )


_attempt_option = click.option(
    "--attempt",
    "attempt_id",
    metavar="ID",
    help="The approval to decide, when several wait.",
)
_comment_option = click.option(
    "--comment", default="", help="Recorded with the decision."
)


@run.command("approve")
@click.argument("run_id", metavar="RUN")
@_attempt_option
@_comment_option
@pass_options
def approve(
    options: Options, run_id: str, attempt_id: str | None, comment: str
) -> None:
    """Approve the approval step a run waits on; the run goes on."""
    _decide(options, run_id, attempt_id, comment, approved=True)


@run.command("reject")
@click.argument("run_id", metavar="RUN")
@_attempt_option
@_comment_option
@pass_options
def reject(options: Options, run_id: str, attempt_id: str | None, comment: str) -> None:
    """Reject the approval step a run waits on; the step fails."""
    _decide(options, run_id, attempt_id, comment, approved=False)


@run.command("logs")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing new lines until the run rests."
)
@click.option(
    "--attempt", "attempt_id", metavar="ID", help="Only this attempt's lines."
)
@pass_options
def logs(options: Options, run_id: str, follow: bool, attempt_id: str | None) -> None:
    """Print a run's log: every line its steps wrote, with where it came from."""
    call(
        options,
        lambda b: watch.follow_logs(
            b, run_id, views.console(), attempt_id=attempt_id, follow=follow
        ),
    )


@run.command("audit")
@click.argument("run_id", metavar="RUN")
@pass_options
def audit(options: Options, run_id: str) -> None:
    """Print a run's audit trail: who did what, when, why, and what it changed."""
    entries = call(options, lambda b: b.audit(run_id))
    views.print_renderable(views.console(), views.render_audit(entries))
