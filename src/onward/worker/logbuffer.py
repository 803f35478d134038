"""
LogBuffer: collects step output lines and writes them to the run log in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from onward.clock import Clock
from onward.service.ports import LogEntry
from onward.service.work import WorkService

#: how often buffered lines are written while a step runs
_FLUSH_INTERVAL: Final = 0.25


class LogBuffer:
    """Buffers log lines per attempt; flushes periodically and when a step ends."""

    def __init__(self, work: WorkService, clock: Clock) -> None:
        self._work = work
        self._clock = clock
        self._lines: dict[str, list[LogEntry]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def sink(self, run_id: str, attempt_id: str) -> Callable[[str, str], None]:
        """Return the ``log(stream, line)`` function for one attempt."""

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
        """Write one attempt's buffered lines now."""
        await self._work.log(self._lines.pop(attempt_id, []))

    async def flush(self) -> None:
        """Write every buffered line now."""
        lines, self._lines = self._lines, {}
        await self._work.log([entry for batch in lines.values() for entry in batch])

    async def close(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_FLUSH_INTERVAL)
        await self.flush()
