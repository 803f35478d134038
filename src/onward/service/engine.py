"""
The engine: the only code that writes run state.

Every change to a run goes through ``Engine.apply``: load the run's state
(cached), ``decide``, save the decision with compare-and-set, then carry out
its effects. A lost race reloads the state and decides again.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import ChainMap, OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final, cast

import structlog

from onward import errors
from onward.clock import Clock
from onward.domain import effects, events, machine
from onward.domain.plan_schema import parse_plan
from onward.domain.plans import Plan
from onward.domain.runs import Attempt, Lane, LaneKey, Run, RunState
from onward.service.ports import (
    AuditEntry,
    Executor,
    IdempotencyRecord,
    RunCommit,
    Store,
)

_log = structlog.get_logger("onward.engine")

#: how many times a decision is re-made after losing a compare-and-set race
_MAX_RACES: Final = 20
#: how many runs' states stay cached
_CACHE_SIZE: Final = 512

#: called after a decision is saved (the in-process change feed)
Listener = Callable[[Run, effects.Decision], Awaitable[None] | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Who asks what, for the audit trail and idempotency."""

    actor: str = "system"
    name: str = ""
    reason: str = ""
    details: dict[str, object] | None = None
    idempotency: IdempotencyRecord | None = None


class Engine:
    """Applies events to runs: decide, save with compare-and-set, carry out."""

    def __init__(self, *, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._executor: Executor | None = None
        self._states: OrderedDict[str, RunState] = OrderedDict()
        self._plans: dict[tuple[str, str, int], Plan] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._listeners: list[Listener] = []
        #: events waiting to be decided, per run, with who waits for each
        self._pending: dict[
            str, list[tuple[events.Event, asyncio.Future[effects.Decision]]]
        ] = {}

    def attach_executor(self, executor: Executor) -> None:
        """Send dispatched and killed attempts to ``executor``."""
        self._executor = executor

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` after each saved decision."""
        self._listeners.append(listener)

    async def plan_of(self, run: Run) -> Plan:
        """Return the plan version a run is pinned to."""
        return await self.plan_version(
            workspace=run.workspace, name=run.plan_name, version=run.plan_version
        )

    async def plan_version(self, *, workspace: str, name: str, version: int) -> Plan:
        """Return a stored plan version, parsed (once per process)."""
        key = (workspace, name, version)
        plan = self._plans.get(key)
        if plan is None:
            stored = await self.store.get_plan_version(
                workspace=workspace, name=name, version=version
            )
            plan = self._plans[key] = parse_plan(stored.document)
        return plan

    async def create(self, state: RunState, command: Command) -> effects.Decision:
        """Save a new run and start it, in one transaction."""
        fresh = machine.new_run_state(state)
        reserved: list[str] = []
        merged, (outcome,) = _decide_batch(
            fresh,
            [events.StartRequested()],
            now=self.clock.now(),
            follow=functools.partial(self._claims_here, reserved),
        )
        if merged is None:
            raise cast("errors.OnwardError", outcome)
        try:
            await self._save(fresh, merged, command, expected_version=0)
        except errors.OnwardError:
            self._release(reserved)
            raise
        self._plans[
            (state.run.workspace, state.run.plan_name, state.run.plan_version)
        ] = state.plan
        await self._after(fresh, merged)
        return merged

    async def apply(
        self, run_id: str, event: events.Event, command: Command | None = None
    ) -> effects.Decision:
        """Decide ``event`` for the run and save the outcome; retry lost races.

        Events without an operator command (workers' claims and reports) that
        arrive while the run's previous decision is being saved are decided
        together and saved in one transaction (group commit).
        """
        if command is not None and (command.name or command.idempotency is not None):
            async with self._lock(run_id):
                return await self._apply_command(run_id, event, command)
        future: asyncio.Future[effects.Decision] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending.setdefault(run_id, []).append((event, future))
        async with self._lock(run_id):
            if not future.done():
                await self._flush(run_id, future)
        return await future

    async def _apply_command(
        self, run_id: str, event: events.Event, command: Command
    ) -> effects.Decision:
        (outcome,) = await self._decide_and_save(run_id, [event], command)
        if isinstance(outcome, errors.OnwardError):
            raise outcome
        return outcome

    async def _flush(self, run_id: str, own: asyncio.Future[effects.Decision]) -> None:
        """Decide and save every pending event of the run in one transaction.

        Every waiter, the flushing one included, learns its event's outcome
        through its future, whatever stopped the flush.
        """
        batch = self._pending.pop(run_id, [])
        try:
            outcomes = await self._outcomes(run_id, [event for event, _ in batch])
        except asyncio.CancelledError as exc:
            own.cancel()
            _settle_futures(batch, [exc] * len(batch))
            raise
        except Exception as exc:  # noqa: BLE001 - handed to every waiter, none lost
            outcomes = [exc] * len(batch)
        _settle_futures(batch, outcomes)

    async def _outcomes(
        self, run_id: str, batch: list[events.Event]
    ) -> list[effects.Decision | BaseException]:
        """Decide and save a batch; if the database refuses it, each event alone.

        One event's record (a report's output, say) may be what the database
        refuses: saved one by one, only that event fails.
        """
        try:
            return list(await self._decide_and_save(run_id, batch, Command()))
        except errors.StorageRefusedError:
            if len(batch) == 1:
                raise
        return [await self._alone(run_id, event) for event in batch]

    async def _alone(
        self, run_id: str, event: events.Event
    ) -> effects.Decision | BaseException:
        try:
            (outcome,) = await self._decide_and_save(run_id, [event], Command())
        except Exception as exc:  # noqa: BLE001 - handed to this event's waiter
            return exc
        return outcome

    async def _decide_and_save(
        self, run_id: str, batch: list[events.Event], command: Command
    ) -> list[effects.Decision | errors.OnwardError]:
        """Decide events in order on the run's state and save them together."""
        for _ in range(_MAX_RACES):
            cached = run_id in self._states
            state = await self.state(run_id)
            reserved: list[str] = []
            merged, outcomes = _decide_batch(
                state,
                batch,
                now=self.clock.now(),
                follow=functools.partial(self._claims_here, reserved),
            )
            refused = any(
                isinstance(o, errors.InvalidTransitionError) for o in outcomes
            )
            if refused and cached:
                # another process may have moved the run on since it was cached
                self._release(reserved)
                self.forget(run_id)
                continue
            if merged is not None:
                try:
                    await self._save(
                        state, merged, command, expected_version=state.run.version
                    )
                except errors.StaleStateError:
                    self._release(reserved)
                    self.forget(run_id)
                    if command.idempotency is not None:
                        raise
                    continue
                except errors.OnwardError:
                    self._release(reserved)
                    raise
                await self._after(state, merged)
            return outcomes
        raise _gave_up(run_id)

    def _claims_here(
        self, reserved: list[str], decision: effects.Decision
    ) -> list[events.Event]:
        """Claim, in the same transaction, attempts this process will run now."""
        if self._executor is None:
            return []
        now = self.clock.now()
        claims: list[events.Event] = []
        for effect in decision.effects:
            if not isinstance(effect, effects.DispatchAttempt) or (
                effect.not_before is not None and effect.not_before > now
            ):
                continue
            worker_id = self._executor.reserve(effect)
            if worker_id is not None:
                reserved.append(effect.attempt_id)
                claims.append(
                    events.AttemptClaimed(
                        attempt_id=effect.attempt_id, worker_id=worker_id
                    )
                )
        return claims

    def _release(self, reserved: list[str]) -> None:
        if reserved and self._executor is not None:
            self._executor.release(reserved)

    async def state(self, run_id: str) -> RunState:
        """Return the run's decision state (from the cache when current)."""
        state = self._states.get(run_id)
        if state is not None:
            self._states.move_to_end(run_id)
            return state
        state = await self.stored_state(run_id)
        self._remember(state)
        return state

    async def stored_state(self, run_id: str) -> RunState:
        """Return the run's decision state as stored now, leaving the cache alone.

        For readers: the cached state stays the engine's, so reading a run
        neither makes the engine load it again nor hands it a state that a
        commit overtook.
        """
        loaded = await self.store.load_run(run_id)
        plan = await self.plan_of(loaded.run)
        definition = plan.procedure(loaded.run.procedure)
        if definition is None:
            msg = f"plan {plan.name} has no procedure {loaded.run.procedure!r}"
            raise errors.StorageError(msg)
        return RunState(
            run=loaded.run,
            plan=plan,
            stages=definition.stages(),
            lanes=loaded.lanes,
            attempts=loaded.attempts,
        )

    def forget(self, run_id: str) -> None:
        """Drop a run's cached state (another process may have changed it)."""
        self._states.pop(run_id, None)

    async def _save(
        self,
        state: RunState,
        decision: effects.Decision,
        command: Command,
        *,
        expected_version: int,
    ) -> None:
        audit: tuple[AuditEntry, ...] = ()
        if command.name:
            audit = (
                AuditEntry(
                    run_id=decision.run.run_id,
                    at=self.clock.now(),
                    actor=command.actor,
                    command=command.name,
                    reason=command.reason,
                    status_before=state.run.status.value if expected_version else "",
                    status_after=decision.run.status.value,
                    details=dict(command.details or {}),
                ),
            )
        idempotency = command.idempotency
        if idempotency is not None:
            idempotency = replace(idempotency, run_id=decision.run.run_id)
        await self.store.commit_run(
            RunCommit(
                run=decision.run,
                expected_version=expected_version,
                lanes=decision.lanes,
                attempts=decision.attempts,
                audit=audit,
                idempotency=idempotency,
            )
        )

    async def _after(self, state: RunState, decision: effects.Decision) -> None:
        self._remember(machine.apply_decision(state, decision, in_place=True))
        await self._carry_out(decision)
        for listener in self._listeners:
            outcome = listener(decision.run, decision)
            if outcome is not None:
                await outcome

    async def _carry_out(self, decision: effects.Decision) -> None:
        dispatch: list[effects.DispatchAttempt] = []
        kill: list[str] = []
        for effect in decision.effects:
            if isinstance(effect, effects.DispatchAttempt):
                dispatch.append(effect)
            elif isinstance(effect, effects.KillAttempt):
                kill.append(effect.attempt_id)
            else:
                _log.info(f"run.{effect.status.value}", run_id=effect.run_id)
        if self._executor is not None:
            if dispatch:
                await self._executor.dispatch(dispatch)
            if kill:
                await self._executor.kill(kill)

    def _remember(self, state: RunState) -> None:
        self._states[state.run.run_id] = state
        self._states.move_to_end(state.run.run_id)
        while len(self._states) > _CACHE_SIZE:
            self._states.popitem(last=False)

    def _lock(self, run_id: str) -> asyncio.Lock:
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        return lock


async def apply_all(engine: Engine, items: Sequence[tuple[str, events.Event]]) -> None:
    """Apply several events, each to its run, ignoring ones no longer possible."""
    for run_id, event in items:
        try:
            await engine.apply(run_id, event)
        except errors.InvalidTransitionError:
            _log.info("event.dropped", run_id=run_id, event=type(event).__name__)


def _settle_futures(
    batch: Sequence[tuple[events.Event, asyncio.Future[effects.Decision]]],
    outcomes: Sequence[effects.Decision | BaseException],
) -> None:
    """Give each waiter its event's outcome (a waiter may have given up already)."""
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _gave_up(run_id: str) -> errors.StorageError:
    msg = f"run {run_id} kept changing under the engine; gave up"
    return errors.StorageError(msg)


def _decide_batch(
    state: RunState,
    batch: Sequence[events.Event],
    *,
    now: datetime,
    follow: Callable[[effects.Decision], list[events.Event]] | None = None,
) -> tuple[effects.Decision | None, list[effects.Decision | errors.OnwardError]]:
    """Decide events one after another; return their merged decision and outcomes.

    ``follow`` may add events after each decision (claims of the attempts this
    process runs at once); they are saved with the batch but have no outcome.
    The state is layered, not copied: lanes changed by the batch sit over the
    stored ones, so a batch costs what it changes.
    """
    lanes: dict[LaneKey, Lane] = {}
    attempts: dict[str, Attempt] = {}
    changed: list[effects.Effect] = []
    outcomes: list[effects.Decision | errors.OnwardError] = []
    current = state
    last: effects.Decision | None = None
    queue = [(event, True) for event in batch]
    while queue:
        event, reported = queue.pop(0)
        try:
            decision = machine.decide(current, event, now=now)
        except errors.InvalidTransitionError as exc:
            if reported:
                outcomes.append(exc)
            continue
        if reported:
            outcomes.append(decision)
        lanes.update(decision.lanes)
        attempts.update(decision.attempts)
        changed.extend(decision.effects)
        current = _layered(current, state, decision, lanes)
        last = decision
        if follow is not None:
            queue[0:0] = [(extra, False) for extra in follow(decision)]
    if last is None:
        return None, outcomes
    merged = effects.Decision(
        run=last.run, lanes=lanes, attempts=attempts, effects=tuple(changed)
    )
    return merged, outcomes


def _layered(
    current: RunState,
    stored: RunState,
    decision: effects.Decision,
    lanes: dict[LaneKey, Lane],
) -> RunState:
    """Return the state after a decision, its changed lanes over the stored ones."""
    in_flight = {
        **{a: v for a, v in current.attempts.items() if a not in decision.attempts},
        **{a: v for a, v in decision.attempts.items() if v.status.is_in_flight},
    }
    return replace(
        current,
        run=decision.run,
        # ChainMap writes only to its first map: the stored lanes stay untouched
        lanes=ChainMap(lanes, cast("dict[LaneKey, Lane]", stored.lanes)),
        attempts=in_flight,
    )
