"""
MemoryStore: the in-memory Store, held to the same contract suite as SqlStore.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from onward import errors
from onward.domain.runs import Attempt, AttemptStatus, Lane, LaneKey, Run
from onward.domain.triggers import DataObject
from onward.ids import new_plan_id
from onward.service.ports import (
    AuditEntry,
    IdempotencyRecord,
    LoadedRun,
    LogEntry,
    Operation,
    PlanSummary,
    PlanVersion,
    RunCommit,
    RunFilter,
    RunPage,
)
from onward.storage._storable import storable_arguments
from onward.storage.memory_access import MemoryAccessStore


@storable_arguments
class MemoryStore(MemoryAccessStore):
    """Keeps everything in dictionaries; state is lost when the process ends.

    It takes its arguments with their text as the SQL store binds it
    (:func:`~onward.storage._storable.storable_arguments`).
    """

    def __init__(self) -> None:
        super().__init__()
        self._versions: dict[tuple[str, str], list[PlanVersion]] = {}
        self._runs: dict[str, Run] = {}
        self._lanes: dict[str, dict[LaneKey, Lane]] = {}
        self._attempts: dict[str, Attempt] = {}
        self._attempts_by_run: dict[str, list[str]] = {}
        self._audit: dict[str, list[AuditEntry]] = {}
        self._logs: list[LogEntry] = []
        self._log_seq = itertools.count(1)
        self._idempotency: dict[tuple[str, str], IdempotencyRecord] = {}
        self._beats: dict[str, datetime] = {}
        self._disabled: set[tuple[str, str]] = set()
        self._fires: dict[tuple[str, str, str], datetime] = {}
        self._data_objects: dict[str, DataObject] = {}
        #: lease name -> (owner, expires at)
        self._leases: dict[str, tuple[str, datetime]] = {}
        #: numbers of runs and plans, counted up and never reused, as SqlStore's
        self._run_numbers: dict[str, int] = {}
        self._runs_by_number: dict[int, str] = {}
        self._next_run_number = itertools.count(1)
        self._plan_numbers: dict[str, int] = {}
        self._next_plan_number = itertools.count(1)

    async def save_plan_version(
        self,
        *,
        workspace: str,
        name: str,
        source: str,
        format: str,
        document: Mapping[str, Any],
        digest: str,
        created_by: str,
        now: datetime,
    ) -> PlanVersion:
        """Store a new version (1 for a new plan); return the latest if identical."""
        versions = self._versions.setdefault((workspace, name), [])
        if versions and versions[-1].digest == digest:
            return versions[-1]
        if versions:
            plan_id = versions[0].plan_id
        else:
            plan_id = new_plan_id()
            self._plan_numbers[plan_id] = next(self._next_plan_number)
        version = PlanVersion(
            plan_id=plan_id,
            workspace=workspace,
            name=name,
            version=len(versions) + 1,
            source=source,
            format=format,
            document=document,
            digest=digest,
            created_at=now,
            created_by=created_by,
        )
        versions.append(version)
        return version

    async def get_plan_version(
        self, *, workspace: str, name: str, version: int | None = None
    ) -> PlanVersion:
        """Return a version (the latest by default); raise PlanNotFoundError."""
        versions = self._versions.get((workspace, name))
        if not versions:
            raise errors.PlanNotFoundError(plan=name, version=version)
        if version is None:
            return versions[-1]
        if not 1 <= version <= len(versions):
            raise errors.PlanNotFoundError(plan=name, version=version)
        return versions[version - 1]

    async def list_plans(self, *, workspace: str) -> list[PlanSummary]:
        """Return the workspace's plans by name."""
        return [
            PlanSummary(
                plan_id=versions[0].plan_id,
                workspace=workspace,
                name=name,
                latest_version=versions[-1].version,
                created_at=versions[0].created_at,
                updated_at=versions[-1].created_at,
                enabled=(space, name) not in self._disabled,
            )
            for (space, name), versions in sorted(self._versions.items())
            if space == workspace and versions
        ]

    async def get_plan_summary(self, *, workspace: str, name: str) -> PlanSummary:
        """Return one plan as listed; raise PlanNotFoundError."""
        for summary in await self.list_plans(workspace=workspace):
            if summary.name == name:
                return summary
        raise errors.PlanNotFoundError(plan=name)

    async def set_plan_enabled(
        self, *, workspace: str, name: str, enabled: bool
    ) -> None:
        """Enable or disable a plan; raise PlanNotFoundError."""
        await self.get_plan_summary(workspace=workspace, name=name)
        if enabled:
            self._disabled.discard((workspace, name))
        else:
            self._disabled.add((workspace, name))

    async def list_plan_versions(
        self, *, workspace: str, name: str
    ) -> list[PlanVersion]:
        """Return every version of a plan, oldest first; raise PlanNotFoundError."""
        versions = self._versions.get((workspace, name))
        if not versions:
            raise errors.PlanNotFoundError(plan=name)
        return list(versions)

    async def delete_plan(self, *, workspace: str, name: str) -> None:
        """Delete a plan and its versions; raise PlanInUseError if runs use it."""
        versions = await self.list_plan_versions(workspace=workspace, name=name)
        if any(run.plan_id == versions[0].plan_id for run in self._runs.values()):
            raise errors.PlanInUseError(plan=name)
        del self._versions[(workspace, name)]
        self._plan_numbers.pop(versions[0].plan_id, None)

    async def add_operation(self, operation: Operation) -> None:
        """Store an accepted operation; raise RunNotFoundError for an unknown run."""
        await self.get_run(operation.run_id)
        await super().add_operation(operation)

    async def commit_run(self, commit: RunCommit) -> None:
        """Save a decision atomically, compare-and-set on the run's version."""
        run_id = commit.run.run_id
        stored = self._runs.get(run_id)
        stored_version = stored.version if stored is not None else 0
        if stored_version != commit.expected_version or (
            commit.expected_version == 0 and stored is not None
        ):
            raise errors.StaleStateError(
                subject=f"Run {run_id}", expected_version=commit.expected_version
            )
        if commit.idempotency is not None:
            key = (commit.idempotency.workspace, commit.idempotency.key)
            if key in self._idempotency:
                raise errors.StaleStateError(
                    subject=f"Idempotency key {key[1]}", expected_version=0
                )
            self._idempotency[key] = commit.idempotency
        if stored is None:
            number = next(self._next_run_number)
            self._run_numbers[run_id] = number
            self._runs_by_number[number] = run_id
        self._runs[run_id] = commit.run
        self._lanes.setdefault(run_id, {}).update(commit.lanes)
        known = self._attempts_by_run.setdefault(run_id, [])
        for attempt_id, attempt in commit.attempts.items():
            if attempt_id not in self._attempts:
                known.append(attempt_id)
            self._attempts[attempt_id] = attempt
        self._audit.setdefault(run_id, []).extend(commit.audit)

    async def load_run(self, run_id: str) -> LoadedRun:
        """Return the run's decision state; raise RunNotFoundError."""
        run = await self.get_run(run_id)
        in_flight = {
            attempt_id: self._attempts[attempt_id]
            for attempt_id in self._attempts_by_run.get(run_id, [])
            if self._attempts[attempt_id].status.is_in_flight
        }
        return LoadedRun(
            run=run, lanes=dict(self._lanes.get(run_id, {})), attempts=in_flight
        )

    async def get_run(self, run_id: str) -> Run:
        """Return the run record; raise RunNotFoundError."""
        run = self._runs.get(run_id)
        if run is None:
            raise errors.RunNotFoundError(run_id=run_id)
        return run

    async def list_runs(self, run_filter: RunFilter) -> RunPage:
        """Return one page of runs, newest first."""
        selected = [
            run
            for run in sorted(self._runs.values(), key=lambda r: r.run_id, reverse=True)
            if _matches(run, run_filter)
        ]
        limit = max(run_filter.limit, 0)
        page = selected[:limit]
        more = len(selected) > limit and bool(page)
        return RunPage(runs=tuple(page), next_cursor=page[-1].run_id if more else None)

    async def get_run_numbers(self, run_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored run among ``run_ids`` (others omitted)."""
        return {i: self._run_numbers[i] for i in run_ids if i in self._run_numbers}

    async def get_plan_numbers(self, plan_ids: Sequence[str]) -> dict[str, int]:
        """Return the number of each stored plan among ``plan_ids`` (others omitted)."""
        return {i: self._plan_numbers[i] for i in plan_ids if i in self._plan_numbers}

    async def find_run_id(self, number: int) -> str | None:
        """Return the id of the run with this number, if any."""
        return self._runs_by_number.get(number)

    async def list_lanes(self, run_id: str) -> list[Lane]:
        """Return the run's started lanes in (stage, target) order."""
        await self.get_run(run_id)
        return [lane for _, lane in sorted(self._lanes.get(run_id, {}).items())]

    async def list_attempts(self, run_id: str) -> list[Attempt]:
        """Return every attempt of the run in the order they were queued."""
        await self.get_run(run_id)
        return [self._attempts[a] for a in self._attempts_by_run.get(run_id, [])]

    async def get_attempt(self, attempt_id: str) -> Attempt:
        """Return one attempt; raise AttemptNotFoundError."""
        attempt = self._attempts.get(attempt_id)
        if attempt is None:
            raise errors.AttemptNotFoundError(attempt_id=attempt_id)
        return attempt

    async def step_outputs(
        self, run_id: str, lane: LaneKey
    ) -> dict[int, Mapping[str, Any]]:
        """Return the output of the latest succeeded attempt of each step of a lane."""
        outputs: dict[int, Mapping[str, Any]] = {}
        for attempt_id in self._attempts_by_run.get(run_id, []):
            attempt = self._attempts[attempt_id]
            if attempt.lane == lane and attempt.status is AttemptStatus.SUCCEEDED:
                outputs[attempt.step] = attempt.output
        return outputs

    async def list_audit(self, run_id: str) -> list[AuditEntry]:
        """Return the run's audit trail, oldest first."""
        return list(self._audit.get(run_id, []))

    async def find_idempotency(
        self, *, workspace: str, key: str
    ) -> IdempotencyRecord | None:
        """Return the record kept for an idempotency key, if any."""
        return self._idempotency.get((workspace, key))

    async def save_idempotency(self, record: IdempotencyRecord) -> None:
        """Store a record, or replace the response of the record with its key."""
        self._idempotency[(record.workspace, record.key)] = record

    async def append_logs(self, entries: Sequence[LogEntry]) -> None:
        """Append lines to run logs."""
        self._logs.extend(replace(entry, seq=next(self._log_seq)) for entry in entries)

    async def read_logs(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        attempt_id: str | None = None,
        limit: int = 1000,
    ) -> list[LogEntry]:
        """Return log lines after ``after_seq`` in order."""
        lines = (
            entry
            for entry in self._logs
            if entry.run_id == run_id
            and entry.seq > after_seq
            and (attempt_id is None or entry.attempt_id == attempt_id)
        )
        return list(itertools.islice(lines, limit))

    async def queued_attempts(self, *, limit: int = 1000) -> list[Attempt]:
        """Return attempts waiting for a worker, oldest first."""
        queued = (
            a for a in self._attempts.values() if a.status is AttemptStatus.QUEUED
        )
        return sorted(queued, key=lambda a: (a.queued_at, a.attempt_id))[:limit]

    async def beat(self, *, worker_id: str, name: str, now: datetime) -> None:
        """Record that a worker is alive."""
        self._beats[worker_id] = now

    async def stale_attempts(self, *, heartbeat_before: datetime) -> list[Attempt]:
        """Return running attempts whose worker has not beaten since the cutoff."""
        return [
            attempt
            for attempt in self._attempts.values()
            if attempt.status is AttemptStatus.RUNNING
            and not attempt.approval
            and self._beat_of(attempt.worker_id) < heartbeat_before
        ]

    async def expired_approvals(self, *, now: datetime) -> list[Attempt]:
        """Return approval attempts waiting past their deadline."""
        return [
            attempt
            for attempt in self._attempts.values()
            if attempt.approval
            and attempt.status is AttemptStatus.RUNNING
            and attempt.deadline_at is not None
            and attempt.deadline_at <= now
        ]

    async def acquire_lease(
        self, *, name: str, owner: str, now: datetime, ttl: timedelta
    ) -> bool:
        """Take or renew a lease until ``now + ttl``; False while another holds it."""
        held = self._leases.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._leases[name] = (owner, now + ttl)
        return True

    async def release_lease(self, *, name: str, owner: str) -> None:
        """Give a lease up at once if ``owner`` holds it."""
        held = self._leases.get(name)
        if held is not None and held[0] == owner:
            del self._leases[name]

    async def last_fire(
        self, *, workspace: str, plan: str, trigger: str
    ) -> datetime | None:
        """Return the time a timer trigger last fired for, if it ever did."""
        return self._fires.get((workspace, plan, trigger))

    async def record_fire(
        self,
        *,
        workspace: str,
        plan: str,
        trigger: str,
        fire_at: datetime,
        previous: datetime | None,
    ) -> bool:
        """Move a trigger's last fire from ``previous`` to ``fire_at`` (CAS)."""
        key = (workspace, plan, trigger)
        if self._fires.get(key) != previous:
            return False
        self._fires[key] = fire_at
        return True

    async def add_data_object(self, data_object: DataObject) -> None:
        """Store a posted data object."""
        self._data_objects[data_object.object_id] = data_object

    async def get_data_object(self, object_id: str) -> DataObject:
        """Return a data object; raise DataObjectNotFoundError."""
        try:
            return self._data_objects[object_id]
        except KeyError:
            raise errors.DataObjectNotFoundError(object_id=object_id) from None

    async def list_data_objects(
        self, *, workspace: str, dataclass: str | None = None, limit: int = 100
    ) -> list[DataObject]:
        """Return a workspace's data objects, newest first."""
        chosen = [
            o
            for o in self._data_objects.values()
            if o.workspace == workspace
            and (dataclass is None or o.dataclass == dataclass)
        ]
        chosen.sort(key=lambda o: (o.created_at, o.object_id), reverse=True)
        return chosen[: max(limit, 0)]

    async def close(self) -> None:
        """Nothing to release."""

    def _beat_of(self, worker_id: str | None) -> datetime:
        if worker_id is None or worker_id not in self._beats:
            return datetime.min.replace(tzinfo=UTC)
        return self._beats[worker_id]


def _matches(run: Run, run_filter: RunFilter) -> bool:
    return (
        run.workspace == run_filter.workspace
        and (run_filter.plan_name is None or run.plan_name == run_filter.plan_name)
        and (not run_filter.statuses or run.status in run_filter.statuses)
        and (
            run_filter.created_after is None
            or run.created_at >= run_filter.created_after
        )
        and (
            run_filter.created_before is None
            or run.created_at < run_filter.created_before
        )
        and (run_filter.cursor is None or run.run_id < run_filter.cursor)
    )
