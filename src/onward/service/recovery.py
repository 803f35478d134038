"""
A plan's recovery state, read from its runs, and the check before a recovery procedure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from onward.domain.plans import RECOVERY_PROCEDURES
from onward.domain.recovery import RecoveryRun, RecoveryState, check_procedure
from onward.domain.recovery import recovery_state as state_of
from onward.service.ports import RunFilter, Store

#: the procedures whose latest run decides the state (protect only while active)
_DECISIVE: Final = frozenset({"failover", "undo_failover", "failback"})


async def recovery_state(store: Store, *, workspace: str, plan: str) -> RecoveryState:
    """Return the plan's recovery state from its recovery runs."""
    runs = [r async for r in _recovery_runs(store, workspace=workspace, plan=plan)]
    return state_of(runs)


async def check_recovery_start(
    store: Store, *, workspace: str, plan: str, procedure: str
) -> None:
    """Refuse a recovery procedure the plan's state does not allow."""
    if procedure in RECOVERY_PROCEDURES:
        state = await recovery_state(store, workspace=workspace, plan=plan)
        check_procedure(state, procedure, plan=plan)


async def _recovery_runs(
    store: Store, *, workspace: str, plan: str
) -> AsyncIterator[RecoveryRun]:
    """Yield the plan's recovery runs newest first, up to the first decisive one."""
    cursor: str | None = None
    while True:
        page = await store.list_runs(
            RunFilter(workspace=workspace, plan_name=plan, cursor=cursor, limit=200)
        )
        for run in page.runs:
            if run.procedure in RECOVERY_PROCEDURES:
                yield RecoveryRun(procedure=run.procedure, status=run.status)
                if run.procedure in _DECISIVE:
                    return
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
