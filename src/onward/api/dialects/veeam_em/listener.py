"""
The vendor's HTTPS listener: the app served on Enterprise Manager's port with TLS.

Enterprise Manager clients reach ``https://<host>:9398/api/``. With the setting
``veeam_em_port``, ``onward serve`` runs a second uvicorn server over the same
app (``configured``), its lifespan off: the main server's lifespan runs the
runtime. ``Href`` links follow the address each request came to.
"""

from typing import Final, Literal

import uvicorn
from fastapi import FastAPI

from onward.config import Settings

#: the vendor's HTTPS port
VENDOR_PORT: Final = 9398


def https_config(
    app: FastAPI,
    *,
    certfile: str,
    keyfile: str,
    host: str = "0.0.0.0",  # noqa: S104 - the vendor's clients come from elsewhere
    port: int = VENDOR_PORT,
    lifespan: Literal["on", "off"] = "off",
    log_level: int | None = None,
    timeout_graceful_shutdown: int | None = None,
) -> uvicorn.Config:
    """Return a uvicorn configuration serving ``app`` over HTTPS on ``port``.

    Args:
        app: the app (the same one the main server serves).
        certfile: the PEM certificate (chain) file.
        keyfile: the PEM private key file.
        host: the address to listen on.
        port: the port (the vendor's 9398 by default).
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
) -> uvicorn.Config | None:
    """Return the listener ``settings`` ask for (``veeam_em_port``), or None."""
    tls = settings.veeam_em_tls
    if settings.veeam_em_port is None or tls is None:
        return None
    certfile, keyfile = tls
    return https_config(
        app,
        certfile=certfile,
        keyfile=keyfile,
        host=settings.veeam_em_host or settings.host,
        port=settings.veeam_em_port,
        log_level=log_level,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
