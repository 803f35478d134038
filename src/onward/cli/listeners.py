"""
Further HTTPS listeners: the same application served on ports of their own.

With the setting ``https_listeners``, ``onward serve`` runs one more uvicorn
server over the app for each (``configured``), its lifespan off: the main
server's lifespan runs the runtime. Links in answers follow the address each
request came to, so a client sees the port it used.
"""

from __future__ import annotations

from typing import Literal

import uvicorn
from fastapi import FastAPI

from onward.config import HttpsListener, Settings


def https_config(
    app: FastAPI,
    *,
    certfile: str,
    keyfile: str,
    host: str,
    port: int,
    lifespan: Literal["on", "off"] = "off",
    log_level: int | None = None,
    timeout_graceful_shutdown: int | None = None,
) -> uvicorn.Config:
    """Return a uvicorn configuration serving ``app`` over HTTPS on ``host:port``.

    Args:
        app: the app (the same one the main server serves).
        certfile: the PEM certificate (chain) file.
        keyfile: the PEM private key file.
        host: the address to listen on.
        port: the port.
        lifespan: ``off`` when another server runs the app's lifespan.
        log_level: uvicorn's log level (None: its default).
        timeout_graceful_shutdown: seconds open connections get when stopping.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        lifespan=lifespan,
        log_config=None,
        log_level=log_level,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )


def configured(
    app: FastAPI,
    settings: Settings,
    *,
    log_level: int | None = None,
    timeout_graceful_shutdown: int | None = None,
) -> list[uvicorn.Config]:
    """Return a configuration for each listener ``settings`` ask for, in order."""
    return [
        _config(
            app,
            settings,
            listener,
            log_level=log_level,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
        )
        for listener in settings.https_listeners
    ]


def _config(
    app: FastAPI,
    settings: Settings,
    listener: HttpsListener,
    *,
    log_level: int | None,
    timeout_graceful_shutdown: int | None,
) -> uvicorn.Config:
    tls = settings.listener_tls(listener)
    if tls is None:  # the settings refuse such a listener
        msg = f"the listener on port {listener.port} has no certificate"
        raise ValueError(msg)
    certfile, keyfile = tls
    return https_config(
        app,
        certfile=certfile,
        keyfile=keyfile,
        host=listener.host or settings.host,
        port=listener.port,
        log_level=log_level,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
