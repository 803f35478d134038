"""
Run changes as a stream: decisions saved in this process, and re-reads for the others.

The engine calls :meth:`RunChanges.saw` after each decision it saves, which
reaches every follower of that run at once. Changes made by other processes
(workers, other server replicas) are found by re-reading the run every
``poll_interval``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Final

from onward.domain.effects import Decision
from onward.domain.runs import Run
from onward.service.engine import Engine

#: changes a slow follower may fall behind by before the oldest are dropped
_BACKLOG: Final = 256


class RunChanges:
    """Fans saved run changes out to the followers of each run."""

    def __init__(
        self,
        *,
        engine: Engine,
        poll_interval: timedelta = timedelta(seconds=1),
    ) -> None:
        self._store = engine.store
        self._poll = poll_interval.total_seconds()
        self._followers: dict[str, set[asyncio.Queue[Run]]] = {}
        engine.listen(self.saw)

    def saw(self, run: Run, decision: Decision) -> None:
        """Hand a saved change to the run's followers (the engine calls this)."""
        for queue in self._followers.get(run.run_id, ()):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(run)

    async def follow(
        self,
        run_id: str,
        *,
        after_version: int = 0,
        idle: timedelta = timedelta(seconds=15),
    ) -> AsyncGenerator[Run | None, None]:
        """Yield the run at each new version after ``after_version``.

        Yields None at once when the run is unfinished and has nothing after
        ``after_version`` yet, and whenever nothing changed for ``idle`` (a
        chance to keep a connection alive); ends after yielding a finished run,
        or at once when the run finished at or before ``after_version``.

        Raises:
            RunNotFoundError: the run does not exist.
        """
        queue: asyncio.Queue[Run] = asyncio.Queue(maxsize=_BACKLOG)
        self._followers.setdefault(run_id, set()).add(queue)
        try:
            run = await self._store.get_run(run_id)
            if run.status.is_finished and run.version <= after_version:
                return
            if run.version <= after_version:
                yield None
            # a version past the run's own is the client's mistake: go on from now
            last, quiet = min(after_version, run.version), 0.0
            while True:
                if run.version > last:
                    last, quiet = run.version, 0.0
                    yield run
                if run.version == last and run.status.is_finished:
                    return
                if quiet >= idle.total_seconds():
                    quiet = 0.0
                    yield None
                run, waited = await self._next(queue, run_id)
                quiet += waited
        finally:
            self._unfollow(run_id, queue)

    async def _next(self, queue: asyncio.Queue[Run], run_id: str) -> tuple[Run, float]:
        """Return the next change, or the run as stored after a poll interval."""
        try:
            return await asyncio.wait_for(queue.get(), timeout=self._poll), 0.0
        except TimeoutError:
            return await self._store.get_run(run_id), self._poll

    def _unfollow(self, run_id: str, queue: asyncio.Queue[Run]) -> None:
        followers = self._followers.get(run_id)
        if followers is not None:
            followers.discard(queue)
            if not followers:
                del self._followers[run_id]
