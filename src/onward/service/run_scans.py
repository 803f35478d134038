"""
Offset pages of runs with their total, for APIs that page by offset and count.

The store pages runs by cursor, newest first, and counts nothing; a scan reads
every run the filter selects, page after page, keeps those a further test
accepts, counts them and holds only the window asked for. A scan therefore
reads the whole selection (its cost grows with the number of runs selected, not
with the window); the APIs that need it cap the window. A scan may also read
what started each event run (its data object), for tests and answers that
need it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from onward import errors
from onward.domain.runs import Run, Trigger
from onward.domain.triggers import DataObject
from onward.service.ports import RunFilter, Store

#: a further test of a run, given the data object that started it (if read)
RunTest = Callable[[Run, DataObject | None], bool]

_PAGE: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class ScanPage:
    """A window of the runs a scan selected, and how many it selected in all."""

    runs: tuple[Run, ...]
    total: int
    #: the data objects that started the window's event runs (when asked)
    sources: Mapping[str, DataObject] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundRun:
    """A run and the data object that started it, if any."""

    run: Run
    source: DataObject | None


class RunScans:
    """Reads runs by offset and limit, counting them, and what started them."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def scan(
        self,
        run_filter: RunFilter,
        *,
        offset: int,
        limit: int,
        keep: RunTest | None = None,
        oldest_first: bool = False,
        sources: bool = False,
    ) -> ScanPage:
        """Return runs ``offset`` to ``offset + limit`` of the selection, and its size.

        Args:
            run_filter: the store's filter (its cursor and limit are ignored).
            offset: how many selected runs to pass over (0 or more).
            limit: the most runs to return (0 or more).
            keep: a further test; runs it refuses are not selected.
            oldest_first: order the selection oldest first (newest first if not).
            sources: read the data objects of event runs (for ``keep`` and the
                answer); otherwise ``keep`` is given None.
        """
        if offset < 0 or limit < 0:
            msg = "offset and limit must be 0 or more"
            raise errors.InvalidDefinitionError(
                [errors.Problem("offset" if offset < 0 else "limit", msg)],
                subject="page",
            )
        # newest first: the window as it goes; oldest first: the last runs seen
        window: deque[FoundRun] = deque(maxlen=offset + limit if oldest_first else None)
        total = 0
        cursor: str | None = None
        while True:
            page = await self._store.list_runs(
                replace(run_filter, cursor=cursor, limit=_PAGE)
            )
            for run in page.runs:
                source = await self.source_of(run) if sources else None
                if keep is not None and not keep(run, source):
                    continue
                if oldest_first or offset <= total < offset + limit:
                    window.append(FoundRun(run=run, source=source))
                total += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        found = list(window)
        if oldest_first:
            found = list(reversed(found))[offset : offset + limit]
        return ScanPage(
            runs=tuple(f.run for f in found),
            total=total,
            sources={f.run.run_id: f.source for f in found if f.source is not None},
        )

    async def get(self, workspace: str, run_id: str) -> FoundRun:
        """Return a run of the workspace and its data object; raise RunNotFoundError."""
        run = await self._store.get_run(run_id)
        if run.workspace != workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        return FoundRun(run=run, source=await self.source_of(run))

    async def source_of(self, run: Run) -> DataObject | None:
        """Return the data object that started an event run (None for others)."""
        if run.trigger is not Trigger.EVENT or not run.triggered_by:
            return None
        try:
            return await self._store.get_data_object(run.triggered_by)
        except errors.DataObjectNotFoundError:
            return None
