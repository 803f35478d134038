"""
CeleryExecutor: sends queued attempts to onward workers through a Celery broker.

Each attempt goes, as a message naming it, to its queue (the step's
``queue:``, else :data:`~onward.executors.celery_app.DEFAULT_QUEUE`), to be
started at its ``not_before``. The process that queues an attempt sends it at
once; the scheduler's sweep on the lease holder passes it again only when it
is still queued ``redispatch_after`` later (its message was lost), and this
executor re-sends a given attempt at most once per ``redispatch_after``,
doubling the wait each time, so a long backlog does not flood the broker.
A duplicate does no harm (the claim is a compare-and-set) but costs a message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import structlog
from celery import Celery
from kombu.exceptions import KombuError

from onward.clock import Clock
from onward.domain.effects import DispatchAttempt
from onward.executors.celery_app import DEFAULT_QUEUE, TASK

_log = structlog.get_logger("onward.executor")

#: the longest wait between two sends of one attempt, in ``redispatch_after``s
_MAX_BACKOFF: Final = 8


@dataclass(frozen=True, slots=True)
class _Sent:
    """When an attempt may be sent again, and how often it was sent."""

    resend_at: datetime
    sends: int


class CeleryExecutor:
    """Sends attempts to workers; runs none here.

    Killing is left to the workers: each one kills its own attempts of runs
    force-cancelled in the database, at its next heartbeat.
    """

    def __init__(
        self,
        *,
        app: Celery,
        clock: Clock,
        redispatch_after: timedelta = timedelta(seconds=30),
        default_queue: str = DEFAULT_QUEUE,
    ) -> None:
        self.app = app
        self._clock = clock
        self._redispatch_after = redispatch_after
        self._default_queue = default_queue
        self._sent: dict[str, _Sent] = {}
        self._next_prune = clock.now()
        # sends block (a socket, connection retries): one thread keeps their order
        self._sender = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="onward-broker"
        )
        self._closed = False

    async def dispatch(self, attempts: Sequence[DispatchAttempt]) -> None:
        """Send each attempt not sent within its back-off; failures wait for a sweep."""
        if self._closed:
            return
        now = self._clock.now()
        self._prune(now)
        due = [a for a in attempts if self._may_send(a.attempt_id, now)]
        if not due:
            return
        loop = asyncio.get_running_loop()
        sent = await loop.run_in_executor(self._sender, self._send_all, due)
        for attempt in sent:
            self._remember(attempt, now)

    async def kill(self, attempt_ids: Sequence[str]) -> None:
        """Leave the kill to the worker running each attempt (it polls the run)."""
        _log.debug("attempt.kill_left_to_worker", attempt_ids=list(attempt_ids))

    def running(self) -> Mapping[str, str]:
        """Return the attempts running here: none, they run on workers."""
        return {}

    def reserve(self, attempt: DispatchAttempt) -> str | None:
        """Hold no slot: the attempt is claimed by whichever worker receives it."""
        return None

    def release(self, attempt_ids: Sequence[str]) -> None:
        """Nothing to give back (no slot is ever held)."""

    async def close(self, *, grace: timedelta = timedelta(seconds=10)) -> None:
        """Stop sending and close the broker connections (no step runs here)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._sender, self.app.close)
        self._sender.shutdown(wait=True)

    def _may_send(self, attempt_id: str, now: datetime) -> bool:
        sent = self._sent.get(attempt_id)
        return sent is None or sent.resend_at <= now

    def _remember(self, attempt: DispatchAttempt, now: datetime) -> None:
        before = self._sent.get(attempt.attempt_id)
        sends = 1 if before is None else before.sends + 1
        due = max(now, attempt.not_before or now)
        wait = self._redispatch_after * min(2 ** (sends - 1), _MAX_BACKOFF)
        self._sent[attempt.attempt_id] = _Sent(resend_at=due + wait, sends=sends)

    def _prune(self, now: datetime) -> None:
        """Forget attempts not re-sent for long: they are no longer queued."""
        if now < self._next_prune:
            return
        horizon = now - self._redispatch_after * _MAX_BACKOFF
        self._sent = {a: s for a, s in self._sent.items() if s.resend_at > horizon}
        self._next_prune = now + self._redispatch_after

    def _send_all(self, attempts: Sequence[DispatchAttempt]) -> list[DispatchAttempt]:
        """Send attempts in order until the broker fails; return those sent."""
        sent: list[DispatchAttempt] = []
        for attempt in attempts:
            queue = attempt.queue or self._default_queue
            try:
                self.app.send_task(
                    TASK,
                    args=(attempt.run_id, attempt.attempt_id),
                    queue=queue,
                    eta=attempt.not_before,
                )
            except (KombuError, OSError) as exc:
                _log.warning(
                    "attempt.not_sent",
                    attempt_id=attempt.attempt_id,
                    queue=queue,
                    error=str(exc),
                    left=len(attempts) - len(sent),
                )
                break
            sent.append(attempt)
        return sent
