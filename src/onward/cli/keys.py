"""
``onward api-key`` and ``onward access-key``: make, list and revoke keys on the server.

Both kinds of key belong to the signed-in user, act as that user and may be
limited to a workspace, a lower role and a lifetime; one group of commands is
built for each kind from :class:`KeyKind`. They go to the server only (there
is no ``--db`` form): the server holds the access keys' master secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import click
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from onward.cli import views
from onward.cli.backend import Options, pass_options
from onward.cli.remote import call_client
from onward.client import OnwardClient
from onward.client import models as m
from onward.clock import SystemClock
from onward.domain.access import Role
from onward.domain.plan_schema import parse_duration

_K = TypeVar("_K", bound=m.KeyRecord)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyKind(Generic[_K]):
    """What sets a kind of key apart in its commands; the rest is shared."""

    #: the command group, e.g. ``api-key``
    command: str
    #: the key in messages, e.g. ``API key``
    noun: str
    #: the group's help text
    help: str
    #: what to save when the key is made, e.g. ``secret key``
    to_save: str
    #: the client's list method (``user=`` keyword)
    list_keys: Callable[..., Awaitable[list[_K]]]
    #: the client's create method (name, then the limits as keywords)
    create: Callable[..., Awaitable[_K]]
    #: the client's revoke method (the key's id)
    revoke: Callable[..., Awaitable[None]]
    #: the key's id
    key_id: Callable[[_K], str]
    #: the labelled values shown once, when the key is made
    shown_once: Callable[[_K], Sequence[tuple[str, str | None]]]


API_KEY: KeyKind[m.ApiKey] = KeyKind(
    command="api-key",
    noun="API key",
    help="""Make, list and revoke API keys (for scripts and CI).

    An API key acts as you, within the limits given when it is made; pass it
    as ONWARD_TOKEN to the CLI, or as `Authorization: Bearer` to the API.
    """,
    to_save="secret",
    list_keys=OnwardClient.list_api_keys,
    create=OnwardClient.create_api_key,
    revoke=OnwardClient.revoke_api_key,
    key_id=lambda key: key.key_id,
    shown_once=lambda key: [("Secret", key.secret)],
)

ACCESS_KEY: KeyKind[m.AccessKey] = KeyKind(
    command="access-key",
    noun="access key",
    help="""Make, list and revoke access keys (AK/SK).

    An access key id (AK) and its secret key (SK) sign requests, for clients
    that authenticate by request signing (see docs/dialects.md); an access
    key acts as you, within the limits given when it is made. The server
    makes them only when it has ONWARD_ACCESS_KEY_MASTER set; otherwise
    `create` exits 4.
    """,
    to_save="secret key",
    list_keys=OnwardClient.list_access_keys,
    create=OnwardClient.create_access_key,
    revoke=OnwardClient.revoke_access_key,
    key_id=lambda key: key.access_key_id,
    shown_once=lambda key: [
        ("Access key id", key.access_key_id),
        ("Secret key", key.secret_key),
    ],
)


class Lifetime(click.ParamType[int]):
    """A lifetime such as ``30d``, ``12h`` or ``3600`` (seconds), as whole seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        """Return the lifetime in seconds; fail on another shape."""
        if isinstance(value, int):
            return value
        try:
            seconds = parse_duration(value).total_seconds()
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds != int(seconds):
            self.fail(f"{value!r} is not a whole number of seconds", param, ctx)
        return int(seconds)


_user_option = click.option(
    "--user",
    metavar="USER",
    help="Superusers: the keys of this user (user id or username).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_workspace_option = click.option(
    "--workspace",
    "workspace",
    metavar="NAME",
    help="Limit the key to this workspace (default: every one you have a role in).",
)
_role_option = click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    help="Limit the key to this role, or lower (default: your roles).",
)
_expires_option = click.option(
    "--expires-in",
    type=Lifetime(),
    metavar="DURATION",
    help="The key's lifetime: 30d, 12h, 90m… (default: until revoked).",
)


def key_group(kind: KeyKind[_K]) -> click.Group:
    """Return the group of a kind of key: ``create``, ``list`` and ``revoke``."""
    group = click.Group(kind.command, help=kind.help)
    for command in (_create(kind), _list(kind), _revoke(kind)):
        group.add_command(command)
    return group


