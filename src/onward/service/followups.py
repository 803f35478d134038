"""
What starts after a run succeeds: its follow-up procedure (protect), then its chain.
"""

from __future__ import annotations

import structlog

from onward import errors
from onward.domain import effects
from onward.domain.runs import Run, RunStatus, Trigger
from onward.service.commands import Caller, Commands
from onward.service.ports import FullStore, IdempotencyRecord, RunFilter

_log = structlog.get_logger("onward.followups")
#: the command name of a follow-up's refusal kept under its idempotency key
_REFUSED = "follow-up-refused"
#: refusals that will not change by trying again (a stale state or a storage
#: failure may: the sweep retries those)
_FINAL_REFUSALS = (
    errors.InvalidTransitionError,
    errors.NotFoundError,
    errors.InvalidDefinitionError,
)


class FollowUps:
    """Starts the next run of a chain, or a follow-up procedure, on success."""

    def __init__(self, commands: Commands, store: FullStore) -> None:
        self._commands = commands
        self._store = store

    async def sweep(self, *, recent: int = 50) -> list[Run]:
        """Start follow-ups a crash kept from starting, among the latest successes.

        The listener starts them right after the success is saved; a process
        killed in between leaves them to this sweep (the start is idempotent).
        """
        started = []
        for workspace in await self._store.list_workspaces():
            page = await self._store.list_runs(
                RunFilter(
                    workspace=workspace.name,
                    statuses=(RunStatus.SUCCEEDED,),
                    limit=recent,
                )
            )
            for run in page.runs:
                if not (run.then_procedure or run.chain_rest):
                    continue
                key = _follow_up_key(run)
                if await self._store.find_idempotency(workspace=run.workspace, key=key):
                    continue
                follow_up = await self.start_next(run)
                if follow_up is not None:
                    started.append(follow_up)
        return started

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
            idempotency_key=_follow_up_key(run),
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
        except _FINAL_REFUSALS as exc:
            # the plan is disabled, gone, or cannot take this run: trying again
            # at each sweep would start it late, or never; the chain ends here
            await self._record_refusal(run, exc)
            _log.error("chain.start_refused", run_id=run.run_id, error=exc.message)
            return None
        except errors.OnwardError as exc:
            _log.error("chain.start_failed", run_id=run.run_id, error=exc.message)
            return None
        _log.info("chain.started", run_id=run.run_id, next_run_id=started.run_id)
        return started

    async def _record_refusal(self, run: Run, exc: errors.OnwardError) -> None:
        """Keep the refusal as the follow-up's outcome, so no sweep tries again."""
        await self._store.save_idempotency(
            IdempotencyRecord(
                workspace=run.workspace,
                key=_follow_up_key(run),
                command=_REFUSED,
                request_digest=_REFUSED,
                run_id=run.run_id,
                response={"refused": exc.message},
                created_at=self._commands.engine.clock.now(),
            )
        )


def _own_params(run: Run) -> dict[str, object]:
    """The parameters a follow-up procedure of the same plan inherits."""
    return {k: v for k, v in run.params.items() if k != "restore_point"}


def _follow_up_key(run: Run) -> str:
    return f"follow-up:{run.run_id}"
