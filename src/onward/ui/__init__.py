"""
The web console: server-rendered pages (Jinja2 + htmx) with live updates over SSE.

``install(app, runtime)`` adds it to the HTTP app: the pages at ``/`` (login,
plans, runs, operations, each in a workspace under ``/w/{workspace}/``) and
their static files at ``/static``. Signing in, roles and permissions are the
API's own; every form post carries a CSRF token.
"""

from datetime import timedelta

from fastapi import FastAPI

from onward.runtime import Runtime
from onward.ui.console import Console
from onward.ui.rendering import STATIC_DIR, ConsoleStatic
from onward.ui.routes import router

__all__ = ["install"]


def install(
    app: FastAPI, runtime: Runtime, *, poll_interval: timedelta = timedelta(seconds=1)
) -> None:
    """Serve the console from ``app`` over ``runtime``'s services.

    Args:
        app: the HTTP app.
        runtime: the process's runtime.
        poll_interval: how often live pages look for changes made by other
            processes, and for new log lines (at least twice a second).
    """
    app.state.console = Console.build(runtime, poll_interval=poll_interval)
    app.include_router(router)
    app.mount("/static", ConsoleStatic(directory=STATIC_DIR), name="console-static")
