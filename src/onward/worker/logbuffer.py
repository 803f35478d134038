"""
LogBuffer: collects step output lines and writes them to the run log in batches.

A batch the database does not take is kept while its step runs, and tried
again when the step ends; lines it still does not take then (or refuses for
what they hold) are dropped, with an error log and, when the database takes
it, a line in the run log saying how many were lost: a step's log never holds
up the report of how it ended. (The stores make the lines' text storable.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Final

import structlog

from onward import errors
from onward.clock import Clock
from onward.service.ports import LogEntry
from onward.service.work import WorkService
from onward.worker.retries import BACKOFF, Backoff

_log = structlog.get_logger("onward.logs")

#: how often buffered lines are written while a step runs
_FLUSH_INTERVAL: Final = 0.25


class LogBuffer:
    """Buffers log lines per attempt; flushes periodically and when a step ends."""

    def __init__(
        self,
        work: WorkService,
        clock: Clock,
        *,
        backoff: Backoff = BACKOFF,
        abandoned: asyncio.Event | None = None,
    ) -> None:
        self._work = work
        self._clock = clock
        self._backoff = backoff
        self._abandoned = abandoned or asyncio.Event()
        self._lines: dict[str, list[LogEntry]] = {}
        #: attempts whose lines are kept when a write fails (their step runs)
        self._open: set[str] = set()
        self._flusher: asyncio.Task[None] | None = None

    def sink(self, run_id: str, attempt_id: str) -> Callable[[str, str], None]:
        """Return the ``log(stream, line)`` function for one attempt."""
        self._open.add(attempt_id)

        def log(stream: str, line: str) -> None:
            self._lines.setdefault(attempt_id, []).append(
                LogEntry(
                    run_id=run_id,
                    attempt_id=attempt_id,
                    at=self._clock.now(),
                    stream=stream,
                    line=line,
                )
            )
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.get_running_loop().create_task(
                    self._flush_soon()
                )

        return log

    async def flush_attempt(self, attempt_id: str) -> None:
        """Write one attempt's buffered lines now; keep them if the write fails."""
        await self._flush_one(attempt_id)

    async def settle_attempt(self, attempt_id: str) -> None:
        """Write what is left of an ended attempt's lines, or drop them.

        A write that fails is tried again up to ``backoff.tries`` times in all
        (fewer once abandoned, none when the database refuses the lines for
        what they hold); the lines are then dropped and logged lost.
        """
        self._open.discard(attempt_id)
        lines = self._lines.pop(attempt_id, [])
        failures = 0
        while lines:
            error = await self._write(lines)
            if error is None:
                return
            failures += 1
            if (
                isinstance(error, errors.StorageRefusedError)
                or failures >= self._backoff.tries
                or self._abandoned.is_set()
            ):
                await self._drop(lines, error)
                return
            await self._backoff.pause(failures, self._abandoned)

    async def flush(self) -> None:
        """Write every buffered line now, one attempt at a time."""
        for attempt_id in list(self._lines):
            await self._flush_one(attempt_id)

    async def close(self) -> None:
        """Stop the periodic flush and write what is left (or drop it)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._open.clear()
        await self.flush()

    async def _flush_one(self, attempt_id: str) -> None:
        """Write an attempt's lines; on failure keep them if its step runs."""
        lines = self._lines.pop(attempt_id, [])
        error = await self._write(lines)
        if error is None:
            return
        if attempt_id in self._open:
            self._lines[attempt_id] = lines + self._lines.get(attempt_id, [])
        else:
            await self._drop(lines, error)

    async def _write(self, lines: Sequence[LogEntry]) -> errors.OnwardError | None:
        """Append lines to the run log; return what stopped it, if anything did."""
        try:
            await self._work.log(lines)
        except errors.OnwardError as exc:
            return exc
        return None

    async def _drop(self, lines: Sequence[LogEntry], error: errors.OnwardError) -> None:
        """Give lines up: log it, and say so in the run log if it takes a line."""
        first = lines[0]
        _log.error(
            "attempt.logs_lost",
            run_id=first.run_id,
            attempt_id=first.attempt_id,
            lines=len(lines),
            error=str(error),
        )
        # a line of Onward's own, if the database takes it
        await self._write(
            [
                LogEntry(
                    run_id=first.run_id,
                    attempt_id=first.attempt_id,
                    at=self._clock.now(),
                    stream="info",
                    line=f"{len(lines)} log lines of this attempt could not be "
                    f"stored and were lost: {error}",
                )
            ]
        )

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_FLUSH_INTERVAL)
        await self.flush()
