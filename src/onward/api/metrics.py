"""
Prometheus metrics: HTTP requests by route and status, runs started, attempts finished.

Each app has its own registry, so several apps (tests) never clash. Runs and
attempts are counted from the engine's saved decisions in this process; workers
in other processes count their own. ``GET /metrics`` needs a valid bearer
credential, like everything but ``/healthz``.
"""

import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onward.api.body_limit import LimitedRoute
from onward.api.deps import current_principal
from onward.api.native.schemas import problem_responses
from onward.domain.effects import Decision
from onward.domain.runs import Run
from onward.service.engine import Engine

#: the label of requests that matched no route
UNMATCHED: Final = "<unmatched>"
#: how many runs the creation detector remembers
_SEEN_RUNS: Final = 100_000


class Metrics:
    """The app's collectors and its registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: full path templates of routes included under a prefix, by route id
        self.full_paths: dict[int, str] = {}
        #: runs this process has seen a decision of, most recent last
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.requests = Counter(
            "onward_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "onward_http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route.",
            ["method", "route"],
            registry=self.registry,
        )
        self.runs_started = Counter(
            "onward_runs_started",
            "Runs started by this process.",
            registry=self.registry,
        )
        self.attempts_finished = Counter(
            "onward_attempts_finished",
            "Step attempts finished, by status, as decided in this process.",
            ["status"],
            registry=self.registry,
        )

    def mount(self, prefix: str, routes: Iterable[BaseRoute]) -> None:
        """Label requests of routes included under ``prefix`` with their full path."""
        for route in routes:
            self.full_paths[id(route)] = prefix + str(getattr(route, "path", ""))

    def route_of(self, scope: Scope) -> str:
        """Return the path template of the route a request matched."""
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        return self.full_paths.get(id(route)) or str(getattr(route, "path", UNMATCHED))

    def watch(self, engine: Engine) -> None:
        """Count runs and attempts from the engine's saved decisions."""
        engine.listen(self._saw)

    def render(self) -> bytes:
        """Return the metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    def _saw(self, run: Run, decision: Decision) -> None:
        if _is_creation(run, decision, self._seen):
            self.runs_started.inc()
        for attempt in decision.attempts.values():
            if not attempt.status.is_in_flight:
                self.attempts_finished.labels(attempt.status.value).inc()


def _is_creation(run: Run, decision: Decision, seen: OrderedDict[str, None]) -> bool:
    """Tell whether a decision created the run.

    The engine saves a new run together with its first claims, so the version
    alone does not tell; a creation is the first decision this process sees of
    a run whose attempts are all first tries that have not finished.
    An explicit creation signal from the engine would make this exact.
    """
    first_seen = run.run_id not in seen
    seen[run.run_id] = None
    seen.move_to_end(run.run_id)
    if len(seen) > _SEEN_RUNS:
        seen.popitem(last=False)
    return first_seen and all(
        a.number == 1 and a.run_attempt == 1 and a.status.is_in_flight
        for a in decision.attempts.values()
    )


class RequestMetrics:
    """ASGI middleware that counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request and record its route, status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = self.metrics.route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(
                time.perf_counter() - started
            )


router = APIRouter(tags=["health"], route_class=LimitedRoute)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problem_responses(401, 503),
    },
    dependencies=[Depends(current_principal)],
)
async def metrics(request: Request) -> Response:
    """Return the server's metrics in the Prometheus text format."""
    collected: Metrics = request.app.state.metrics
    return Response(collected.render(), media_type=CONTENT_TYPE_LATEST)
