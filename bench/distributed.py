"""The distributed part of the benchmark: PostgreSQL, Redis, 1/2/4 `onward worker`s.

Each measurement starts the workers as real processes on a fresh PostgreSQL
database and a Redis queue of its own, starts runs from this process with the
celery executor (which sends each first attempt at once) and polls the
database until they rest.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from kombu import Connection
from kombu.exceptions import OperationalError
from psycopg import sql

from onward import storage
from onward.config import Settings
from onward.domain.runs import RunStatus
from onward.runtime import Runtime

POSTGRES_URL = os.environ.get(
    "ONWARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BROKER_URL = os.environ.get("ONWARD_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
#: threads of each worker
THREADS = 8
#: fan-out: runs started at once, and no-op targets (all in parallel) of each
FAN_RUNS, FAN_TARGETS = 16, 25
#: sequential: no-op steps of one target
SEQUENTIAL_STEPS = 100
WAIT_SECONDS = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """What one number of workers achieved."""

    workers: int
    #: steps per second over FAN_RUNS runs of FAN_TARGETS parallel no-op steps
    rate: float
    #: seconds per step of SEQUENTIAL_STEPS sequential no-op steps
    per_step: float
    #: during the fan-out, per step: database commits and rollbacks (lost
    #: compare-and-set races), and CPU seconds of the worker processes
    commits: float
    rollbacks: float
    cpu: float


def unavailable() -> str | None:
    """Return why the distributed benchmark cannot run here, or None."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.Error as error:
        return f"PostgreSQL unreachable at {POSTGRES_URL}: {error}"
    try:
        with Connection(BROKER_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except (OperationalError, OSError) as error:
        return f"broker unreachable at {BROKER_URL}: {error}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """The distributed figures: the database's floor and each number of workers."""

    #: seconds of one small durable PostgreSQL commit
    commit: float
    figures: list[Figures]


def measure(counts: tuple[int, ...] = (1, 2, 4)) -> Cluster:
    """Measure the commit floor, then each number of workers on a fresh database."""
    with fresh_database() as url:
        commit = commit_floor(url)
    return Cluster(commit=commit, figures=[measure_workers(n) for n in counts])


def commit_floor(url: str, commits: int = 200) -> float:
    """Return the seconds of one small durable commit on the PostgreSQL server."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor (id serial PRIMARY KEY, v text)")
        started = time.perf_counter()
        for i in range(commits):
            with conn.transaction():
                conn.execute("INSERT INTO floor (v) VALUES (%s)", (str(i),))
        return (time.perf_counter() - started) / commits


def measure_workers(count: int) -> Figures:
    """Start ``count`` workers; time a fan-out and a sequential plan."""
    queue = f"onward-bench-{uuid.uuid4().hex[:8]}"
    steps = FAN_RUNS * FAN_TARGETS
    try:
        with fresh_database() as url, workers(url, queue, count) as pids:
            asyncio.run(timed_runs(url, plan_text("warm", queue, 8, 1), "warm", 1))
            before = (transactions(url), cpu_seconds(pids))
            rate = steps / asyncio.run(
                timed_runs(url, fan_plan(queue), "fan", FAN_RUNS)
            )
            after = (transactions(url), cpu_seconds(pids))
            per_step = asyncio.run(sequential(url, queue))
    finally:
        forget_queue(queue)
    return Figures(
        workers=count,
        rate=rate,
        per_step=per_step,
        commits=(after[0][0] - before[0][0]) / steps,
        rollbacks=(after[0][1] - before[0][1]) / steps,
        cpu=(after[1] - before[1]) / steps,
    )


def transactions(url: str) -> tuple[int, int]:
    """Return the database's commits and rollbacks so far, once its counts settle.

    PostgreSQL backends report their counts up to 10 s late when idle: wait
    until two readings a second apart agree.
    """
    name = url.rsplit("/", 1)[1]
    query = "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = %s"
    last: tuple[int, int] | None = None
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(12):
            row = conn.execute(query, (name,)).fetchone()
            counts = (int(row[0]), int(row[1])) if row else (0, 0)
            if counts == last:
                break
            last = counts
            time.sleep(1)
    return last or (0, 0)


def cpu_seconds(pids: list[int]) -> float:
    """Return the CPU seconds (user and system) the processes used so far (Linux)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def forget_queue(queue: str) -> None:
    """Delete a queue and the exchange Celery declared with it from the broker."""
    with Connection(BROKER_URL) as conn:
        conn.default_channel.queue_delete(queue)
        conn.default_channel.exchange_delete(queue)
    if BROKER_URL.startswith("redis://"):
        # kombu keeps Redis "exchanges" as binding keys that outlive the queue
        client = redis.Redis.from_url(BROKER_URL)
        client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Yield the URL of a new, migrated PostgreSQL database; drop it afterwards."""
    name = f"onward_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        try:
            storage.upgrade(url)
            yield url
        finally:
            statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(statement.format(sql.Identifier(name)))


@contextmanager
def workers(url: str, queue: str, count: int) -> Iterator[list[int]]:
    """Run ``count`` worker processes on ``queue``; yield their process ids."""
    logs = Path(tempfile.mkdtemp(prefix="onward-bench-"))
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    failed = True
    env = {**os.environ, "ONWARD_LOG_LEVEL": "info"}
    try:
        for n in range(count):
            log = logs / f"worker{n}.log"
            command = [sys.executable, "-m", "onward", "--db", url, "worker"]
            command += ["-Q", queue, "-n", f"bench{n}", "-c", str(THREADS)]
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [*command, "--broker", BROKER_URL],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, log))
        for process, log in started:
            wait_ready(process, log)
        yield [process.pid for process, _ in started]
        failed = False
    finally:
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            process.wait(timeout=60)
        if not failed:
            shutil.rmtree(logs, ignore_errors=True)


def wait_ready(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until a worker consumes its queue."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if "ready." in log.read_text(errors="replace"):
            return
        time.sleep(0.05)
    msg = f"a benchmark worker did not start; see {log}"
    raise RuntimeError(msg)


def plan_text(name: str, queue: str, targets: int, steps: int) -> str:
    """Return a plan of no-op steps on ``queue``, every target at once."""
    step_list = ", ".join(f"{{name: s{i}, action: noop}}" for i in range(steps))
    target_list = ", ".join(f"t{i}" for i in range(targets))
    return (
        f"name: {name}\nqueue: {queue}\ngroups: [{{name: g, parallel: {targets}, "
        f"targets: [{target_list}], steps: [{step_list}]}}]\n"
    )


async def timed_runs(url: str, plan: str, name: str, runs: int) -> float:
    """Start ``runs`` runs of a plan at once; return the seconds until all rest."""
    settings = Settings(database_url=url, executor="celery", broker_url=BROKER_URL)
    runtime = Runtime.open(settings, executes=False)
    try:
        await runtime.commands.apply_plan(plan)
        started = time.perf_counter()
        run_ids = [(await runtime.commands.start_run(name)).run_id for _ in range(runs)]
        for run_id in run_ids:
            await wait_succeeded(runtime, run_id)
        return time.perf_counter() - started
    finally:
        await runtime.close()


async def wait_succeeded(runtime: Runtime, run_id: str) -> None:
    """Poll the database until the run succeeds (fail if it rests otherwise)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        status = (await runtime.store.get_run(run_id)).status
        if status is RunStatus.SUCCEEDED:
            return
        if status in (RunStatus.FAILED, RunStatus.HALTED, RunStatus.CANCELLED):
            msg = f"the benchmark run ended {status}"
            raise RuntimeError(msg)
        await asyncio.sleep(0.005)
    msg = f"the benchmark run {run_id} did not end in time"
    raise RuntimeError(msg)


def fan_plan(queue: str) -> str:
    """Return the fan-out plan: FAN_TARGETS no-op targets, all at once."""
    return plan_text("fan", queue, FAN_TARGETS, 1)


async def sequential(url: str, queue: str) -> float:
    """Return seconds per step of one target taken through SEQUENTIAL_STEPS steps."""
    plan = plan_text("seq", queue, 1, SEQUENTIAL_STEPS)
    return await timed_runs(url, plan, "seq", 1) / SEQUENTIAL_STEPS


def cluster_section(cluster: Cluster | str, sqlite_per_step: float) -> str:
    """Return the Markdown section of the distributed figures."""
    broker = "Redis" if BROKER_URL.startswith("redis") else "RabbitMQ"
    head = f"""## Distributed mode: PostgreSQL and Celery workers

Measured in the same run with `executor = "celery"`, everything on this machine:
a fresh PostgreSQL database, {broker} as the broker, and 1, 2 or 4
`onward worker` processes of {THREADS} threads each.

- Fan-out: {FAN_RUNS} runs of {FAN_TARGETS} parallel no-op targets, started at once.
- Sequential: one target taken through {SEQUENTIAL_STEPS} no-op steps, each sent
  through the broker to whichever worker takes it.
"""
    if isinstance(cluster, str):
        return f"{head}\n{cluster}.\n"
    rows = "\n".join(
        f"| {f.workers} | {f.rate:,.0f} steps/s | {f.per_step * 1000:.1f} ms "
        f"| {f.per_step / cluster.commit:.1f} x | {f.commits:.1f} / {f.rollbacks:.2f} "
        f"| {f.cpu * 1000:.1f} ms |"
        for f in cluster.figures
    )
    return f"""{head}
One small durable commit on this PostgreSQL server, measured in the same run:
**{cluster.commit * 1000:.2f} ms**; the local executor on SQLite (above):
**{sqlite_per_step * 1000:.2f} ms** per sequential step.

{TABLE_HEAD}
{rows}

{LIMITS}"""


TABLE_HEAD = (
    "| workers | fan-out | overhead per sequential step | ratio to one commit "
    "| fan-out: commits / rollbacks per step | fan-out: worker CPU per step |\n"
    "|---|---|---|---|---|---|"
)

#: what limits the scaling (see the figures above)
LIMITS = """### What limits the scaling

- **A worker is one Python process.** A no-op step costs its worker a few
  milliseconds of CPU (last column): Celery receives and acknowledges the
  message, the engine decides and commits the claim and the end of the attempt
  through SQLAlchemy, and the next attempt is sent to the broker. However many
  threads a worker has, that work runs on its one event loop (and Python's one
  interpreter lock), so a worker tops out near 1 / (CPU per step) steps per
  second, whatever its steps wait for. More workers add throughput only with
  more cores: here the workers, PostgreSQL, Redis and the benchmark share the
  machine's cores, so added workers compete for them and each step costs more.
- **A run is one compare-and-set unit.** Every attempt of a run writes the run's
  row, compare-and-set on its version. Inside one worker, events of one run that
  arrive together are decided and committed in one transaction (group commit);
  across workers they race, and the loser's transaction rolls back and decides
  again on the reloaded state (the rollbacks column, and commits per step that
  grow from about two with one worker). Spreading one wide run over more workers
  therefore costs more database work per step; separate runs do not race.
- **Sequential steps** pay two durable PostgreSQL commits (claim, then end), a
  hop through the broker (1 to 3 ms here), the worker's CPU above, and hand-offs
  between a worker's threads: Celery's consumer and pool threads, the engine's
  event loop, the database threads and the broker sender pass each step along,
  and each hand-off may wait for Python's interpreter lock (in one profile, a
  claim took about 5 ms inside a worker and 1.5 ms in a process doing nothing
  else). When a different worker takes the next step, it also reloads the
  run's state it had cached, so the overhead per step grows with the number of
  workers.
- **What would scale it**: workers on machines of their own (the layout of
  docs/deployment.md); a worker that claims the next step of a target in the
  transaction that ends the previous one, when it listens to that step's queue,
  as the local executor does (one commit and no broker hop per sequential step,
  and no race); PostgreSQL on a disk with fast fsync (each commit waits for it).
"""
