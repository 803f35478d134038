"""
Fixtures for the action tests.
"""

from __future__ import annotations

import pytest
from action_helpers import LogRecorder, make_context

from onward.actions import ActionContext


@pytest.fixture
def log() -> LogRecorder:
    """Return a fresh run-log recorder."""
    return LogRecorder()


@pytest.fixture
def ctx(log: LogRecorder) -> ActionContext:
    """Return the context of a first try whose run log goes to ``log``."""
    return make_context(log)
