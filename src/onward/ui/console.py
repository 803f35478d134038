"""
The console's services: the use cases its pages read and the commands they send.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Self, cast

from fastapi import Request

from onward.runtime import Runtime
from onward.service.access import AccessService
from onward.service.auth import AuthService
from onward.service.engine import Engine
from onward.service.operations import Operations
from onward.service.plan_library import PlanLibrary
from onward.service.plan_switches import PlanSwitches
from onward.service.run_events import RunChanges
from onward.service.workspace_runs import WorkspaceRuns

#: the longest a live page waits before looking for new log lines
MAX_TICK: Final = timedelta(seconds=0.5)


@dataclass(frozen=True, slots=True, kw_only=True)
class Console:
    """The services behind the console, built once per app."""

    engine: Engine
    auth: AuthService
    access: AccessService
    plans: PlanLibrary
    #: turns plans off and on, and reads a plan with its switch
    switches: PlanSwitches
    runs: WorkspaceRuns
    operations: Operations
    changes: RunChanges
    #: how often a live page's stream looks for new log lines, in seconds
    tick: float
    #: the largest request body the app reads, in bytes (a form's limit too)
    max_request_body: int

    @classmethod
    def build(
        cls, runtime: Runtime, *, poll_interval: timedelta = timedelta(seconds=1)
    ) -> Self:
        """Wire the console's services over a runtime.

        Args:
            runtime: the process's runtime.
            poll_interval: how often live pages re-read a run changed by
                other processes (and look for new log lines); at most
                ``MAX_TICK``.
        """
        poll = min(poll_interval, MAX_TICK)
        return cls(
            engine=runtime.engine,
            auth=runtime.auth,
            access=AccessService(
                store=runtime.store, auth=runtime.auth, clock=runtime.engine.clock
            ),
            plans=PlanLibrary(commands=runtime.commands),
            switches=PlanSwitches(store=runtime.store, clock=runtime.engine.clock),
            runs=WorkspaceRuns(queries=runtime.queries),
            operations=Operations(store=runtime.store, commands=runtime.commands),
            changes=RunChanges(engine=runtime.engine, poll_interval=poll),
            tick=poll.total_seconds(),
            max_request_body=runtime.settings.max_request_body,
        )


def get_console(request: Request) -> Console:
    """Return the console of the app serving the request."""
    return cast("Console", request.app.state.console)
