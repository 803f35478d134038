"""
The server-sent event stream of a run: one ``run`` event per new version.

Each event is ``event: run``, ``id: <version>`` and ``data:`` the run's status,
version, warnings and halt points (JSON). A comment is sent after 15 s without
changes, to keep proxies from closing the stream. The stream ends after the
event of a finished run (succeeded, failed, cancelled) with an ``end`` event;
a reconnection with ``Last-Event-ID`` at or past that version answers 204,
which tells an EventSource to stop. A stream also ends after ``max_seconds``
(the client reconnects with ``Last-Event-ID`` and misses nothing).
"""

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse

from onward.api.body_limit import LimitedRoute
from onward.api.deps import Reader, ServicesDep
from onward.api.native.operation_schemas import RunEventOut
from onward.api.native.schemas import COMMON_PROBLEMS, problem_responses
from onward.domain.runs import Run

router = APIRouter(
    tags=["runs"],
    responses=problem_responses(*COMMON_PROBLEMS),
    route_class=LimitedRoute,
)

#: how long the client waits before reconnecting, in milliseconds
_RETRY_MS: Final = 2000
#: one event of the stream, as OpenAPI describes it
_EVENT_SCHEMA: Final = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["run", "end"]},
        "id": {"type": "string", "description": "the run's version"},
        "data": {"type": "string", "description": "JSON: RunEventOut, or {} at end"},
    },
}


@router.get(
    "/workspaces/{workspace}/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A text/event-stream of the run's changes.",
            "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
        },
        204: {"description": "The run finished at or before Last-Event-ID."},
    },
)
async def run_events(
    run_id: str,
    scope: Reader,
    services: ServicesDep,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, le=2**62)
    ] = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600)] = 300,
) -> Response:
    """Stream the run's changes as server-sent events until it finishes."""
    await services.runs.get(scope.workspace, run_id)
    changes = services.changes.follow(run_id, after_version=last_event_id or 0)
    try:
        first = await anext(changes)
    except StopAsyncIteration:
        return Response(status_code=204)
    return StreamingResponse(
        _frames(first, changes, deadline=time.monotonic() + max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(
    first: Run | None,
    changes: AsyncGenerator[Run | None, None],
    *,
    deadline: float,
) -> AsyncIterator[str]:
    yield f"retry: {_RETRY_MS}\n\n"
    change, finished = first, False
    try:
        while True:
            if change is None:
                yield ": keep-alive\n\n"
            else:
                data = RunEventOut.of(change).model_dump_json()
                yield f"event: run\nid: {change.version}\ndata: {data}\n\n"
                finished = change.status.is_finished
            if finished:
                yield "event: end\ndata: {}\n\n"
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                change = await asyncio.wait_for(anext(changes), timeout=remaining)
            except (StopAsyncIteration, TimeoutError):
                return
    finally:
        await changes.aclose()
