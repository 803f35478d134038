"""
Runs by number, for APIs whose clients expect small integer ids.

The store numbers every run and every plan in the transaction that first saves
it: 1, 2, 3 ... in the order they were created, unique across the database and
never reused (``Store.get_run_numbers``). A number is an alias the store keeps,
not run state, so a run is read with its number here: found by number within a
workspace, or scanned with every run a filter selects, counted, sorted by a key
of the numbered run and cut to an offset window. A scan reads the whole
selection (one extra query per page of runs for their numbers); the APIs that
need it cap the window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from onward import errors
from onward.domain.runs import Run
from onward.service.ports import RunFilter, Store

_PAGE: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberedRun:
    """A run with its number and its plan's number."""

    run: Run
    number: int
    plan_number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberedPage:
    """A window of the runs a scan selected, and how many it selected in all."""

    runs: tuple[NumberedRun, ...]
    total: int


def by_number(run: NumberedRun) -> Any:
    """Sort key: the run's number, i.e. the order of creation."""
    return run.number


class Numbers:
    """Reads runs of a workspace with their numbers."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def find_run(self, workspace: str, number: int) -> NumberedRun:
        """Return the workspace's run with this number; raise RunNotFoundError."""
        run_id = await self._store.find_run_id(number)
        run = await self._store.get_run(run_id) if run_id is not None else None
        if run is None or run.workspace != workspace:
            raise errors.RunNotFoundError(run_id=str(number))
        plans = await self._store.get_plan_numbers([run.plan_id])
        return NumberedRun(
            run=run, number=number, plan_number=plans.get(run.plan_id, 0)
        )

    async def scan(
        self,
        run_filter: RunFilter,
        *,
        offset: int,
        limit: int,
        keep: Callable[[NumberedRun], bool] | None = None,
        key: Callable[[NumberedRun], Any] = by_number,
        descending: bool = True,
    ) -> NumberedPage:
        """Return the selected runs ``offset`` to ``offset + limit``, and how many.

        Args:
            run_filter: the store's filter (its cursor and limit are ignored).
            offset: how many selected runs to pass over (0 or more).
            limit: the most runs to return (0 or more).
            keep: a further test; runs it refuses are not selected.
            key: the sort key of the selection (the number by default).
            descending: the largest key first (the newest run, by default).
        """
        window: list[NumberedRun] = []
        total = 0
        plan_numbers: dict[str, int] = {}
        cursor: str | None = None
        while True:
            page = await self._store.list_runs(
                replace(run_filter, cursor=cursor, limit=_PAGE)
            )
            numbered = await self._numbered(page.runs, plan_numbers)
            kept = [run for run in numbered if keep is None or keep(run)]
            total += len(kept)
            # the window stays sorted: sorting it with a page added is cheap
            window = sorted([*window, *kept], key=key, reverse=descending)
            del window[offset + limit :]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return NumberedPage(runs=tuple(window[offset:]), total=total)

    async def _numbered(
        self, runs: Sequence[Run], plan_numbers: dict[str, int]
    ) -> list[NumberedRun]:
        """Return the runs with their numbers; learn new plans' numbers on the way."""
        numbers = await self._store.get_run_numbers([run.run_id for run in runs])
        unknown = sorted({run.plan_id for run in runs} - plan_numbers.keys())
        if unknown:
            plan_numbers.update(await self._store.get_plan_numbers(unknown))
        # a run's number is saved with its first commit, so none lacks one; a run
        # without one could not be found by number either
        return [
            NumberedRun(
                run=run,
                number=numbers[run.run_id],
                plan_number=plan_numbers.get(run.plan_id, 0),
            )
            for run in runs
            if run.run_id in numbers
        ]
