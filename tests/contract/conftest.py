"""
Fixtures of the contract suites, over the ``store`` of each adapter.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import cast

import pytest

from onward import errors
from onward.domain.access import Workspace
from onward.service.ports import FullStore, Store

_CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def access(store: Store) -> FullStore:
    """Return the store as a FullStore holding the ``default`` workspace."""
    full = cast("FullStore", store)
    with contextlib.suppress(errors.AlreadyExistsError):
        await full.create_workspace(Workspace(name="default", created_at=_CREATED))
    return full
