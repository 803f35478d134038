"""
The ``onward`` command: the click group, its global options and its exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any, Final

import click
import structlog

from onward import errors
from onward.cli import admin, keys, plans, runs, server, session, worker
from onward.cli.backend import Options, default_actor

__all__ = ["EXIT_CODES", "main", "onward"]

#: the exit code of each kind of error (click's usage errors exit with 2)
EXIT_CODES: Final[Mapping[type[errors.OnwardError], int]] = {
    errors.InvalidDefinitionError: 1,
    errors.NotFoundError: 3,
    errors.ConflictError: 4,
    errors.StorageError: 5,
}

EPILOG: Final = """\b
Exit codes:
  0   success
  1   invalid input (every problem is printed with its path)
  2   usage error (unknown option, missing argument, bad choice)
  3   not found (plan, run, attempt, key, user or workspace)
  4   conflict (impossible in the current state; the message says why)
  5   storage error (the database or the server could not be reached)
  10  --wait: the run halted
  11  --wait: the run failed
  12  --wait: the run was cancelled
  130 interrupted (Ctrl-C)

\b
Plan and run commands go to the server saved by `onward login` (or --url,
ONWARD_URL); with --db (ONWARD_DATABASE_URL) and no URL, they work on that
database directly. serve, db, admin and worker are local and use the database:
ONWARD_DATABASE_URL or --db, by default a SQLite file in the user's data
directory. See docs/operations.md for every setting.
"""


def exit_code_of(error: errors.OnwardError) -> int:
    """Return the exit code for an error: the first of its classes with one."""
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return 1


class _OnwardGroup(click.Group):
    """A group that turns Onward's errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report an OnwardError on stderr, without a traceback."""
        try:
            return super().invoke(ctx)
        except errors.OnwardError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(exit_code_of(exc))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


class _StderrNow:
    """A text stream writing to whatever ``sys.stderr`` is at the time."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def quiet_logging() -> None:
    """Log only warnings, to the current stderr, so that output stays clean."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger("warning"),
        logger_factory=structlog.PrintLoggerFactory(file=_StderrNow()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def _version() -> str:
    try:
        return metadata.version("onward")
    except metadata.PackageNotFoundError:
        return "unknown"


@click.group(
    cls=_OnwardGroup, epilog=EPILOG, context_settings={"max_content_width": 100}
)
@click.option(
    "--db",
    "database_url",
    envvar="ONWARD_DATABASE_URL",
    metavar="URL",
    help="Database: sqlite:///PATH, a file path or postgresql://…",
    show_envvar=True,
)
@click.option(
    "--url",
    envvar="ONWARD_URL",
    metavar="URL",
    help="The server of plan and run commands (default: the one of `onward login`).",
    show_envvar=True,
)
@click.option(
    "--workspace",
    envvar="ONWARD_WORKSPACE",
    metavar="NAME",
    help="The workspace of plan and run commands (default: the saved one).",
    show_envvar=True,
)
@click.option(
    "--actor",
    default=default_actor,
    show_default="your user name",
    help="Who the audit trail records as sending the commands.",
)
@click.version_option(_version(), prog_name="onward")
@click.pass_context
def onward(
    ctx: click.Context,
    database_url: str | None,
    url: str | None,
    workspace: str | None,
    actor: str,
) -> None:
    """Onward: a durable runbook orchestrator.

    Plans are groups of targets taken through steps; a run halts when a critical
    step fails and goes on when you decide how (`onward run continue`).
    """
    quiet_logging()
    ctx.obj = Options(
        database_url=database_url or None,
        actor=actor,
        url=url or None,
        workspace=workspace or None,
    )


onward.add_command(plans.plan)
onward.add_command(runs.run)
onward.add_command(server.serve)
onward.add_command(server.db)
onward.add_command(session.login)
onward.add_command(session.logout)
onward.add_command(admin.admin)
onward.add_command(keys.api_key)
onward.add_command(keys.access_key)
onward.add_command(worker.worker)


def main() -> None:
    """Run the ``onward`` command (the console script and ``python -m onward``)."""
    onward(prog_name="onward")
