"""Proof under faults, with real processes: nothing lost, no succeeded step run twice.

The test starts a PostgreSQL cluster of its own (``initdb`` in a temporary
directory) and a Redis of its own, on free loopback ports, so that it may
kill them; then 2 ``onward serve`` and 3 ``onward worker`` processes with the
celery executor. It starts runs of plans whose steps append their attempt
number to a file of their own (half the runs with ``on_interrupt: retry``,
half with ``halt``), and while they run it SIGKILLs random servers and
workers and starts them again, restarts Redis once (without persistence:
every queued message is lost) and PostgreSQL once (immediate shutdown).

At the end every run rests (``retry`` runs succeeded, ``halt`` runs
succeeded or halted), no attempt is left queued or running, no attempt ran
twice (its number appears at most once in its step's file), nothing ran after
a step's recorded success, and in the ``halt`` runs every succeeded step has
exactly one line. The ``retry`` runs may show a step's earlier, interrupted
attempt too: ``on_interrupt: retry`` means "run it again".

The test prints what it did and when. Its size is bounded by default (10 runs
of 8 steps, 6 kills); ``ONWARD_FAULT_RUNS=50 ONWARD_FAULT_STEPS=20
ONWARD_FAULT_KILLS=30`` is the full exercise, by hand. ``ONWARD_FAULT_SEED``
replays a schedule. Every process it starts is stopped, even on failure.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from onward import storage
from onward.config import Settings
from onward.domain.runs import Attempt, AttemptStatus, Run, RunStatus
from onward.runtime import Runtime
from processes import free_port

pytestmark = pytest.mark.slow

RUNS = int(os.environ.get("ONWARD_FAULT_RUNS", "10"))
STEPS = int(os.environ.get("ONWARD_FAULT_STEPS", "8"))
KILLS = int(os.environ.get("ONWARD_FAULT_KILLS", "6"))
SEED = int(os.environ.get("ONWARD_FAULT_SEED") or random.randrange(1_000_000))
#: how long each step lingers after writing its line (so that kills land mid-step)
STEP_SECONDS = 1.0
#: attempts each worker runs at once
WORKER_THREADS = 2
#: how the test starts Onward's processes
ONWARD = (sys.executable, "-m", "onward")
#: the longest the runs may take once the faults are over
SETTLE_SECONDS = 180.0
TIMINGS = {
    "ONWARD_HEARTBEAT_INTERVAL": "0.3",
    "ONWARD_HEARTBEAT_TIMEOUT": "6",
    "ONWARD_POLL_INTERVAL": "0.2",
    "ONWARD_REDISPATCH_AFTER": "2",
    "ONWARD_LEASE_TTL": "3",
    "ONWARD_SHUTDOWN_GRACE": "1",
    "ONWARD_LOG_LEVEL": "info",
}
RESTING = (RunStatus.SUCCEEDED, RunStatus.HALTED, RunStatus.FAILED, RunStatus.CANCELLED)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll ``predicate`` until it holds, failing after ``timeout`` seconds."""
    if not eventually(predicate, timeout):
        pytest.fail(f"timed out waiting for {what}")


