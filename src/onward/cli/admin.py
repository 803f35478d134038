"""
``onward admin``: accounts and access, local commands that open the database directly.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from onward import storage
from onward.cli.backend import Options, pass_options
from onward.clock import SystemClock
from onward.domain.access import Role
from onward.service.auth import DEFAULT_WORKSPACE, AuthService

_T = TypeVar("_T")

_password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of asking.",
)


def call_auth(
    options: Options, operation: Callable[[AuthService], Awaitable[_T]]
) -> _T:
    """Open the configured database, run one operation of AuthService on it, close."""

    async def _call() -> _T:
        url = options.settings().database_url or storage.default_database_url()
        store = storage.open_store(url)
        try:
            return await operation(AuthService(store=store, clock=SystemClock()))
        finally:
            await store.close()

    return asyncio.run(_call())


def read_password(*, from_stdin: bool) -> str:
    """Return a new password: stdin's first line, or asked twice at the terminal.

    Raises:
        click.UsageError: ``from_stdin`` and stdin has no password.
    """
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            msg = "--password-stdin: the first line of stdin is empty"
            raise click.UsageError(msg)
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def admin() -> None:
    """Manage accounts and access on the database directly (no server needed).

    Roles, per workspace: admin (everything), author (edits plans), operator
    (runs, continues, retries, cancels, approves), viewer (reads).
    """


@admin.command("create")
@click.argument("username")
@_password_stdin
@click.option(
    "--reset",
    is_flag=True,
    help="Give an existing user a new password and make them admin again.",
)
@pass_options
def create_admin(
    options: Options, username: str, password_stdin: bool, reset: bool
) -> None:
    """Create an admin: a superuser, admin of the default workspace.

    The password (at least 8 characters) is asked twice, or read from stdin
    with --password-stdin. A username that exists is refused unless --reset
    is given: use it when the admin's password is lost.
    """
    password = read_password(from_stdin=password_stdin)
    call_auth(options, lambda auth: auth.create_admin(username, password, reset=reset))
    done = "saved with its new password" if reset else "created"
    click.echo(
        f"Admin {username} {done}: superuser, admin of workspace {DEFAULT_WORKSPACE}."
    )


@admin.group("workspace")
def workspace() -> None:
    """Manage workspaces: each holds its own plans, runs and roles."""


@workspace.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the workspace is for.")
@pass_options
def create_workspace(options: Options, name: str, description: str) -> None:
    """Create the workspace NAME (letters, digits, '.', '-', '_')."""
    call_auth(options, lambda auth: auth.create_workspace(name, description))
    click.echo(f"Workspace {name} created.")


@admin.group("user")
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("username")
@click.option("--superuser", is_flag=True, help="Admin of every workspace.")
@_password_stdin
@click.option(
    "--no-password", is_flag=True, help="An account that signs in with API keys only."
)
@pass_options
def create_user(
    options: Options,
    username: str,
    superuser: bool,
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Create the user USERNAME, with no role until granted one.

    The password (at least 8 characters) is asked twice, or read from stdin
    with --password-stdin.
    """
    password = "" if no_password else read_password(from_stdin=password_stdin)
    call_auth(
        options,
        lambda auth: auth.create_user(username, password, superuser=superuser),
    )
    if superuser:
        click.echo(f"Superuser {username} created: admin of every workspace.")
    else:
        click.echo(f"User {username} created; give them a role with:")
        click.echo(f"  onward admin grant {username} WORKSPACE ROLE")


@admin.command("grant")
@click.argument("username")
@click.argument("workspace_name", metavar="WORKSPACE")
@click.argument("role", type=click.Choice([role.value for role in Role]))
@pass_options
def grant(options: Options, username: str, workspace_name: str, role: str) -> None:
    """Give USERNAME the ROLE in WORKSPACE, replacing the role they had there."""
    call_auth(options, lambda auth: auth.grant(username, workspace_name, Role(role)))
    click.echo(f"{username} is now {role} in workspace {workspace_name}.")


@admin.command("revoke-grant")
@click.argument("username")
@click.argument("workspace_name", metavar="WORKSPACE")
@pass_options
def revoke_grant(options: Options, username: str, workspace_name: str) -> None:
    """Take away USERNAME's role in WORKSPACE."""
    held = call_auth(options, lambda auth: auth.revoke_grant(username, workspace_name))
    if held:
        click.echo(f"{username} no longer has a role in workspace {workspace_name}.")
    else:
        click.echo(f"{username} had no role in workspace {workspace_name}.")
