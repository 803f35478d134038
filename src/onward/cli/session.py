"""
``onward login`` and ``onward logout``: sign in to a server, and save the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import click

from onward.cli import credentials
from onward.cli.backend import Options, pass_options
from onward.client import AuthenticationApiError, OnwardClient
from onward.client import models as m


@click.command()
@click.option("--url", "login_url", metavar="URL", help="The server (https://…).")
@click.option("--username", prompt=True, help="Your user name.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input."
)
@click.option(
    "--ca-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust the server's certificate from this CA bundle (PEM).",
)
@click.option(
    "--insecure", is_flag=True, help="Do not verify the server's TLS certificate."
)
@pass_options
def login(
    options: Options,
    login_url: str | None,
    username: str,
    password_stdin: bool,
    ca_cert: Path | None,
    insecure: bool,
) -> None:
    """Sign in to an Onward server; later commands use it.

    The server, token and workspace are saved in credentials.json in
    $ONWARD_CONFIG_DIR (default: your config directory), readable by you only.
    """
    saved = credentials.load()
    url = login_url or options.url or (saved.url if saved else None)
    if not url:
        msg = "give the server with --url URL (or ONWARD_URL)"
        raise click.UsageError(msg)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True)
    verify: bool | str = False if insecure else (str(ca_cert) if ca_cert else True)
    workspace = options.workspace or "default"
    signed_in = credentials.Credentials(url=url, workspace=workspace, verify=verify)
    token, me = asyncio.run(_sign_in(signed_in, username, password))
    path = credentials.save(
        credentials.Credentials(
            url=url, token=token.token, workspace=workspace, verify=verify
        )
    )
    click.echo(f"Logged in to {url} as {me.username} (workspace {workspace}).")
    click.echo(f"Credentials saved in {path}.")


async def _sign_in(
    found: credentials.Credentials, username: str, password: str
) -> tuple[m.Token, m.Me]:
    async with OnwardClient(found.url, verify=found.verify) as client:
        token = await client.login(username, password)
        return token, await client.me()


@click.command()
def logout() -> None:
    """End the saved session on its server and forget it."""
    saved = credentials.load()
    if saved is None:
        click.echo("Not logged in.")
        return
    if saved.token:
        asyncio.run(_sign_out(saved))
    credentials.remove()
    click.echo(f"Logged out of {saved.url}.")


async def _sign_out(saved: credentials.Credentials) -> None:
    async with OnwardClient(
        saved.url, token=saved.token, verify=saved.verify
    ) as client:
        with contextlib.suppress(AuthenticationApiError):
            await client.logout()  # an expired session is over already
