"""
Playbook instances through Onward's services: read with their status, and operated.

SecMaster tells a RETRYING instance from a RUNNING one. A run on its second
attempt or later was retried (``Run.run_attempt``), but a halted run that an
operator continued keeps its attempt number: for a running run on its first
attempt the run's audit trail decides. The instance is RETRYING when the last
command that set the run going again after a halt was a retry option
(``retry-step``, ``retry-target``, ``retry-group``), and RUNNING when it was a
proceed option or a resume at a chosen step.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from onward import errors
from onward.api.dialects.secmaster import schemas
from onward.api.dialects.secmaster.errors import WRONG_STATE, SecMasterRequestError
from onward.domain.events import ContinueOption
from onward.domain.runs import Run, RunStatus
from onward.domain.triggers import DataObject
from onward.service.commands import Caller
from onward.service.ports import AuditEntry
from onward.service.queries import Queries
from onward.service.run_control import RunControls
from onward.service.run_scans import FoundRun, RunScans

#: the audit trail's commands that set a halted or failed run going again
_REVIVALS: Final = frozenset({"continue", "resume", "retry"})
_RETRY_OPTIONS: Final = frozenset(
    {ContinueOption.RETRY_STEP, ContinueOption.RETRY_TARGET, ContinueOption.RETRY_GROUP}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """A run as a playbook instance: what started it, and whether it was retried."""

    run: Run
    source: DataObject | None
    #: an operator's retry set the run going again (see ``schemas.status_of``)
    retried: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancePage:
    """A window of the instances a list selected, and how many it selected."""

    instances: tuple[Instance, ...]
    count: int


def retried(audit: Sequence[AuditEntry]) -> bool:
    """Tell whether the last command that set the run going again was a retry."""
    last = next((e for e in reversed(audit) if e.command in _REVIVALS), None)
    if last is None or last.command == "resume":
        return False
    return last.command == "retry" or last.details.get("option") in _RETRY_OPTIONS


def _may_be_retried(run: Run) -> bool:
    """Tell whether only the audit trail can tell RUNNING from RETRYING."""
    return run.status in schemas.ACTIVE and run.run_attempt == 1


class Instances:
    """Lists, shows and operates the playbook instances of a workspace."""

    def __init__(
        self, *, scans: RunScans, queries: Queries, controls: RunControls
    ) -> None:
        self._scans = scans
        self._queries = queries
        self._controls = controls

    async def page(self, query: schemas.InstanceQuery) -> InstancePage:
        """Return the window of instances a list query asks for, and their count."""
        known: frozenset[str] | None = None
        if query.test.tells_retried:
            known = await self._retried_among(query)
            query = query.knowing(known)
        page = await self._scans.scan(
            query.run_filter,
            offset=query.offset,
            limit=query.limit,
            keep=query.test.keep,
            sources=True,
        )
        if known is None:
            known = await self._retried_of(page.runs)
        instances = tuple(
            Instance(
                run=run,
                source=page.sources.get(run.run_id),
                retried=run.run_id in known,
            )
            for run in page.runs
        )
        return InstancePage(instances=instances, count=page.total)

    async def get(self, workspace: str, instance_id: str) -> FoundRun:
        """Return a run of the workspace and what started it; raise RunNotFoundError."""
        return await self._scans.get(workspace, instance_id)

    async def show(self, found: FoundRun) -> Instance:
        """Return a run found by ``get`` as an instance."""
        return await self._instance(found.run, found.source)

    async def operate(
        self, found: FoundRun, operation: str, *, caller: Caller
    ) -> Instance:
        """Carry out RETRY or TERMINATE; refuse in SecMaster's words when not allowed.

        Raises:
            SecMasterRequestError: the instance's status does not allow it.
        """
        control = schemas.OPERATIONS[operation]
        try:
            run = await self._controls.apply(control, found.run.run_id, caller=caller)
        except errors.InvalidTransitionError as exc:
            raise await self._refusal(found.run, operation, exc) from exc
        return await self._instance(run, found.source)

    async def _instance(self, run: Run, source: DataObject | None) -> Instance:
        known = await self._retried_of([run])
        return Instance(run=run, source=source, retried=run.run_id in known)

    async def _refusal(
        self, run: Run, operation: str, exc: errors.InvalidTransitionError
    ) -> SecMasterRequestError:
        """Return the refusal of an operation, naming the status it was refused in."""
        refused_in = next((s for s in RunStatus if s.value == exc.state), run.status)
        at_refusal = replace(run, status=refused_in)
        known = await self._retried_of([at_refusal])
        status = schemas.status_of(at_refusal, retried=run.run_id in known)
        message = schemas.refusal(
            operation, run.run_id, status, ended=refused_in.is_finished
        )
        return SecMasterRequestError(400, WRONG_STATE, message)

    async def _retried_among(self, query: schemas.InstanceQuery) -> frozenset[str]:
        """Return the retried runs among those the query's store filter selects."""
        candidates: list[Run] = []

        def note(run: Run, _: DataObject | None) -> bool:
            if _may_be_retried(run):
                candidates.append(run)
            return False

        await self._scans.scan(query.run_filter, offset=0, limit=0, keep=note)
        return await self._retried_of(candidates)

    async def _retried_of(self, runs: Iterable[Run]) -> frozenset[str]:
        """Return the ids of the runs an operator's retry set going again."""
        return frozenset(
            [
                run.run_id
                for run in runs
                if _may_be_retried(run)
                and retried(await self._queries.audit(run.run_id))
            ]
        )
