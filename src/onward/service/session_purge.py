"""
Ended login sessions are deleted: the store keeps no dead credentials for ever.

Every login (native, or through a dialect's token endpoint, logon or Basic
login) stores a session, and a refresh token with some. Once
one has expired or been revoked it is kept for ``RETENTION`` (still listed, so
that an operator sees recent logins), then deleted by the server holding the
scheduler lease, at most once every ``EVERY``. API keys and access keys stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import structlog

from onward import errors
from onward.clock import Clock
from onward.service.ports import AccessStore

_log = structlog.get_logger("onward.sessions")

#: how long an ended session is kept before it is deleted
RETENTION: Final = timedelta(days=1)
#: how often the lease holder deletes ended sessions
EVERY: Final = timedelta(hours=1)


class SessionPurge:
    """Deletes the sessions that ended more than ``retention`` ago, now and then."""

    def __init__(
        self,
        store: AccessStore,
        clock: Clock,
        *,
        retention: timedelta = RETENTION,
        every: timedelta = EVERY,
    ) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention
        self._every = every
        #: when the next purge is due (None: at the first call)
        self._due: datetime | None = None

    async def run_due(self) -> int:
        """Purge if a purge is due; return how many credentials were deleted.

        A store that fails is logged and tried again at the next due time.
        """
        now = self._clock.now()
        if self._due is not None and now < self._due:
            return 0
        self._due = now + self._every
        try:
            purged = await self._store.purge_sessions(
                ended_before=now - self._retention
            )
        except errors.StorageError as exc:
            _log.warning("sessions.purge_failed", error=str(exc))
            return 0
        if purged:
            _log.info("sessions.purged", count=purged)
        return purged
