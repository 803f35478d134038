"""CeleryExecutor on kombu's in-memory transport: what is sent, where, how often."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from kombu import Connection

from onward.clock import FrozenClock
from onward.domain.effects import DispatchAttempt
from onward.executors.celery import CeleryExecutor
from onward.executors.celery_app import DEFAULT_QUEUE, TASK, create_app

REDISPATCH = timedelta(seconds=30)
BROKER = "memory://"


def attempt(
    attempt_id: str = "att_1", *, queue: str | None = None, delay: float = 0
) -> DispatchAttempt:
    """Return an attempt to dispatch (due ``delay`` seconds from the clock's now)."""
    not_before = FrozenClock().now() + timedelta(seconds=delay) if delay else None
    return DispatchAttempt(
        attempt_id=attempt_id, run_id="run_1", queue=queue, not_before=not_before
    )


def drain(queue: str) -> list[tuple[str, list[str]]]:
    """Take every message off a queue; return (task, args) of each."""
    taken: list[tuple[str, list[str]]] = []
    with Connection(BROKER) as conn:
        simple = conn.SimpleQueue(queue)
        while simple.qsize():
            message = simple.get(timeout=1)
            taken.append((message.headers["task"], message.payload[0]))
            message.ack()
        simple.close()
    return taken


@pytest.fixture
def clock() -> FrozenClock:
    """Return a frozen clock."""
    return FrozenClock()


@pytest.fixture
def queues() -> Iterator[None]:
    """Empty the in-memory queues the tests use, before and after."""
    for name in (DEFAULT_QUEUE, "recovery-site"):
        drain(name)
    yield
    for name in (DEFAULT_QUEUE, "recovery-site"):
        drain(name)


@pytest.fixture
async def executor(clock: FrozenClock, queues: None) -> AsyncIterator[CeleryExecutor]:
    """Yield an executor on the in-memory broker."""
    executor = CeleryExecutor(
        app=create_app(BROKER), clock=clock, redispatch_after=REDISPATCH
    )
    yield executor
    await executor.close()


async def test_an_attempt_is_sent_as_its_ids_to_the_default_queue(
    executor: CeleryExecutor,
) -> None:
    """The message is the run_attempt task with the run and attempt ids only."""
    await executor.dispatch([attempt()])

    assert drain(DEFAULT_QUEUE) == [(TASK, ["run_1", "att_1"])]


async def test_an_attempt_goes_to_the_queue_its_step_names(
    executor: CeleryExecutor,
) -> None:
    """A step's queue routes its attempt there, not to the default queue."""
    await executor.dispatch([attempt(queue="recovery-site")])

    assert (drain("recovery-site"), drain(DEFAULT_QUEUE)) == (
        [(TASK, ["run_1", "att_1"])],
        [],
    )


async def test_an_attempt_is_sent_again_only_after_redispatch_after(
    executor: CeleryExecutor, clock: FrozenClock
) -> None:
    """Dispatched again at once it is not re-sent; after the wait it is."""
    await executor.dispatch([attempt()])
    await executor.dispatch([attempt()])
    early = len(drain(DEFAULT_QUEUE))
    clock.advance(REDISPATCH)

    await executor.dispatch([attempt()])

    assert (early, len(drain(DEFAULT_QUEUE))) == (1, 1)


async def test_the_wait_between_sends_of_one_attempt_doubles(
    executor: CeleryExecutor, clock: FrozenClock
) -> None:
    """After the second send, the third waits twice as long."""
    await executor.dispatch([attempt()])
    clock.advance(REDISPATCH)
    await executor.dispatch([attempt()])
    drain(DEFAULT_QUEUE)
    clock.advance(REDISPATCH)
    await executor.dispatch([attempt()])
    too_early = len(drain(DEFAULT_QUEUE))
    clock.advance(REDISPATCH)

    await executor.dispatch([attempt()])

    assert (too_early, len(drain(DEFAULT_QUEUE))) == (0, 1)


async def test_a_delayed_attempt_is_not_sent_again_before_it_is_due(
    executor: CeleryExecutor, clock: FrozenClock
) -> None:
    """The wait before re-sending counts from the attempt's not_before."""
    await executor.dispatch([attempt(delay=60)])
    drain(DEFAULT_QUEUE)
    clock.advance(REDISPATCH)
    await executor.dispatch([attempt(delay=60)])
    before_due = len(drain(DEFAULT_QUEUE))
    clock.advance(timedelta(seconds=60))

    await executor.dispatch([attempt(delay=60)])

    assert (before_due, len(drain(DEFAULT_QUEUE))) == (0, 1)


async def test_the_executor_runs_and_holds_nothing(executor: CeleryExecutor) -> None:
    """Attempts run on workers: no slot is reserved, nothing runs here."""
    reserved = executor.reserve(attempt())
    await executor.kill(["att_1"])

    assert (reserved, executor.running()) == (None, {})