def _create(kind: KeyKind[_K]) -> click.Command:
    @click.command(
        "create",
        help=f"Make the {kind.noun} NAME; its {kind.to_save} is shown this once.",
    )
    @click.argument("name")
    @_workspace_option
    @_role_option
    @_expires_option
    @_user_option
    @_json_option
    @pass_options
    def create(
        options: Options,
        name: str,
        workspace: str | None,
        role: str | None,
        expires_in: int | None,
        user: str | None,
        as_json: bool,
    ) -> None:
        key = call_client(
            options,
            lambda client: kind.create(
                client,
                name,
                workspace=workspace,
                role=role,
                expires_in=expires_in,
                user=user,
            ),
        )
        print_created(kind, key, as_json=as_json)

    return create


def _list(kind: KeyKind[_K]) -> click.Command:
    @click.command("list", help=f"List your {kind.noun}s, revoked ones included.")
    @_user_option
    @_json_option
    @pass_options
    def list_keys(options: Options, user: str | None, as_json: bool) -> None:
        keys = call_client(options, lambda client: kind.list_keys(client, user=user))
        if as_json:
            click.echo(views.dumps([_data(key, secret=False) for key in keys]))
        else:
            views.print_renderable(views.console(), render_keys(kind, keys))

    return list_keys


def _revoke(kind: KeyKind[_K]) -> click.Command:
    @click.command(
        "revoke", help=f"Revoke the {kind.noun} ID: it stops working at once."
    )
    @click.argument("key_id", metavar="ID")
    @pass_options
    def revoke(options: Options, key_id: str) -> None:
        call_client(options, lambda client: kind.revoke(client, key_id))
        click.echo(f"{kind.noun.capitalize()} {key_id} revoked.")

    return revoke


def print_created(kind: KeyKind[_K], key: _K, *, as_json: bool) -> None:
    """Print a new key with what is shown once, and warn that it is not again."""
    if as_json:
        click.echo(views.dumps(_data(key, secret=True)))
    else:
        click.echo(f"{kind.noun.capitalize()} {kind.key_id(key)} {_made(key)}.")
        labelled = kind.shown_once(key)
        width = max(len(label) for label, _ in labelled) + 1
        for label, value in labelled:
            click.echo(f"{label + ':':<{width}} {value or '(not shown again)'}")
    click.echo(f"Save the {kind.to_save} now: it is not shown again.", err=True)


def _data(key: m.KeyRecord, *, secret: bool) -> dict[str, Any]:
    """Return a key as data, its id (and secret) first; without the secret if asked."""
    data = key.model_dump(exclude=None if secret else {"secret", "secret_key"})
    own = {name: data[name] for name in data if name not in m.KeyRecord.model_fields}
    return own | data


def _made(key: m.KeyRecord) -> str:
    """Return ``(name) created: <limits>; <expiry>`` for a new key."""
    limits = [f"workspace {key.workspace} only"] if key.workspace else []
    limits += [f"role {key.role.value} at most"] if key.role else []
    expiry = f"expires {views.when(key.expires_at)}" if key.expires_at else ""
    return (
        f"({key.name}) created: {', '.join(limits) or 'all your roles'}; "
        f"{expiry or 'never expires'}"
    )


def _state(key: m.KeyRecord, now: datetime) -> Text:
    if key.revoked_at is not None:
        return Text("revoked", style="magenta")
    if key.expires_at is not None and key.expires_at <= now:
        return Text("expired", style="red")
    return Text("active", style="green")


def render_keys(kind: KeyKind[_K], keys: Sequence[_K]) -> RenderableType:
    """Return a table of keys, oldest first, with whether each still works."""
    if not keys:
        return Text(
            f"No {kind.noun}s. Make one: onward {kind.command} create NAME",
            style="dim",
        )
    now = SystemClock().now()
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("Id", "Name", "Workspace", "Role", "Created", "Expires", "State"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            kind.key_id(key),
            key.name,
            key.workspace or "any",
            key.role.value if key.role else "any",
            views.when(key.created_at),
            views.when(key.expires_at) or "never",
            _state(key, now),
        )
    return table


#: ``onward api-key``
api_key = key_group(API_KEY)
#: ``onward access-key``
access_key = key_group(ACCESS_KEY)
