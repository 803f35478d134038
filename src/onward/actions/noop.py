"""
The ``noop`` action: succeeds at once and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Final

from onward.actions.base import ActionContext, ActionResult
from onward.errors import Problem

# One shared, read-only result: no-op steps run by the thousand in benchmarks.
_DONE: Final = ActionResult(ok=True, output=MappingProxyType({}))


class NoopAction:
    """
    Does nothing and succeeds; a placeholder step or a pure checkpoint.

    Any inputs are accepted and ignored. Output: ``{}``.
    """

    kind: ClassVar[str] = "noop"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Accept any inputs: they are ignored."""
        return []

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Return success at once."""
        return _DONE
