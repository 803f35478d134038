"""
The ``sleep`` action: waits for a while, then succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

from onward.actions._inputs import InputReader, invalid_inputs
from onward.actions.base import ActionContext, ActionResult
from onward.errors import Problem


def _read(inputs: Mapping[str, Any], *, rendered: bool) -> tuple[float, list[Problem]]:
    reader = InputReader(inputs, rendered=rendered)
    seconds = reader.seconds("seconds", default=0.0, required=True)
    reader.reject_unknown()
    return seconds, reader.problems


class SleepAction:
    """
    Waits, e.g. for a service to settle between two steps.

    Inputs:
        seconds: how long, 0 or more: a number of seconds or a duration string
            such as ``500ms``, ``30s``, ``5m`` (required).

    Output: ``{"seconds": <the time waited>}``.
    """

    kind: ClassVar[str] = "sleep"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Check that ``seconds`` is a duration of 0 or more."""
        return _read(inputs, rendered=False)[1]

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Wait for ``seconds``, then succeed."""
        seconds, problems = _read(inputs, rendered=True)
        if problems:
            return invalid_inputs(problems)
        await asyncio.sleep(seconds)
        return ActionResult.succeeded({"seconds": seconds})
