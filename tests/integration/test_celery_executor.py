"""The celery executor on real brokers (Redis, RabbitMQ) with `onward worker` processes.

Each test runs once per broker. The brokers are the ones on this machine
(``$ONWARD_TEST_REDIS_URL``, default ``redis://127.0.0.1:6379/15``, and
``$ONWARD_TEST_AMQP_URL``, default ``amqp://guest:guest@127.0.0.1:5672//``);
an unreachable broker skips its tests, or fails them when ``CI=true``. Every
test uses queues of its own, deleted afterwards, so that runs of the suite
never see each other's messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection
from kombu.exceptions import OperationalError

from onward.config import Settings
from onward.domain.runs import AttemptStatus, RunStatus
from onward.executors.celery_app import TASK, create_app
from onward.runtime import Runtime

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BROKERS = {
    "redis": ("ONWARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": ("ONWARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
FAST = {
    "ONWARD_HEARTBEAT_INTERVAL": "0.2",
    "ONWARD_HEARTBEAT_TIMEOUT": "5",
    "ONWARD_POLL_INTERVAL": "0.1",
    "ONWARD_SHUTDOWN_GRACE": "2",
    "ONWARD_LOG_LEVEL": "info",
}
WAIT = 60.0


@pytest.fixture(
    params=[pytest.param(name, id=name) for name in BROKERS], scope="module"
)
def broker_url(request: pytest.FixtureRequest) -> str:
    """Return a reachable broker's URL; skip (fail under CI) if it is not."""
    variable, default = BROKERS[request.param]
    url = os.environ.get(variable) or default
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except (OperationalError, OSError) as error:
        reason = f"{request.param} is unreachable at {variable}={url}: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture
def queues(broker_url: str) -> Iterator[Callable[[str], str]]:
    """Return a maker of queue names private to the test; delete them afterwards."""
    prefix = f"onward-test-{uuid.uuid4().hex[:8]}"
    made: list[str] = []

    def make(name: str) -> str:
        made.append(f"{prefix}-{name}")
        return made[-1]

    yield make
    with Connection(broker_url) as conn:
        channel = conn.default_channel
        for queue in made:
            # Celery declares a direct exchange of the queue's name with it
            channel.queue_delete(queue)
            channel.exchange_delete(queue)
    if broker_url.startswith("redis://"):
        # kombu keeps Redis "exchanges" as binding keys that outlive the queue
        client = redis.Redis.from_url(broker_url)
        for queue in made:
            client.delete(
                f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
            )
        client.close()


class Worker:
    """An `onward worker` subprocess."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    def text(self) -> str:
        """Return what the worker has logged so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM the worker, and SIGKILL it if it does not end in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_worker(
    tmp_path: Path, broker_url: str, migrated_postgres_url: str
) -> Iterator[Callable[..., Worker]]:
    """Return a starter of workers on the test's database; stop them afterwards."""
    started: list[Worker] = []

    def start(queue: str, name: str, threads: int = 1, **env: str) -> Worker:
        log = tmp_path / f"{name}.log"
        command = [sys.executable, "-m", "onward", "--db", migrated_postgres_url]
        command += ["worker", "-Q", queue, "-n", name, "-c", str(threads)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--broker", broker_url],
                env={**os.environ, **FAST, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log)
        started.append(worker)
        wait_for(lambda: "ready." in worker.text(), f"worker {name} to be ready")
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
async def runtime(migrated_postgres_url: str) -> AsyncIterator[Runtime]:
    """Yield a runtime on the test's database that neither runs nor sends steps."""
    runtime = Runtime.open(Settings(database_url=migrated_postgres_url), executes=False)
    yield runtime
    await runtime.close()


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds, failing after a bounded time."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


async def wait_for_run(runtime: Runtime, run_id: str) -> RunStatus:
    """Poll the database until the run rests; return its status."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status = (await runtime.store.get_run(run_id)).status
        if status in (RunStatus.SUCCEEDED, RunStatus.HALTED, RunStatus.FAILED):
            return status
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for run {run_id}")


def plan_text(journal: Path, queue: str, steps: str = "") -> str:
    """Return a plan on ``queue`` whose step appends its attempt number to a file."""
    step = (
        f"{{name: s, action: shell, "
        f"with: {{command: 'echo {{{{ attempt.number }}}} >> {journal}'}}}}"
    )
    return (
        f"name: cel\nqueue: {queue}\ngroups:\n  - name: g\n    targets: [t]\n"
        f"    steps: [{steps or step}]\n"
    )


async def start_sent(url: str, broker_url: str) -> str:
    """Start a run of plan ``cel`` with the celery executor, which sends it."""
    settings = Settings(database_url=url, executor="celery", broker_url=broker_url)
    sender = Runtime.open(settings, executes=False)
    try:
        return (await sender.commands.start_run("cel")).run_id
    finally:
        await sender.close()


def lines(path: Path) -> list[str]:
    """Return the lines of a file (none if it does not exist)."""
    return path.read_text().split() if path.exists() else []


async def test_a_duplicated_message_runs_the_attempt_once(
    runtime: Runtime,
    broker_url: str,
    queues: Callable[[str], str],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """Three copies of one attempt's message, two workers: one execution."""
    journal = tmp_path / "journal.txt"
    queue = queues("main")
    await runtime.commands.apply_plan(plan_text(journal, queue))
    run = await runtime.commands.start_run("cel")
    (attempt,) = await runtime.store.list_attempts(run.run_id)
    app = create_app(broker_url)
    for _ in range(3):
        app.send_task(TASK, args=(run.run_id, attempt.attempt_id), queue=queue)
    app.close()
    workers = [start_worker(queue, "w1"), start_worker(queue, "w2")]

    status = await wait_for_run(runtime, run.run_id)
    wait_for(
        lambda: sum(w.text().count("attempt.not_claimed") for w in workers) == 2,
        "both duplicates to be turned down",
    )

    attempts = await runtime.store.list_attempts(run.run_id)
    assert status is RunStatus.SUCCEEDED
    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED]
    assert lines(journal) == ["1"]


