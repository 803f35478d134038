"""
The ``approval`` action: a step decided by a person, never run by a worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from onward.actions._inputs import InputReader
from onward.actions.base import ActionContext, ActionResult
from onward.errors import Problem


class ApprovalAction:
    """
    Waits for a person to approve or reject the step.

    The engine puts the run in ``waiting`` when it reaches an approval step and
    never calls :meth:`run`; the decision comes through the API or the console.

    Inputs:
        message: what the approver is asked (required).
        approvers: user names allowed to decide (optional; default: anyone
            with the operator role).
    """

    kind: ClassVar[str] = "approval"

    def check(self, inputs: Mapping[str, Any]) -> list[Problem]:
        """Check ``message`` and ``approvers``."""
        reader = InputReader(inputs, rendered=False)
        reader.string("message", required=True)
        reader.strings("approvers")
        reader.reject_unknown()
        return reader.problems

    async def run(self, inputs: Mapping[str, Any], ctx: ActionContext) -> ActionResult:
        """Refuse: approvals are decided by people, so running one is a mistake."""
        return ActionResult.failed(
            "approval steps are decided by people through the API or the console, "
            "not run by a worker",
            retryable=False,
        )
