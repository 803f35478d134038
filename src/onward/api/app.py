"""
The FastAPI application: health, metrics, the native API, and the runtime's lifespan.

``create_app(runtime)`` is the composition point of the HTTP side: the app's
lifespan starts the runtime (recovery, heartbeats, sweeps of queued attempts)
and closes it on shutdown. The native REST API is under ``/api/v1``, its
OpenAPI document at ``/api/v1/openapi.json`` and its interactive docs at
``/api/v1/docs``. The web console is at ``/`` (``onward.ui``). Nothing but
``/healthz`` and the console's login page is open without credentials. No
request body larger than the setting ``max_request_body`` is read
(``body_limit``).
"""

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import metadata
from typing import Any, Final

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from onward import ui
from onward.api import body_limit, metrics, native, problems
from onward.api.deps import Services
from onward.api.dialects import jp1ao, secmaster, vao, veeam_em
from onward.api.native.schemas import (
    API_PREFIX,
    PlanSourceIn,
    Problem,
    problem_responses,
)
from onward.runtime import Runtime

_router = APIRouter(route_class=body_limit.LimitedRoute)
#: the methods whose operations read a request body (if only to digest it)
_WITH_BODY: Final = frozenset({"post", "put", "patch", "delete"})


def _version() -> str:
    try:
        return metadata.version("onward")
    except metadata.PackageNotFoundError:
        return "unknown"


@_router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Tell that the server is up."""
    return {"status": "ok"}


def create_app(
    runtime: Runtime, *, poll_interval: timedelta = timedelta(seconds=1)
) -> FastAPI:
    """Return the app serving ``runtime``; its lifespan starts and closes it.

    Args:
        runtime: the process's runtime (its store holds access records too;
            its settings, the request body limit).
        poll_interval: how often event streams re-read their run, to see
            changes made by other processes.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="Onward",
        version=_version(),
        description="The native REST API of Onward, a durable runbook orchestrator.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.services = Services.build(runtime, poll_interval=poll_interval)
    collected = metrics.Metrics()
    collected.watch(runtime.engine)
    for router in native.ROUTERS:
        collected.mount(API_PREFIX, router.routes)
    app.state.metrics = collected
    problems.install(app)
    app.add_middleware(metrics.RequestMetrics, metrics=collected)
    app.add_middleware(body_limit.BodyLimit, limit=runtime.settings.max_request_body)
    app.include_router(_router)
    app.include_router(metrics.router)
    app.include_router(native.router, prefix=API_PREFIX)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # the web console: pages at /, static files at /static
    ui.install(app, runtime, poll_interval=poll_interval)
    app.include_router(jp1ao.router)
    app.include_router(secmaster.router)
    app.include_router(vao.router)
    app.include_router(veeam_em.router)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """Return the OpenAPI document, with the schemas only referenced by hand."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, PlanSourceIn):
            found = model.model_json_schema(
                ref_template="#/components/schemas/{model}", by_alias=True
            )
            schemas.update(found.pop("$defs", {}))
            schemas[model.__name__] = found
        _document_body_limit(document)
        app.openapi_schema = document
    return app.openapi_schema


def _document_body_limit(document: dict[str, Any]) -> None:
    """Add the 413 of a body over the limit to every operation that reads one."""
    (too_large,) = problem_responses(413).values()
    for path in document.get("paths", {}).values():
        for method in _WITH_BODY & path.keys():
            path[method]["responses"].setdefault("413", too_large)
