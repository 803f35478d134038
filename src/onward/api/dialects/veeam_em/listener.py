"""
The vendor's HTTPS listener: the app served on Enterprise Manager's port with TLS.

Enterprise Manager clients reach ``https://<host>:9398/api/``. A server that
should answer them there runs a second uvicorn server over the same app with
``https_config`` (its lifespan off: the main server's lifespan runs the
runtime). ``Href`` links follow the address each request came to.
"""

from typing import Final, Literal

import uvicorn
from fastapi import FastAPI

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
) -> uvicorn.Config:
    """Return a uvicorn configuration serving ``app`` over HTTPS on ``port``.

    Args:
        app: the app (the same one the main server serves).
        certfile: the PEM certificate (chain) file.
        keyfile: the PEM private key file.
        host: the address to listen on.
        port: the port (the vendor's 9398 by default).
        lifespan: ``off`` when another server runs the app's lifespan.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        lifespan=lifespan,
        log_config=None,
    )
