"""
The Celery application of the celery executor: its settings, its one task, its worker.

A message names one attempt and nothing else (``onward.run_attempt(run_id,
attempt_id)``); the database is the only truth. The worker that receives it
claims the attempt with a compare-and-set, so a duplicated or redelivered
message finds the attempt no longer queued and does nothing.

Messages are acknowledged once the attempt has ended (``acks_late``): a
worker killed before it claims an attempt leaves the message to be delivered
again (RabbitMQ at once, Redis after the visibility timeout), and the
servers' reconciler re-sends attempts still queued after ``redispatch_after``
in any case. An attempt claimed by a worker that dies is the heartbeat's
business: the servers report it ``interrupted``.
"""

from __future__ import annotations

import socket
import weakref
from collections.abc import Sequence
from typing import Any, Final, Protocol

from celery import Celery, platforms, signals
from celery.exceptions import Reject
from celery.platforms import EX_OK
from celery.worker import state as worker_state

#: the name of the task that runs one attempt
TASK: Final = "onward.run_attempt"
#: the queue of attempts whose step names none
DEFAULT_QUEUE: Final = "onward"
#: seconds Redis waits before handing an unacknowledged message to another worker
REDIS_VISIBILITY_TIMEOUT: Final = 3600


class AttemptHandler(Protocol):
    """What a worker process does with the messages it receives."""

    def run_attempt(self, run_id: str, attempt_id: str) -> bool:
        """Carry out one attempt (blocking); False hands the message back."""
        ...

    def begin_shutdown(self, *, quick: bool) -> None:
        """Stop taking attempts; ``quick``: hand running ones back at once."""
        ...


class _Binding:
    """The handler of an app's task, set when the app becomes a worker."""

    handler: AttemptHandler | None = None


_BINDINGS: weakref.WeakKeyDictionary[Any, _Binding] = weakref.WeakKeyDictionary()


#: the app's settings (see Celery's configuration reference)
_SETTINGS: Final[dict[str, object]] = {
    "task_default_queue": DEFAULT_QUEUE,
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "task_ignore_result": True,
    "task_serializer": "json",
    "accept_content": ["json"],
    # one message per free thread: the others stay in the queue for others
    "worker_prefetch_multiplier": 1,
    "worker_hijack_root_logger": False,
    "worker_send_task_events": False,
    # no broadcast commands: fewer queues and exchanges on the broker
    "worker_enable_remote_control": False,
    # a broker that goes away is waited for, however long it takes
    "broker_connection_retry_on_startup": True,
    "broker_connection_max_retries": None,
    "broker_transport_options": {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT},
    # a send that fails is the reconciler's business: do not hold servers up
    "task_publish_retry_policy": {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
}


def create_app(broker_url: str) -> Celery:
    """Return a Celery app on ``broker_url`` (``redis://`` or ``amqp://``).

    The app sends attempts (servers) and, given to :func:`run_worker`, runs
    them (workers). Nothing connects before the first message is sent.
    """
    app = Celery("onward", broker=broker_url, set_as_current=False)
    app.conf.update(_SETTINGS)
    binding = _BINDINGS[app] = _Binding()

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def run_attempt(run_id: str, attempt_id: str) -> None:
        handler = binding.handler
        if handler is None:
            msg = "this process only sends attempts"
            raise Reject(msg, requeue=True)
        if not handler.run_attempt(run_id, attempt_id):
            msg = "the worker is stopping"
            raise Reject(msg, requeue=True)

    return app


def run_worker(
    app: Celery,
    handler: AttemptHandler,
    *,
    queues: Sequence[str],
    concurrency: int,
    name: str,
    loglevel: str = "WARNING",
) -> int:
    """Consume ``queues`` with ``concurrency`` threads; return the exit code.

    SIGTERM (or Ctrl-C) is Celery's warm shutdown: no new message is taken,
    and ``handler.begin_shutdown(quick=False)`` lets running attempts finish.
    SIGQUIT, or a second stop signal, calls ``begin_shutdown(quick=True)``
    instead of Celery's cold shutdown, which cannot stop threads: the handler
    ends its attempts at once, and the warm shutdown completes.
    """
    _BINDINGS[app].handler = handler

    def quickly(*_: object) -> None:
        handler.begin_shutdown(quick=True)
        worker_state.should_stop = EX_OK

    def on_ready(**_: object) -> None:
        platforms.signals["SIGQUIT"] = quickly

    def on_shutting_down(**_: object) -> None:
        handler.begin_shutdown(quick=False)
        platforms.signals.update(SIGTERM=quickly, SIGINT=quickly, SIGQUIT=quickly)

    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutting_down.connect(on_shutting_down, weak=False)
    worker = app.Worker(
        queues=list(queues),
        concurrency=concurrency,
        pool="threads",
        hostname=nodename(name),
        loglevel=loglevel,
        quiet=True,
        without_gossip=True,
        without_mingle=True,
    )
    try:
        worker.start()
    finally:
        signals.worker_ready.disconnect(on_ready)
        signals.worker_shutting_down.disconnect(on_shutting_down)
    return int(worker.exitcode or 0)


def nodename(name: str) -> str:
    """Return the Celery node name of a worker: ``name@host`` unless given so."""
    return name if "@" in name else f"{name}@{socket.gethostname()}"
