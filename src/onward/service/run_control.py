"""
Run controls named by outcome, for APIs whose commands do not say the run's state.

Some clients ask to "retry from the failed step" without knowing whether the
run halted (it waits for a decision) or failed (it ended): the control picks
the command that does it in the run's state, or refuses with the state.

========================  ====================================  ==============
control                   halted run                            failed run
========================  ====================================  ==============
retry-failed-step         continue with ``retry-step``          retry the run
skip-failed-step          continue with ``proceed-step``        refused
cancel / force-cancel     cancel (gracefully / killing steps)   refused
========================  ====================================  ==============

Pending, running and waiting runs may be cancelled either way; a cancelling
run may still be force-cancelled. Anything else is an InvalidTransitionError.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from onward import errors
from onward.domain.events import ContinueOption
from onward.domain.runs import Run, RunStatus
from onward.service.commands import Caller, Commands

S = RunStatus


class RunControl(StrEnum):
    """What a client asks of a run, whatever its state."""

    RETRY_FAILED_STEP = "retry-failed-step"
    SKIP_FAILED_STEP = "skip-failed-step"
    CANCEL = "cancel"
    FORCE_CANCEL = "force-cancel"


_ACTIVE: Final = frozenset({S.PENDING, S.RUNNING, S.WAITING, S.HALTED})

#: the states each control applies in
ALLOWED_IN: Final = {
    RunControl.RETRY_FAILED_STEP: frozenset({S.HALTED, S.FAILED}),
    RunControl.SKIP_FAILED_STEP: frozenset({S.HALTED}),
    RunControl.CANCEL: _ACTIVE,
    RunControl.FORCE_CANCEL: _ACTIVE | {S.CANCELLING},
}


def controls_for(run: Run) -> tuple[RunControl, ...]:
    """Return the controls that apply to the run in its state, in declared order."""
    return tuple(control for control in RunControl if run.status in ALLOWED_IN[control])


class RunControls:
    """Carries out a control on a run of the caller's workspace."""

    def __init__(self, *, commands: Commands) -> None:
        self._commands = commands
        self._store = commands.store

    async def apply(self, control: RunControl, run_id: str, *, caller: Caller) -> Run:
        """Carry out the control in the run's current state; return the run.

        Raises:
            RunNotFoundError: no such run in the caller's workspace.
            InvalidTransitionError: the control does not apply in the run's state.
        """
        run = await self._store.get_run(run_id)
        if run.workspace != caller.workspace:
            raise errors.RunNotFoundError(run_id=run_id)
        if run.status not in ALLOWED_IN[control]:
            raise errors.InvalidTransitionError(
                subject=f"run {run_id}", state=run.status.value, command=control.value
            )
        commands = self._commands
        if control is RunControl.RETRY_FAILED_STEP and run.status is S.FAILED:
            return await commands.retry_run(run_id, caller=caller)
        if control is RunControl.RETRY_FAILED_STEP:
            return await commands.continue_run(
                run_id, ContinueOption.RETRY_STEP, caller=caller
            )
        if control is RunControl.SKIP_FAILED_STEP:
            return await commands.continue_run(
                run_id, ContinueOption.PROCEED_STEP, caller=caller
            )
        force = control is RunControl.FORCE_CANCEL
        return await commands.cancel_run(run_id, force=force, caller=caller)
