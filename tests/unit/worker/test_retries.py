"""The worker side's waits between tries of a write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from onward.worker.retries import Backoff


async def ended_within_seconds(pause: asyncio.Future[None], seconds: float) -> bool:
    """Tell whether the pause ended within ``seconds`` (a bound, not a sleep)."""
    done, _ = await asyncio.wait([pause], timeout=seconds)
    return pause in done


async def test_a_pause_ends_at_once_when_the_runner_is_abandoned() -> None:
    """An abandoned runner does not sit out an hour's wait before giving up."""
    abandoned = asyncio.Event()
    abandoned.set()
    backoff = Backoff(first=timedelta(hours=1), last=timedelta(hours=1))

    pause = asyncio.ensure_future(backoff.pause(1, abandoned))

    assert await ended_within_seconds(pause, 5)


async def test_waits_of_zero_do_not_wait_however_many_failures() -> None:
    """A Backoff of zeros (the tests') returns at once, even after 10,000 failures."""
    backoff = Backoff(first=timedelta(0), last=timedelta(0))

    pause = asyncio.ensure_future(backoff.pause(10_000, asyncio.Event()))

    assert await ended_within_seconds(pause, 5)
