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


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Waits that double from ``first`` up to ``last``, each cut to a random 50-100 %.

    The random part keeps apart the writes that failed together, so that they
    do not all come back to the database at the same moment.
    """

    #: the longest first wait
    first: timedelta = timedelta(milliseconds=200)
    #: the longest wait
    last: timedelta = timedelta(seconds=5)
    #: tries of an ended attempt's log lines before they are given up
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
