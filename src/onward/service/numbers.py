"""
Numeric aliases of Onward ids, for APIs whose clients expect integer ids.

Onward ids (``run_``, ``pln_`` ... see ``onward.ids``) are a prefix, 48 bits of
milliseconds and 80 random bits in Crockford base32. Their number is
``milliseconds * 1,000,000 + random bits mod 1,000,000``: it fits a signed
64-bit integer until the year 2262, sorts like the ids, and is computed, never
stored. Finding the run of a number reads the runs created in that millisecond
(an indexed range of run ids); two runs of one workspace created in the same
millisecond share a number once in a million times, and the newest then wins.
"""

from __future__ import annotations

from typing import Final

from onward import errors
from onward.domain.runs import Run
from onward.service.ports import PlanSummary, RunFilter, Store

#: the alphabet of onward.ids (a test checks they agree)
_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS: Final = 10
_RANDOM_CHARS: Final = 16
_SPREAD: Final = 1_000_000
#: no id carries a time past this many milliseconds (10 base32 characters)
_MAX_MILLIS: Final = 32**_TIME_CHARS - 2
_PAGE: Final = 50


def number_of(identifier: str) -> int | None:
    """Return an Onward id's number; None for a string that is not an Onward id."""
    _, separator, body = identifier.rpartition("_")
    if not separator or len(body) != _TIME_CHARS + _RANDOM_CHARS:
        return None
    if any(char not in _ALPHABET for char in body):
        return None
    millis = _decode(body[:_TIME_CHARS])
    entropy = _decode(body[_TIME_CHARS:])
    return millis * _SPREAD + entropy % _SPREAD


class Numbers:
    """Finds the run or plan an id number stands for, within a workspace."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def find_run(self, workspace: str, number: int) -> Run:
        """Return the workspace's run with this number; raise RunNotFoundError."""
        millis = number // _SPREAD
        if number < 0 or millis > _MAX_MILLIS:
            raise errors.RunNotFoundError(run_id=str(number))
        prefix = f"run_{_encode(millis)}"
        cursor: str | None = f"run_{_encode(millis + 1)}"
        while cursor is not None:
            page = await self._store.list_runs(
                RunFilter(workspace=workspace, cursor=cursor, limit=_PAGE)
            )
            for run in page.runs:
                if not run.run_id.startswith(prefix):
                    raise errors.RunNotFoundError(run_id=str(number))
                if number_of(run.run_id) == number:
                    return run
            cursor = page.next_cursor
        raise errors.RunNotFoundError(run_id=str(number))

    async def find_plan(self, workspace: str, number: int) -> PlanSummary:
        """Return the workspace's plan with this number; raise PlanNotFoundError."""
        for plan in await self._store.list_plans(workspace=workspace):
            if number_of(plan.plan_id) == number:
                return plan
        raise errors.PlanNotFoundError(plan=str(number))


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + _ALPHABET.index(char)
    return value


def _encode(number: int) -> str:
    chars = []
    for _ in range(_TIME_CHARS):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))
