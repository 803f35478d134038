"""
What starts after a run succeeds: its follow-up procedure (protect), then its chain.
"""

from __future__ import annotations

import structlog

from onward import errors
from onward.domain import effects
from onward.domain.runs import Run, RunStatus, Trigger
from onward.service.commands import Caller, Commands

_log = structlog.get_logger("onward.followups")


class FollowUps:
    """Starts the next run of a chain, or a follow-up procedure, on success."""

    def __init__(self, commands: Commands) -> None:
        self._commands = commands

    async def on_decision(self, run: Run, decision: effects.Decision) -> None:
        """Engine listener: act when a run has just succeeded."""
        ended = any(
            isinstance(e, effects.RunEnded) and e.status is RunStatus.SUCCEEDED
            for e in decision.effects
        )
        if ended and (run.then_procedure or run.chain_rest):
            await self.start_next(run)

    async def start_next(self, run: Run) -> Run | None:
        """Start what follows a succeeded run (once: the start is idempotent)."""
        caller = Caller(
            actor="chain",
            reason=f"follows run {run.run_id}",
            idempotency_key=f"follow-up:{run.run_id}",
            workspace=run.workspace,
        )
        try:
            if run.then_procedure:
                started = await self._commands.start_run(
                    run.plan_name,
                    version=run.plan_version,
                    procedure=run.then_procedure,
                    params=_own_params(run),
                    trigger=Trigger.CHAIN,
                    triggered_by=run.run_id,
                    follows=run.chain_rest,
                    caller=caller,
                )
            else:
                started = await self._commands.start_run(
                    run.chain_rest[0],
                    trigger=Trigger.CHAIN,
                    triggered_by=run.run_id,
                    follows=run.chain_rest[1:],
                    caller=caller,
                )
        except errors.OnwardError as exc:
            _log.error("chain.start_failed", run_id=run.run_id, error=exc.message)
            return None
        _log.info("chain.started", run_id=run.run_id, next_run_id=started.run_id)
        return started


def _own_params(run: Run) -> dict[str, object]:
    """The parameters a follow-up procedure of the same plan inherits."""
    return {k: v for k, v in run.params.items() if k != "restore_point"}
