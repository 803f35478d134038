"""
Fixtures the service tests share: a frozen clock.

(``store`` stays each module's own: the root conftest's runs a test against
every adapter.)
"""

from __future__ import annotations

import pytest

from onward.clock import FrozenClock


@pytest.fixture
def clock() -> FrozenClock:
    """Return a clock frozen at 2026-01-01 UTC."""
    return FrozenClock()
