"""
Helpers for the action tests: a recording run-log sink, contexts, process checks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psutil

from onward.actions import ActionContext

#: how long a test waits for a line it expects before giving up
LINE_WAIT_SECONDS = 2.0


class LogRecorder:
    """Records the lines an action streams to the run log."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    def __call__(self, stream: str, line: str) -> None:
        self.lines.append((stream, line))
        self._changed.set()

    def of(self, stream: str) -> list[str]:
        """Return the lines of one stream."""
        return [line for name, line in self.lines if name == stream]

    async def wait_for(self, stream: str, count: int) -> list[str]:
        """Wait until ``stream`` has ``count`` lines, then return them."""
        async with asyncio.timeout(LINE_WAIT_SECONDS):
            while len(self.of(stream)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(stream)


def make_context(log: LogRecorder, **changes: Any) -> ActionContext:
    """Return a context of a first try whose run log goes to ``log``."""
    fields: dict[str, Any] = {
        "run_id": "run_1",
        "attempt_id": "att_1",
        "step_name": "stop replication",
        "target_name": "db1",
        "attempt_number": 1,
        "log": log,
    }
    fields.update(changes)
    return ActionContext(**fields)


def is_gone(pid: int) -> bool:
    """Tell whether a process has exited (a zombie awaiting its reaper counts)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
