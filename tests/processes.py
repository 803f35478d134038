"""
Helpers for tests that spawn real servers: free ports and self-signed certificates.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """Return a TCP port nobody listens on on loopback (for now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def self_signed(directory: Path, *, name: str = "server") -> tuple[Path, Path]:
    """Make a self-signed certificate for localhost and 127.0.0.1; return cert, key."""
    cert, key = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
