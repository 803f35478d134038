"""
``onward serve`` and ``onward db``: the local commands, composition roots of a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shlex
import signal
import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click
import structlog
import uvicorn

from onward import demo as demo_plan
from onward import storage
from onward.api.app import create_app
from onward.cli import listeners
from onward.cli.backend import Options, call_local, display_url, pass_options
from onward.config import Settings
from onward.domain.runs import Run
from onward.logs import configure_logging
from onward.runtime import Runtime

_log = structlog.get_logger("onward.server")


@click.command()
@click.option("--host", help="Address to listen on.  [default: 127.0.0.1]")
@click.option("--port", type=click.IntRange(0, 65535), help="Port.  [default: 8400]")
@click.option("--concurrency", type=click.IntRange(min=1), help="Steps run at once.")
@click.option("--demo", is_flag=True, help="Apply the demo plan and start a run of it.")
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate chain (PEM): serve HTTPS (with --keyfile).",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="The certificate's private key (PEM).",
)
@pass_options
def serve(
    options: Options,
    host: str | None,
    port: int | None,
    concurrency: int | None,
    demo: bool,
    certfile: str | None,
    keyfile: str | None,
) -> None:
    """Run the server: carry out queued steps and serve the API on HTTP.

    SIGTERM or Ctrl-C stop it gracefully: running steps get `shutdown_grace`
    seconds to finish. Settings come from ONWARD_* variables and
    ONWARD_CONFIG_FILE; the options here win over them.
    """
    settings = options.settings(
        host=host,
        port=port,
        concurrency=concurrency,
        certfile=certfile,
        keyfile=keyfile,
    )
    configure_logging(
        level=settings.log_level, json_format=settings.log_format == "json"
    )
    # Alembic tells of its dialect on every start at INFO: keep that for debug
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if demo:
        started = call_local(options, lambda backend: backend.start_demo())
        click.echo(demo_tour(started, settings))
    runtime = Runtime.open(settings, executes=True)
    if not serve_app(runtime, settings):
        msg = "the server could not start (see the log above)"
        raise click.ClickException(msg)


def serve_app(runtime: Runtime, settings: Settings) -> bool:
    """Serve the app until a signal stops it; tell whether it had started.

    The main server (``host:port``) runs the app's lifespan, hence the runtime;
    the further listeners the settings ask for (``https_listeners``) serve the
    same app once it has started. Every socket is bound before anything starts, so a
    taken port stops the command at once.

    Raises:
        click.ClickException: a certificate or key cannot be loaded.
    """
    app = create_app(runtime)
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    # open connections (event streams) get as long as running steps to finish
    grace = math.ceil(settings.shutdown_grace)
    main = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        ssl_certfile=settings.certfile,
        ssl_keyfile=settings.keyfile,
        log_config=None,
        log_level=level,
        timeout_graceful_shutdown=grace,
    )
    further = listeners.configured(
        app, settings, log_level=level, timeout_graceful_shutdown=grace
    )
    servers = [_Server(config) for config in (main, *further)]
    with _signals_stop_quietly():
        try:
            sockets = [_bind(server.config) for server in servers]
            with asyncio.Runner() as runner:
                runner.run(_serve_in_turn(servers, sockets))
        except SystemExit:
            # uvicorn exits 1 or 3 when it cannot bind or start: 3 means "not
            # found" here, so the caller reports it instead
            return False
    if servers[0].started:
        _log.info("server.stopped")
    return servers[0].started


class _Server(uvicorn.Server):
    """A uvicorn server that tells when it has started."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        #: set once the lifespan has started and the socket listens
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start as uvicorn does, then set ``ready``."""
        await super().startup(sockets=sockets)
        self.ready.set()


def _bind(config: uvicorn.Config) -> socket.socket:
    """Load ``config`` (its TLS files) and bind its socket; uvicorn logs failures."""
    try:
        config.load()
    except (OSError, ssl.SSLError) as exc:
        msg = f"cannot serve HTTPS on {config.host}:{config.port}: {exc}"
        raise click.ClickException(msg) from exc
    return config.bind_socket()


async def _serve_in_turn(servers: list[_Server], sockets: list[socket.socket]) -> None:
    """Serve the first server, then the others once it has started.

    When one stops, all stop. Each server catches SIGINT/SIGTERM while it
    serves and raises them again for the one before it when it is done, so a
    signal stops the further listeners first, then the main server.
    """
    main = servers[0]
    tasks = [asyncio.create_task(main.serve(sockets=sockets[:1]))]
    started = asyncio.create_task(main.ready.wait())
    await asyncio.wait([tasks[0], started], return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if main.started:
        tasks += [
            asyncio.create_task(server.serve(sockets=[sock]))
            for server, sock in zip(servers[1:], sockets[1:], strict=True)
        ]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Do nothing: the server has already shut down when this runs."""


@contextlib.contextmanager
def _signals_stop_quietly() -> Iterator[None]:
    # uvicorn handles SIGINT/SIGTERM while serving (a graceful shutdown), then
    # raises the signal again so that the previous handler runs: ignoring it
    # then makes a graceful stop exit 0, without a KeyboardInterrupt traceback.
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, _ignore) for signum in handled}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def program() -> str:
    """Return how ``onward`` was invoked, to print commands that work as they are."""
    invoked = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("onward")
    if invoked.name == "onward":
        return shlex.quote(str(invoked))
    return f"{shlex.quote(sys.executable)} -m onward"


def demo_tour(run: Run, settings: Settings) -> str:
    """Return the "what to try next" block printed by ``serve --demo``."""
    onward = program()
    scheme = "https" if settings.certfile else "http"
    url = f"{scheme}://{settings.host}:{settings.port}"
    admin = os.environ.get("ONWARD_ADMIN_USERNAME")
    if admin:
        login = f"  {onward} login --url {url} --username {shlex.quote(admin)}\n"
    else:
        login = ""
        if settings.database_url:
            onward += f" --db {shlex.quote(display_url(settings.database_url))}"
    run_id = run.run_id
    return f"""
Demo: run {run_id} of plan {demo_plan.PLAN_NAME} has started.
In a few seconds it halts: databases / db2 / check replication fails its first try.

What to try next, in a second terminal:
{login}  {onward} run list
  {onward} run show {run_id}
  {onward} run logs {run_id}
  {onward} run continue {run_id} --option retry-step --wait
  {onward} run audit {run_id}

Server: {url}/  (Ctrl-C stops it)
"""


@click.group()
def db() -> None:
    """Migrate the database schema (`onward serve` upgrades it by itself)."""


def _database(options: Options) -> str:
    return options.settings().database_url or storage.default_database_url()


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_options
def upgrade(options: Options, revision: str) -> None:
    """Migrate the database up to a revision (the latest by default)."""
    url = _database(options)
    storage.upgrade(url, revision)
    click.echo(f"Database {display_url(url)} upgraded to {revision}.")


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_options
def downgrade(options: Options, revision: str, yes: bool) -> None:
    """Migrate the database down to REVISION ('base' drops every table)."""
    url = _database(options)
    if not yes:
        question = f"Downgrade {display_url(url)} to {revision}? Data may be lost."
        click.confirm(question, abort=True)
    storage.downgrade(url, revision)
    click.echo(f"Database {display_url(url)} downgraded to {revision}.")
