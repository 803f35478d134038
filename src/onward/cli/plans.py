"""
``onward plan``: validate, apply, list, show, enable and disable plans.
"""

from __future__ import annotations

from typing import IO

import click

from onward import errors
from onward.cli import views
from onward.cli.backend import Intent, Options, call, offline_backend, pass_options
from onward.domain.plan_schema import parse_plan
from onward.service.plan_files import line_of


@click.group()
def plan() -> None:
    """Validate, apply, list, show, enable and disable plans."""


def located_problems(
    error: errors.InvalidDefinitionError, *, text: str, source: str
) -> list[str]:
    """Return each problem as ``FILE:LINE: path: message`` (no line when unknown)."""
    lines = []
    for problem in error.problems:
        if not problem.path and problem.message.startswith(source):
            lines.append(problem.message)  # a syntax error names its place itself
            continue
        line = line_of(text, problem.path)
        where = f"{source}:{line}" if line is not None else source
        lines.append(f"{where}: {problem}")
    return lines


def _check(options: Options, text: str, source: str) -> str:
    """Validate a plan; on problems print each one located and exit 1."""
    try:
        found = offline_backend(options).check_plan(text, source=source)
    except errors.InvalidDefinitionError as exc:
        for line in located_problems(exc, text=text, source=source):
            click.echo(line, err=True)
        raise click.exceptions.Exit(1) from exc
    return f"{found.name} ({views.plan_summary(found)})"


@plan.command("validate")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@pass_options
def validate(options: Options, file: IO[str]) -> None:
    """Check a plan file without storing it; print every problem with its line.

    FILE is a YAML or JSON plan ('-' reads standard input). Exits 1 when the
    plan is invalid, each problem printed as FILE:LINE: path: message.
    """
    summary = _check(options, file.read(), file.name)
    click.echo(f"{file.name}: valid plan {summary}")


@plan.command("apply")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="The plan file (YAML or JSON; '-' reads standard input).",
)
@pass_options
def apply(options: Options, file: IO[str]) -> None:
    """Store a plan; a changed plan gets a new version, an identical one does not."""
    text = file.read()
    _check(options, text, file.name)
    applied = call(options, lambda b: b.apply_plan(text, source=file.name))
    stored = applied.version
    outcome = "applied" if applied.changed else "unchanged"
    click.echo(f"{stored.name} version {stored.version} {outcome}")


@plan.command("list")
@pass_options
def list_plans(options: Options) -> None:
    """List the plans with their latest version, and whether they are enabled."""
    found = call(options, lambda b: b.list_plans())
    views.print_renderable(views.console(), views.render_plans(found))


@plan.command("show")
@click.argument("name")
@click.option("--version", "version", type=click.IntRange(min=1), help="A version.")
@click.option("--source", is_flag=True, help="Print the plan text as it was applied.")
@pass_options
def show(options: Options, name: str, version: int | None, source: bool) -> None:
    """Show a plan version (the latest by default): parameters, groups, steps."""
    shown = call(options, lambda b: b.show_plan(name, version))
    stored = shown.stored
    if source:
        click.echo(stored.source, nl=not stored.source.endswith("\n"))
        return
    rendered = views.render_plan(
        stored, shown.versions, parse_plan(stored.document), enabled=shown.enabled
    )
    views.print_renderable(views.console(), rendered)


_REASON_HELP = "Why: logged with your name and the time."


@plan.command("enable")
@click.argument("name")
@click.option("--reason", default="", help=_REASON_HELP)
@pass_options
def enable(options: Options, name: str, reason: str) -> None:
    """Enable a plan: it starts runs again and its triggers fire.

    Enabling an enabled plan changes nothing. Needs the author role.
    """
    _switch(options, name, enabled=True, reason=reason)


@plan.command("disable")
@click.argument("name")
@click.option("--reason", default="", help=_REASON_HELP)
@pass_options
def disable(options: Options, name: str, reason: str) -> None:
    """Disable a plan: it starts no run (manual, triggered or chained) until enabled.

    Runs already started go on. Disabling a disabled plan changes nothing.
    Needs the author role.
    """
    _switch(options, name, enabled=False, reason=reason)


def _switch(options: Options, name: str, *, enabled: bool, reason: str) -> None:
    intent = Intent(reason=reason)
    now = call(
        options, lambda b: b.set_plan_enabled(name, enabled=enabled, intent=intent)
    )
    click.echo(views.plan_switch(name, enabled=now))
