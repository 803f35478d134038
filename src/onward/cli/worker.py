"""
``onward worker``: the composition root of a worker process (Celery consumer).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import click

from onward.actions.catalog import ActionCatalog
from onward.cli.backend import Options, pass_options
from onward.config import Settings
from onward.executors import celery_app
from onward.ids import new_worker_id
from onward.logs import configure_logging
from onward.runtime import Runtime
from onward.worker.worker import Worker, WorkerThread


@click.command()
@click.option(
    "--queues",
    "-Q",
    default=celery_app.DEFAULT_QUEUE,
    show_default=True,
    help="Queues to take attempts from, comma-separated (a step's `queue:`).",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    help="Attempts run at once.  [default: the concurrency setting, 16]",
)
@click.option(
    "--name",
    "-n",
    help="This worker's name in heartbeats and in Celery.  [default: the host name]",
)
@click.option(
    "--broker",
    metavar="URL",
    help="The Celery broker: redis://HOST:PORT/DB or amqp://USER:PASS@HOST:PORT//.",
    envvar="ONWARD_BROKER_URL",
    show_envvar=True,
)
@pass_options
def worker(
    options: Options,
    queues: str,
    concurrency: int | None,
    name: str | None,
    broker: str | None,
) -> None:
    """Run a worker: take attempts from the broker's queues and run their steps.

    The worker shares the servers' database (ONWARD_DATABASE_URL or --db), the
    only truth: a message names an attempt, and the worker claims it there by
    compare-and-set, so a duplicated message does nothing.

    SIGTERM stops it gracefully: it takes no new attempt, lets running ones
    finish for `shutdown_grace` seconds, then reports those still running
    interrupted, so that each step's `on_interrupt` applies (retry on another
    worker, or halt the run). A second SIGTERM, or SIGQUIT, does that at once.
    """
    settings = options.settings(
        executor="celery",
        broker_url=broker,
        concurrency=concurrency,
        worker_name=name,
    )
    configure_logging(
        level=settings.log_level, json_format=settings.log_format == "json"
    )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    chosen = [queue.strip() for queue in queues.split(",") if queue.strip()]
    if not chosen:
        msg = "--queues names no queue"
        raise click.UsageError(msg)
    code = run_worker(settings, queues=chosen)
    if code:
        raise SystemExit(code)


def run_worker(settings: Settings, *, queues: list[str]) -> int:
    """Open the database, start the worker, consume until a signal; return the code.

    Raises:
        StorageError: the database could not be reached or migrated.
    """
    runtime = Runtime.open(settings, executes=False)
    if runtime.remote is None:  # the settings say "celery": this cannot happen
        msg = "the worker needs the celery executor"
        raise click.ClickException(msg)
    worker = Worker(
        engine=runtime.engine,
        catalog=ActionCatalog(),
        worker_id=new_worker_id(),
        name=settings.worker_name,
        heartbeat_interval=timedelta(seconds=settings.heartbeat_interval),
    )
    thread = WorkerThread(
        worker,
        shutdown_grace=timedelta(seconds=settings.shutdown_grace),
        on_close=runtime.close,
    )
    try:
        thread.start()
        click.echo(
            f"Worker {settings.worker_name} ({worker.worker_id}) takes attempts "
            f"from {', '.join(queues)} with {settings.concurrency} threads.",
            err=True,
        )
        return celery_app.run_worker(
            runtime.remote.app,
            thread,
            queues=queues,
            concurrency=settings.concurrency,
            name=settings.worker_name,
            loglevel=settings.log_level.upper(),
        )
    finally:
        thread.stop()
