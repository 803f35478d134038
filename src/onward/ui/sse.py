"""
A run page's live updates as server-sent events of HTML fragments for htmx.

Events (each ``data:`` is HTML that htmx swaps into the element listening for
it): ``summary`` (the run's status line), ``matrix`` (groups x targets x steps),
``attempts`` (the attempt history), ``banner`` and ``audit`` (the halt banner
and the actions, sent only when the run's status, halt points or waiting
approvals change, so that a preview being read is not wiped), ``log`` (new log
lines, with the last line's sequence number as the event id, so a reconnecting
browser goes on where it stopped) and ``end`` once the run has finished.

Changes made in this process arrive at once (the engine's listener, through
:class:`~onward.service.run_events.RunChanges`); other processes' changes and
new log lines are looked for every ``tick`` seconds. A stream ends when the run
finishes, after ``max_seconds`` (the browser reconnects), or when the client
goes away.
"""

import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta
from typing import Final

from fastapi import Request

from onward.domain.runs import Run
from onward.ui import run_views
from onward.ui.console import Console
from onward.ui.rendering import fragment
from onward.ui.session import Scope

#: how long the browser waits before reconnecting, in milliseconds
RETRY_MS: Final = 3000
#: log lines sent in one event at most
_LOG_BATCH: Final = 500
#: seconds of silence after which a comment keeps proxies from closing the stream
_KEEP_ALIVE: Final = 15.0


def frame(event: str, data: str, *, event_id: str | None = None) -> str:
    """Return one server-sent event; every line of ``data`` gets its prefix."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.extend(f"data: {line}" for line in (data.splitlines() or [""]))
    return "\n".join(lines) + "\n\n"


class RunStream:
    """The live updates of one run page, for one browser."""

    def __init__(
        self,
        console: Console,
        scope: Scope,
        run_id: str,
        *,
        after_seq: int,
        csrf_token: str,
        max_seconds: float = 1800.0,
    ) -> None:
        self._console = console
        self._scope = scope
        self._csrf_token = csrf_token
        self._run_id = run_id
        self._seq = after_seq
        self._deadline = time.monotonic() + max_seconds
        #: the run's version last rendered, and the latest seen
        self._version = -1
        self._latest = 0
        self._rendered_at = 0.0
        self._banner: tuple[object, ...] | None = None
        self._labels: dict[str, str] = {}
        self._sent_at = time.monotonic()
        #: the stream stopped before the run finished (deadline, client gone)
        self._stopped = False

    async def events(self, request: Request) -> AsyncIterator[str]:
        """Yield the stream's events until the run finishes or the client leaves."""
        yield f"retry: {RETRY_MS}\n\n"
        changes = self._console.changes.follow(
            self._run_id, idle=timedelta(seconds=self._console.tick)
        )
        try:
            async for frames in self._follow(changes, request):
                if frames:
                    self._sent_at = time.monotonic()
                    yield frames
                elif time.monotonic() - self._sent_at > _KEEP_ALIVE:
                    self._sent_at = time.monotonic()
                    yield ": keep-alive\n\n"
            if not self._stopped:
                last = (
                    await self._run_changed() if self._latest != self._version else ""
                )
                yield last + await self._logs() + frame("end", "")
        finally:
            await changes.aclose()

    async def _follow(
        self, changes: AsyncGenerator[Run | None, None], request: Request
    ) -> AsyncIterator[str]:
        async for run in changes:
            if await request.is_disconnected() or time.monotonic() > self._deadline:
                self._stopped = True
                return
            if run is not None:
                self._latest = run.version
            # a busy run is drawn at most once a tick: each drawing reads it whole
            due = time.monotonic() - self._rendered_at >= self._console.tick
            if self._latest != self._version and due:
                yield await self._run_changed()
            yield await self._logs()

    async def _run_changed(self) -> str:
        self._version, self._rendered_at = self._latest, time.monotonic()
        live = await run_views.live_view(
            self._console, self._scope.workspace, self._run_id
        )
        self._labels = live.labels()
        context = {
            "live": live,
            "scope": self._scope,
            "csrf_token": self._csrf_token,
        }
        frames = [
            frame("summary", fragment("partials/run_summary.html", **context)),
            frame("matrix", fragment("partials/matrix.html", **context)),
            frame("attempts", fragment("partials/attempts.html", **context)),
        ]
        key = live.banner_key()
        if key != self._banner:
            self._banner = key
            audit = await self._console.runs.audit(self._scope.workspace, self._run_id)
            frames.append(frame("banner", fragment("partials/banner.html", **context)))
            frames.append(frame("audit", fragment("partials/audit.html", audit=audit)))
        return "".join(frames)

    async def _logs(self) -> str:
        entries = await self._console.runs.logs(
            self._scope.workspace, self._run_id, after_seq=self._seq, limit=_LOG_BATCH
        )
        if not entries:
            return ""
        self._seq = entries[-1].seq
        lines = run_views.log_lines(entries, self._labels)
        html = fragment("partials/log_lines.html", lines=lines)
        return frame("log", html, event_id=str(self._seq))