async def test_a_lost_message_is_sent_again_by_the_reconciler(
    runtime: Runtime,
    broker_url: str,
    migrated_postgres_url: str,
    queues: Callable[[str], str],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """A message purged from the broker: the lease holder's sweep re-sends it."""
    journal = tmp_path / "journal.txt"
    queue = queues("main")
    await runtime.commands.apply_plan(plan_text(journal, queue))
    settings = Settings(
        database_url=migrated_postgres_url,
        executor="celery",
        broker_url=broker_url,
        redispatch_after=0.5,
        heartbeat_interval=0.2,
        poll_interval=0.1,
    )
    sender = Runtime.open(settings, executes=False)
    run = await sender.commands.start_run("cel")
    await sender.close()
    with Connection(broker_url) as conn:
        purged = conn.default_channel.queue_purge(queue)
    start_worker(queue, "w1")
    server = Runtime.open(settings, executes=True)
    await server.start()
    try:
        status = await wait_for_run(runtime, run.run_id)
    finally:
        await server.close()

    assert purged == 1
    assert status is RunStatus.SUCCEEDED
    assert lines(journal) == ["1"]


async def test_steps_go_to_the_workers_of_their_queue(
    runtime: Runtime,
    broker_url: str,
    migrated_postgres_url: str,
    queues: Callable[[str], str],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """A step with `queue:` runs on that queue's worker, the others on the plan's."""
    journal = tmp_path / "journal.txt"
    main, recovery = queues("main"), queues("recovery-site")
    echo = f"with: {{command: 'echo $SITE >> {journal}'}}"
    steps = (
        f"{{name: here, action: shell, {echo}}}, "
        f"{{name: there, action: shell, queue: {recovery}, {echo}}}, "
        f"{{name: back, action: shell, {echo}}}"
    )
    await runtime.commands.apply_plan(plan_text(journal, main, steps))
    start_worker(main, "main-site", SITE="main")
    start_worker(recovery, "recovery-site", SITE="recovery")
    run_id = await start_sent(migrated_postgres_url, broker_url)

    status = await wait_for_run(runtime, run_id)

    assert status is RunStatus.SUCCEEDED
    assert lines(journal) == ["main", "recovery", "main"]


async def test_sigterm_lets_a_short_step_finish_and_hands_a_long_one_back(
    runtime: Runtime,
    broker_url: str,
    migrated_postgres_url: str,
    queues: Callable[[str], str],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """On SIGTERM a step ending within the grace succeeds; the other is interrupted."""
    queue = queues("main")
    # each step waits for its target's file: the test lets "short" end after SIGTERM
    wait = "until [ -f {tmp}/{{{{ target.name }}}} ]; do sleep 0.05; done"
    step = (
        f"{{name: s, action: shell, with: {{command: '{wait.format(tmp=tmp_path)}'}}}}"
    )
    await runtime.commands.apply_plan(
        f"name: cel\nqueue: {queue}\ngroups:\n  - name: g\n    parallel: 2\n"
        f"    targets: [short, long]\n    steps: [{step}]\n"
    )
    worker = start_worker(queue, "w1", threads=2, ONWARD_SHUTDOWN_GRACE="8")
    run_id = await start_sent(migrated_postgres_url, broker_url)
    wait_for(lambda: worker.text().count("step.started") == 2, "both steps to start")

    worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: "Warm shutdown" in worker.text(), "the worker to stop taking")
    (tmp_path / "short").touch()
    code = worker.process.wait(timeout=WAIT)

    attempts = {a.lane.target: a for a in await runtime.store.list_attempts(run_id)}
    status = await wait_for_run(runtime, run_id)
    assert code == 0
    assert attempts[0].status is AttemptStatus.SUCCEEDED
    assert attempts[1].status is AttemptStatus.INTERRUPTED
    assert attempts[1].error == "the worker stopped during the step"
    assert status is RunStatus.HALTED


async def test_sigquit_hands_running_attempts_back_at_once(
    runtime: Runtime,
    broker_url: str,
    migrated_postgres_url: str,
    queues: Callable[[str], str],
    start_worker: Callable[..., Worker],
    tmp_path: Path,
) -> None:
    """SIGQUIT does not wait for the grace: the running attempt is interrupted now."""
    queue = queues("main")
    await runtime.commands.apply_plan(
        plan_text(
            tmp_path / "unused", queue, "{name: s, action: sleep, with: {seconds: 600}}"
        )
    )
    worker = start_worker(queue, "w1", ONWARD_SHUTDOWN_GRACE="600")
    run_id = await start_sent(migrated_postgres_url, broker_url)
    wait_for(lambda: "step.started" in worker.text(), "the step to start")

    worker.process.send_signal(signal.SIGQUIT)
    code = worker.process.wait(timeout=WAIT)

    (attempt,) = await runtime.store.list_attempts(run_id)
    assert code == 0
    assert attempt.status is AttemptStatus.INTERRUPTED
    assert await wait_for_run(runtime, run_id) is RunStatus.HALTED
