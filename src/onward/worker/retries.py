"""
Backoff: how the worker side waits before writing to the database again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from onward import errors

#: what a store raises when it does not take a write: a StorageError (the
#: database is away, or refused the record: they cannot be told apart), or the
#: TypeError or ValueError (UnicodeEncodeError) of a driver that could not
#: encode the record, which the SQL store lets through unwrapped
REFUSALS: Final = (errors.OnwardError, TypeError, ValueError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Waits that double from ``first`` up to ``last``, each cut to a random 50-100 %.

    The random part keeps apart the reports that failed together (the engine
    saves a run's reports in one transaction), so that one whose record the
    database refuses is soon tried alone.
    """

    #: the longest first wait
    first: timedelta = timedelta(milliseconds=200)
    #: the longest wait
    last: timedelta = timedelta(seconds=5)
    #: tries of a write before the database is suspected of refusing its content
    tries: int = 5

    async def pause(self, failures: int, abandoned: asyncio.Event) -> None:
        """Wait after the ``failures``-th failure in a row, or until ``abandoned``."""
        longest = min(self.first * 2 ** min(failures - 1, 32), self.last)
        # not a secret: only spreads the tries out
        seconds = random.uniform(0.5, 1.0) * longest.total_seconds()  # noqa: S311
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(abandoned.wait(), seconds)


#: the waits of the worker side, unless a test asks for others
BACKOFF: Final = Backoff()