def eventually(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` until it holds; tell whether it did within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def describe_unrested(outcome: dict[str, tuple[Run, list[Attempt]]]) -> str:
    """Return a line per run that does not rest, and per attempt still in flight."""
    lines: list[str] = []
    for run, attempts in outcome.values():
        if run.status in RESTING:
            continue
        lines.append(f"  {run.run_id} {run.status} (version {run.version})")
        lines += [
            f"    {a.attempt_id} s{a.step} #{a.number} {a.status} "
            f"worker={a.worker_id} queue={a.queue} queued={a.queued_at:%H:%M:%S.%f} "
            f"started={a.started_at and f'{a.started_at:%H:%M:%S.%f}'}"
            for a in attempts
            if a.status.is_in_flight
        ]
    return "\n".join(lines)


class Report:
    """What the test did, with the time since it began."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.lines: list[str] = [f"fault schedule seed {SEED}"]

    def say(self, text: str) -> None:
        """Record one event."""
        self.lines.append(f"+{time.monotonic() - self.started:6.1f}s  {text}")

    def text(self) -> str:
        """Return the whole report."""
        return "\n".join(self.lines)


@dataclass(kw_only=True)
class Process:
    """A child process that can be started again after it is killed."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    ready: Callable[[Process], bool] = lambda _: True
    #: the signal that stops the process gracefully
    stop_signal: signal.Signals = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = None
    #: where in the log the current start's lines begin
    offset: int = 0

    def launch(self) -> None:
        """Start the process; do not wait for it."""
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        """Wait until the process is ready (fail if it ends or takes too long)."""
        wait_until(lambda: self.alive() and self.ready(self), f"{self.name} to start")

    def start(self) -> None:
        """Start the process and wait until it is ready."""
        self.launch()
        self.wait_ready()

    @property
    def pid(self) -> int | None:
        """The process id of the current start."""
        return None if self.popen is None else self.popen.pid

    def alive(self) -> bool:
        """Tell whether the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: signal.Signals) -> None:
        """Send a signal and wait for the process to end."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signum)
            self.popen.wait(timeout=60)

    def stop(self) -> None:
        """Stop the process gracefully, and SIGKILL it if it lingers."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(self.stop_signal)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def text(self) -> str:
        """Return what the process has logged since it was last started."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(self.offset)
            return log.read().decode(errors="replace")


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it when CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def as_postgres_user() -> list[str]:
    """Return the prefix that runs PostgreSQL programs as a non-root user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        skip_or_fail("running as root without a 'postgres' user for initdb")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("running as root without setpriv to drop to 'postgres'")
    return [str(setpriv), "--reuid=postgres", "--regid=postgres", "--init-groups"]


def postgres_process(stack: ExitStack, logs: Path) -> tuple[Process, str]:
    """Make a PostgreSQL cluster in a temporary directory; return it and its URL."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb is None or postgres is None:
        skip_or_fail("initdb and postgres must be on PATH")
    prefix = as_postgres_user()
    data = Path(tempfile.mkdtemp(prefix="onward-fault-pg-"))
    stack.callback(shutil.rmtree, data, ignore_errors=True)
    if prefix:
        shutil.chown(data, user="postgres", group="postgres")
    subprocess.run(
        [*prefix, str(initdb), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    settings = ["listen_addresses=127.0.0.1", "unix_socket_directories=", "fsync=off"]
    settings += ["max_connections=200"]
    argv = [*prefix, str(postgres), "-D", str(data), "-p", str(port)]
    process = Process(
        name="postgresql",
        argv=argv + [f"-c{item}" for item in settings],
        log=logs / "postgresql.log",
        ready=lambda _: database_answers(url),
        # a fast shutdown: the default (smart) one would wait for every client
        stop_signal=signal.SIGINT,
    )
    return process, url


def database_answers(url: str) -> bool:
    """Tell whether PostgreSQL accepts a connection now."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def redis_process(logs: Path) -> tuple[Process, str]:
    """Return a Redis without persistence on a free port, and its URL."""
    server = shutil.which("redis-server")
    if server is None:
        skip_or_fail("redis-server must be on PATH")
    port = free_port()

    def answers(_: Process) -> bool:
        try:
            return bool(redis.Redis(port=port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    argv = [str(server), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(logs)]
    process = Process(name="redis", argv=argv, log=logs / "redis.log", ready=answers)
    return process, f"redis://127.0.0.1:{port}/0"


def onward_processes(logs: Path, env: dict[str, str]) -> list[Process]:
    """Return 2 servers and 3 workers (not started)."""
    processes: list[Process] = []
    for n in (1, 2):
        port = free_port()
        processes.append(
            Process(
                name=f"server{n}",
                argv=[*ONWARD, "serve", "--port", str(port)],
                log=logs / f"server{n}.log",
                env=env,
                ready=lambda _, port=port: serves(port),  # type: ignore[misc]
            )
        )
    for n in (1, 2, 3):
        processes.append(
            Process(
                name=f"worker{n}",
                argv=[*ONWARD, "worker", "-n", f"w{n}", "-c", str(WORKER_THREADS)],
                log=logs / f"worker{n}.log",
                env=env,
                ready=lambda process: "ready." in process.text(),
            )
        )
    return processes


def serves(port: int) -> bool:
    """Tell whether a server answers its health check."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success
    except httpx.HTTPError:
        return False


def plan_text(name: str, files: Path, on_interrupt: str) -> str:
    """Return a plan of STEPS steps, each appending its attempt number to its file."""
    steps = "\n".join(
        f"      - {{name: s{i}, action: shell, on_interrupt: {on_interrupt}, "
        f"with: {{command: 'echo {{{{ attempt.number }}}} >> "
        f"{files}/{{{{ run.id }}}}.s{i} && sleep {STEP_SECONDS}'}}}}"
        for i in range(STEPS)
    )
    return (
        f"name: {name}\ngroups:\n  - name: g\n    targets: [t]\n    steps:\n{steps}\n"
    )


async def start_runs(url: str, broker: str, files: Path) -> dict[str, str]:
    """Apply both plans and start RUNS runs; return run id -> on_interrupt."""
    settings = Settings(database_url=url, executor="celery", broker_url=broker)
    runtime = Runtime.open(settings, executes=False)
    started: dict[str, str] = {}
    try:
        for policy in ("retry", "halt"):
            await runtime.commands.apply_plan(plan_text(f"f-{policy}", files, policy))
        for n in range(RUNS):
            policy = ("retry", "halt")[n % 2]
            run = await runtime.commands.start_run(f"f-{policy}")
            started[run.run_id] = policy
    finally:
        await runtime.close()
    return started


def resting(url: str, run_ids: list[str]) -> bool:
    """Tell whether every run rests (False while the database is away)."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM runs WHERE run_id = ANY(%s) AND status = ANY(%s)",
                (run_ids, [status.value for status in RESTING]),
            ).fetchone()
    except psycopg.OperationalError:
        return False
    return rows is not None and rows[0] == len(run_ids)


async def read_outcome(
    url: str, run_ids: list[str]
) -> dict[str, tuple[Run, list[Attempt]]]:
    """Return every run with its attempts."""
    store = storage.open_store(url, migrate=False)
    try:
        return {
            run_id: (await store.get_run(run_id), await store.list_attempts(run_id))
            for run_id in run_ids
        }
    finally:
        await store.close()


class Chaos:
    """Carries out the fault schedule against the running system."""

    def __init__(
        self,
        *,
        rng: random.Random,
        report: Report,
        postgresql: Process,
        broker: Process,
        onward: list[Process],
    ) -> None:
        self.rng = rng
        self.report = report
        self.postgresql = postgresql
        self.broker = broker
        self.onward = onward
        self.done: list[str] = []

    def schedule(self) -> list[str]:
        """Return the faults in order: kills, with one restart of each service."""
        faults = ["kill_one"] * max(KILLS, 2)
        faults.insert(1, "restart_broker")
        faults.insert(3, "restart_database")
        return faults

    def run(self, finished: Callable[[], bool]) -> None:
        """Carry out the schedule, a fault every 1 to 2.5 s, until the runs rest.

        Killed processes start again in the background; all of them are up
        and ready when this returns.
        """
        for fault in self.schedule():
            time.sleep(self.rng.uniform(1.0, 2.5))
            if finished():
                self.report.say(f"every run rests: {fault} and later faults skipped")
                break
            getattr(self, fault)()
            self.done.append(fault)
        for process in self.onward:
            if not process.alive():
                process.launch()
        for process in self.onward:
            process.wait_ready()

    def kill_one(self) -> None:
        """SIGKILL a random server or worker, and start it again a moment later."""
        victim = self.rng.choice(self.onward)
        victim.signal(signal.SIGKILL)
        self.report.say(f"SIGKILL {victim.name} (pid {victim.pid})")
        time.sleep(self.rng.uniform(0.2, 1.0))
        victim.launch()
        self.report.say(f"{victim.name} starting again (pid {victim.pid})")

    def restart_broker(self) -> None:
        """Restart Redis; its queued messages are lost."""
        self.broker.signal(signal.SIGKILL)
        self.report.say("SIGKILL redis (no persistence: queued messages lost)")
        time.sleep(self.rng.uniform(0.5, 1.5))
        self.broker.start()
        self.report.say("redis started again")

    def restart_database(self) -> None:
        """Restart PostgreSQL with an immediate shutdown (as after a crash)."""
        self.postgresql.signal(signal.SIGQUIT)
        self.report.say("PostgreSQL immediate shutdown (SIGQUIT)")
        time.sleep(self.rng.uniform(0.2, 1.0))
        self.postgresql.start()
        self.report.say("PostgreSQL started again (crash recovery)")


@dataclass(kw_only=True)
class System:
    """Everything the test started: services, Onward's processes, the steps' files."""

    url: str
    broker_url: str
    postgresql: Process
    broker: Process
    onward: list[Process]
    files: Path
    logs: Path


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    """Start PostgreSQL, Redis, 2 servers and 3 workers; stop them all afterwards."""
    logs, files = tmp_path / "logs", tmp_path / "files"
    logs.mkdir()
    files.mkdir()
    with ExitStack() as stack:
        postgresql, url = postgres_process(stack, logs)
        broker, broker_url = redis_process(logs)
        env = {"ONWARD_DATABASE_URL": url, "ONWARD_EXECUTOR": "celery"}
        env |= {"ONWARD_BROKER_URL": broker_url, **TIMINGS}
        onward = onward_processes(logs, env)
        for process in [postgresql, broker, *onward]:
            stack.callback(process.stop)
        postgresql.start()
        storage.upgrade(url)
        broker.start()
        for process in onward:
            process.launch()
        for process in onward:
            process.wait_ready()
        yield System(
            url=url,
            broker_url=broker_url,
            postgresql=postgresql,
            broker=broker,
            onward=onward,
            files=files,
            logs=logs,
        )


def check_run(run: Run, attempts: list[Attempt], policy: str, files: Path) -> list[str]:
    """Return what is wrong with one run at the end (nothing, if all is well)."""
    problems: list[str] = []
    allowed = (
        (RunStatus.SUCCEEDED,)
        if policy == "retry"
        else (RunStatus.SUCCEEDED, RunStatus.HALTED)
    )
    if run.status not in allowed:
        problems.append(f"{run.run_id} ({policy}) ended {run.status}")
    for attempt in attempts:
        if attempt.status.is_in_flight:
            problems.append(f"{attempt.attempt_id} left {attempt.status}")
    for step in range(STEPS):
        mine = {a.number: a for a in attempts if a.step == step}
        path = files / f"{run.run_id}.s{step}"
        lines = path.read_text().split() if path.exists() else []
        problems += check_step(f"{run.run_id} s{step}", mine, lines, policy)
        done = any(a.status is AttemptStatus.SUCCEEDED for a in mine.values())
        if run.status is RunStatus.SUCCEEDED and not done:
            problems.append(f"{run.run_id} s{step}: the run succeeded without it")
    return problems


def check_step(
    where: str, attempts: dict[int, Attempt], lines: list[str], policy: str
) -> list[str]:
    """Return what is wrong with one step's file given its attempts."""
    problems: list[str] = []
    numbers = [int(line) for line in lines]
    if len(numbers) != len(set(numbers)):
        problems.append(f"{where}: an attempt ran twice: {lines}")
    if any(n not in attempts for n in numbers):
        problems.append(f"{where}: a line without its attempt: {lines}")
    succeeded = [n for n, a in attempts.items() if a.status is AttemptStatus.SUCCEEDED]
    if len(succeeded) > 1:
        problems.append(f"{where}: succeeded more than once: {succeeded}")
    if succeeded and (not numbers or numbers[-1] != succeeded[0]):
        problems.append(f"{where}: ran after its recorded success: {lines}")
    if succeeded and policy == "halt" and len(numbers) != 1:
        problems.append(f"{where}: a succeeded step with {len(numbers)} lines")
    if succeeded:
        earlier = [n for n in numbers if n != succeeded[0] and n in attempts]
        if any(attempts[n].status is not AttemptStatus.INTERRUPTED for n in earlier):
            problems.append(f"{where}: an earlier try was not interrupted: {lines}")
    return problems


@pytest.mark.timeout(300 + RUNS * STEPS * STEP_SECONDS)
def test_runs_survive_killed_servers_workers_broker_and_database(
    system: System, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under kills and restarts every run ends, and no succeeded step runs twice."""
    report = Report()
    report.say("PostgreSQL, Redis, 2 servers and 3 workers started")
    started = asyncio.run(start_runs(system.url, system.broker_url, system.files))
    report.say(f"{RUNS} runs of {STEPS} steps started")
    chaos = Chaos(
        rng=random.Random(SEED),
        report=report,
        postgresql=system.postgresql,
        broker=system.broker,
        onward=system.onward,
    )

    def finished() -> bool:
        return resting(system.url, list(started))

    try:
        chaos.run(finished)
        settled = eventually(finished, SETTLE_SECONDS)
        outcome = asyncio.run(read_outcome(system.url, list(started)))
        if not settled:
            report.say(f"runs still not resting:\n{describe_unrested(outcome)}")
            report.say(f"the processes' logs: {system.logs}")
            pytest.fail("timed out waiting for every run to rest")
        report.say("every run rests")
    finally:
        with capsys.disabled():
            sys.stdout.write(f"\n{report.text()}\n")

    problems = [
        problem
        for run_id, (run, attempts) in outcome.items()
        for problem in check_run(run, attempts, started[run_id], system.files)
    ]
    statuses = Counter(run.status.value for run, _ in outcome.values())
    with capsys.disabled():
        sys.stdout.write(f"runs: {dict(statuses)}; problems: {len(problems)}\n")
    assert {"restart_broker", "restart_database"} <= set(chaos.done), report.text()
    assert problems == [], report.text()
