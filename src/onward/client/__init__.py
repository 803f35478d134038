"""
The Python client of Onward's native REST API: async, typed, on httpx.

::

    async with OnwardClient("https://onward.example:8400") as client:
        await client.login("ann", password)
        accepted = await client.start_run("web-tier-dr", params={"ticket": "CHG-1"})
        done = await client.wait_operation(accepted.operation.operation_id)

Sync callers run it with ``asyncio.run`` at their edge.
"""

from __future__ import annotations

from onward.client import _models as models
from onward.client._client import CommandIntent, OnwardClient, UnreachableError
from onward.client._errors import (
    ApiError,
    AuthenticationApiError,
    ConflictApiError,
    InvalidApiError,
    NotFoundApiError,
    PermissionApiError,
    StorageApiError,
)

__all__ = [
    "ApiError",
    "AuthenticationApiError",
    "CommandIntent",
    "ConflictApiError",
    "InvalidApiError",
    "NotFoundApiError",
    "OnwardClient",
    "PermissionApiError",
    "StorageApiError",
    "UnreachableError",
    "models",
]
