"""
The worker: claims the attempts it is sent, runs them, reports them; heartbeats.

:class:`Worker` is the asyncio side of an ``onward worker`` process: for each
message it claims the attempt by compare-and-set (a duplicated or redelivered
message finds it no longer queued and does nothing), carries it out with the
same :class:`~onward.worker.attempts.AttemptRunner` as the server's local
executor, and reports it. It beats its own worker id, and kills its own
attempts of runs force-cancelled by a server.

:class:`WorkerThread` runs a worker's event loop on a thread of its own, so
that a message consumer's threads (Celery's) can hand it attempts and wait.

Stopping (SIGTERM): the worker takes no new attempt (a message that arrives
is handed back to the broker), lets running attempts finish for
``shutdown_grace``, then kills the rest and reports them **interrupted**, so
that each step's ``on_interrupt`` applies at once (retry elsewhere, or halt
the run). Leaving them to be redelivered would not work: a claimed attempt is
no longer queued, and only its interruption releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import CancelledError
from datetime import timedelta
from typing import TypeVar

import structlog

from onward import errors
from onward.actions.catalog import ActionCatalog
from onward.service.engine import Engine
from onward.service.scheduler import force_cancelled
from onward.service.work import WorkService
from onward.worker.attempts import AttemptRunner
from onward.worker.retries import BACKOFF, Backoff

_log = structlog.get_logger("onward.worker")
_T = TypeVar("_T")


class Worker:
    """Carries out the attempts it is handed; beats; stops gracefully."""

    def __init__(
        self,
        *,
        engine: Engine,
        catalog: ActionCatalog,
        worker_id: str,
        name: str,
        heartbeat_interval: timedelta = timedelta(seconds=2),
        backoff: Backoff = BACKOFF,
    ) -> None:
        self.worker_id = worker_id
        self.name = name
        self._store = engine.store
        self._clock = engine.clock
        self._runner = AttemptRunner(
            work=WorkService(engine),
            catalog=catalog,
            clock=self._clock,
            backoff=backoff,
        )
        self._interval = heartbeat_interval
        #: attempts being claimed or carried out here
        self._active: set[str] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._handed_back = False
        self._beats: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Beat once, then in the background.

        The first beat comes before any claim, so that no attempt of this
        worker is ever taken for a dead worker's.
        """
        await self.beat()
        self._beats = asyncio.create_task(self._beat_forever(), name="onward-beats")

    async def handle(self, run_id: str, attempt_id: str) -> bool:
        """Claim an attempt and carry it out; False when stopping (hand it back)."""
        if self._stopping:
            return False
        if attempt_id in self._active:
            _log.info("attempt.duplicate_message", attempt_id=attempt_id)
            return True
        self._active.add(attempt_id)
        self._idle.clear()
        try:
            work = await self._runner.claim(
                run_id=run_id, attempt_id=attempt_id, worker_id=self.worker_id
            )
            if work is not None:
                await self._runner.carry_out(work, killed=self._handed_back)
        finally:
            self._active.discard(attempt_id)
            if not self._active:
                self._idle.set()
        return True

    def running(self) -> dict[str, str]:
        """Return the attempts running here, as attempt id -> run id."""
        return dict(self._runner.running())

    async def beat(self) -> None:
        """Record that this worker is alive; kill attempts of force-cancelled runs."""
        await self._store.beat(
            worker_id=self.worker_id, name=self.name, now=self._clock.now()
        )
        doomed = await force_cancelled(self._store, self._runner.running())
        if doomed:
            _log.info("attempt.killed", attempt_ids=doomed)
            self._runner.kill(doomed)

    def stop_taking(self) -> None:
        """Take no new attempt; attempts killed from now on are interrupted."""
        self._stopping = True
        self._runner.stop("the worker stopped during the step")

    def hand_back(self) -> None:
        """Kill running attempts now and report them interrupted.

        Reports the database does not take are no longer retried: their
        attempts are interrupted by the servers once this worker's heartbeat
        stops.
        """
        self.stop_taking()
        self._handed_back = True
        self._runner.kill(list(self._runner.running()))
        self._runner.abandon()

    async def shut_down(self, grace: timedelta) -> None:
        """Stop taking attempts; after ``grace``, hand back those still running."""
        self.stop_taking()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace.total_seconds())
        if not self._idle.is_set():
            _log.warning("worker.handing_back", attempt_ids=sorted(self._active))
            self.hand_back()
        await self._idle.wait()

    async def close(self) -> None:
        """Stop beating; give up reports the database does not take; flush the logs."""
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
        self._runner.abandon()
        await self._runner.close()

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval.total_seconds())
            try:
                await self.beat()
            except errors.StorageError as exc:
                _log.warning("worker.beat_failed", error=str(exc))


class WorkerThread:
    """Runs a worker's event loop on its own thread, for a threaded consumer.

    Implements :class:`~onward.executors.celery_app.AttemptHandler`: the
    consumer's threads call :meth:`run_attempt` and wait for the attempt's
    end; a shutdown signal calls :meth:`begin_shutdown`.
    """

    def __init__(
        self,
        worker: Worker,
        *,
        shutdown_grace: timedelta,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.worker = worker
        self._grace = shutdown_grace
        self._on_close = on_close
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="onward-worker-loop", daemon=True
        )
        self._shutdown: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop and the worker; raise StorageError if it cannot beat."""
        self._thread.start()
        self._call(self.worker.start())

    def run_attempt(self, run_id: str, attempt_id: str) -> bool:
        """Carry out one attempt (blocking); False hands the message back."""
        if self._loop.is_closed():
            return False
        try:
            return self._call(self.worker.handle(run_id, attempt_id))
        except CancelledError:
            return False

    def begin_shutdown(self, *, quick: bool) -> None:
        """Stop taking attempts; running ones get the grace, or none if ``quick``."""
        self._loop.call_soon_threadsafe(self._shut_down, quick)

    def stop(self) -> None:
        """Close the worker (and ``on_close``), then stop the loop and its thread."""
        if self._loop.is_closed():
            return
        try:
            self._call(self._close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _shut_down(self, quick: bool) -> None:
        if quick:
            self.worker.hand_back()
        elif self._shutdown is None:
            self._shutdown = self._loop.create_task(self.worker.shut_down(self._grace))

    async def _close(self) -> None:
        self.worker.stop_taking()
        await self.worker.close()
        if self._on_close is not None:
            await self._on_close()

    def _call(self, coroutine: Coroutine[object, object, _T]) -> _T:
        """Run a coroutine on the loop and wait for its outcome."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()
