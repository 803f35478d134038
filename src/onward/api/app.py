"""
The FastAPI application: health, a front page, and the runtime's lifespan.

``create_app(runtime)`` is the composition point of the HTTP side: the app's
lifespan starts the runtime (recovery, heartbeats, sweeps of queued attempts)
and closes it on shutdown. The REST API and the console join it later.
"""

import contextlib
import html
from collections.abc import AsyncIterator
from importlib import metadata

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from onward.runtime import Runtime

_router = APIRouter()

_FRONT_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Onward</title></head>
<body>
<h1>Onward</h1>
<p>A durable runbook orchestrator, version {version}.</p>
<p>This server carries out runs. Drive it with the command line, for example:</p>
<pre>onward run list
onward run show RUN
onward run continue RUN --option retry-step --wait</pre>
<p>See <code>onward --help</code>. Health: <a href="/healthz">/healthz</a>.</p>
</body>
</html>
"""


def _version() -> str:
    try:
        return metadata.version("onward")
    except metadata.PackageNotFoundError:
        return "unknown"


@_router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Tell that the server is up."""
    return {"status": "ok"}


@_router.get("/", response_class=HTMLResponse)
async def front_page() -> HTMLResponse:
    """Name Onward and point to the command line."""
    return HTMLResponse(_FRONT_PAGE.format(version=html.escape(_version())))


def create_app(runtime: Runtime) -> FastAPI:
    """Return the app serving ``runtime``; its lifespan starts and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(title="Onward", version=_version(), lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(_router)
    return app
