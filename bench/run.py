"""Onward's benchmark: engine overhead, fan-out, continue latency, memory.

Run with ``.venv/bin/python bench/run.py`` (``--large`` for the full sizes of
DESIGN §6); it prints the figures and rewrites docs/performance.md. The API's
answer to a run's status is timed against a real ``onward serve`` process while
100 runs execute (``bench/api_status.py``). The
distributed section (PostgreSQL, Redis, 1/2/4 ``onward worker`` processes; see
``bench/distributed.py``) is measured when both services answer, unless
``--no-distributed`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import api_status
import distributed

from onward.config import Settings
from onward.domain.runs import Attempt, AttemptStatus, LaneKey, RunStatus
from onward.executors.local import LocalExecutor
from onward.logs import configure_logging
from onward.runtime import Runtime
from onward.service.ports import RunCommit
from onward.storage import open_store

ROOT = Path(__file__).resolve().parent.parent


def noop_plan(name: str, *, targets: int, steps: int, parallel: int) -> str:
    """Return a plan text of one group of no-op steps."""
    step_list = ", ".join(f"{{name: s{i}, action: noop}}" for i in range(steps))
    target_list = ", ".join(f"t{i}" for i in range(targets))
    return (
        f"name: {name}\ngroups: [{{name: g, parallel: {parallel}, "
        f"targets: [{target_list}], steps: [{step_list}]}}]\n"
    )


async def open_runtime(path: Path, *, concurrency: int) -> Runtime:
    """Return a started runtime on a fresh SQLite file."""
    settings = Settings(
        concurrency=concurrency,
        heartbeat_interval=60,
        heartbeat_timeout=600,
        poll_interval=60,
    )
    runtime = Runtime.open(
        settings, executes=True, store=open_store(f"sqlite:///{path}")
    )
    await runtime.start()
    return runtime


def executor_of(runtime: Runtime) -> LocalExecutor:
    """Return the runtime's local executor (the benchmark always runs one)."""
    if runtime.executor is None:
        msg = "the benchmark needs a runtime that executes steps"
        raise RuntimeError(msg)
    return runtime.executor


async def timed_run(runtime: Runtime, plan: str, name: str) -> float:
    """Start a run of the plan and return the seconds until it rests."""
    await runtime.commands.apply_plan(plan)
    executor = executor_of(runtime)
    started = time.perf_counter()
    run = await runtime.commands.start_run(name)
    await executor.drain()
    elapsed = time.perf_counter() - started
    status = (await runtime.store.get_run(run.run_id)).status
    if status is not RunStatus.SUCCEEDED:
        msg = f"the benchmark run ended {status}"
        raise RuntimeError(msg)
    return elapsed


def commit_floor(path: Path, commits: int = 2000) -> float:
    """Return the seconds of one small SQLite WAL commit (the durable floor)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for i in range(commits):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", (str(i),))
        db.execute("COMMIT")
    db.close()
    return (time.perf_counter() - started) / commits


async def sequential_overhead(work: Path, steps: int) -> float:
    """Return seconds per step of a sequential no-op plan."""
    runtime = await open_runtime(work / "seq.db", concurrency=8)
    try:
        elapsed = await timed_run(
            runtime, noop_plan("seq", targets=1, steps=steps, parallel=1), "seq"
        )
    finally:
        await runtime.close()
    return elapsed / steps


async def fan_out(work: Path, targets: int) -> float:
    """Return steps per second of ``targets`` no-op steps at concurrency 8."""
    runtime = await open_runtime(work / "fan.db", concurrency=8)
    try:
        elapsed = await timed_run(
            runtime, noop_plan("fan", targets=targets, steps=1, parallel=8), "fan"
        )
    finally:
        await runtime.close()
    return targets / elapsed


async def continue_latency(work: Path, history: int) -> float:
    """Return seconds from continue to the first new attempt claimed, given history."""
    runtime = await open_runtime(work / f"cont{history}.db", concurrency=8)
    try:
        await runtime.commands.apply_plan(
            "name: halting\ngroups: [{name: g, targets: [t], steps: "
            "[{name: s, action: shell, with: {command: 'exit 1'}}]}]\n"
        )
        executor = executor_of(runtime)
        run = await runtime.commands.start_run("halting")
        await executor.drain()
        await add_history(runtime, run.run_id, history)
        claimed = asyncio.Event()
        runtime.engine.listen(
            lambda r, d: (
                claimed.set()
                if any(a.status is AttemptStatus.RUNNING for a in d.attempts.values())
                else None
            )
        )
        runtime.engine.forget(run.run_id)
        started = time.perf_counter()
        await runtime.commands.continue_run(run.run_id, "retry-step")
        await claimed.wait()
        elapsed = time.perf_counter() - started
        await executor.drain()
    finally:
        await runtime.close()
    return elapsed


async def add_history(runtime: Runtime, run_id: str, count: int) -> None:
    """Give a halted run ``count`` earlier finished attempts, as stored history."""
    run = await runtime.store.get_run(run_id)
    now = datetime.now(UTC)
    batch = 5000
    for start in range(0, count, batch):
        attempts = {
            f"att_hist_{n:08d}": Attempt(
                attempt_id=f"att_hist_{n:08d}",
                run_id=run_id,
                lane=LaneKey(0, 0),
                step=0,
                number=n + 2,
                run_attempt=1,
                status=AttemptStatus.FAILED,
                queued_at=now,
                started_at=now,
                finished_at=now,
                error="old failure",
            )
            for n in range(start, min(start + batch, count))
        }
        await runtime.store.commit_run(
            RunCommit(
                run=replace(run, version=run.version + 1),
                expected_version=run.version,
                attempts=attempts,
            )
        )
        run = replace(run, version=run.version + 1)
    runtime.engine.forget(run_id)


def peak_memory(targets: int) -> tuple[float, float]:
    """Return (baseline MiB, peak MiB) of a process running a plan of ``targets``."""
    code = (
        "import asyncio, resource, sys, tempfile, pathlib\n"
        "sys.path.insert(0, 'bench')\n"
        "import run as bench\n"
        "bench.configure_logging(level='warning')\n"
        "async def main():\n"
        "    work = pathlib.Path(tempfile.mkdtemp())\n"
        "    runtime = await bench.open_runtime(work / 'mem.db', concurrency=8)\n"
        "    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"    plan = bench.noop_plan('mem', targets={targets}, steps=1, parallel=8)\n"
        "    await bench.timed_run(runtime, plan, 'mem')\n"
        "    await runtime.close()\n"
        "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "    print(base / 1024, peak / 1024)\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    """Run every measurement once and write docs/performance.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large", action="store_true", help="DESIGN §6 sizes")
    parser.add_argument(
        "--no-distributed", action="store_true", help="skip PostgreSQL + Celery"
    )
    args = parser.parse_args()
    configure_logging(level="warning")
    histories = [10, 1_000, 100_000] if args.large else [10, 1_000, 10_000]
    memory_targets = 10_000 if args.large else 2_000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        floor = commit_floor(work / "floor.db")
        per_step = asyncio.run(sequential_overhead(work, 200))
        rate = asyncio.run(fan_out(work, 1_000))
        latencies = {h: asyncio.run(continue_latency(work, h)) for h in histories}
    base, peak = peak_memory(memory_targets)
    status = api_status.measure(large=args.large)
    write_report(
        floor=floor,
        per_step=per_step,
        rate=rate,
        latencies=latencies,
        memory=(memory_targets, base, peak),
        status=status,
        large=args.large,
        cluster=measure_cluster(skip=args.no_distributed),
    )


def measure_cluster(*, skip: bool) -> distributed.Cluster | str:
    """Return the distributed figures, or why they were not measured."""
    if skip:
        return "not measured in this run (`--no-distributed`)"
    reason = distributed.unavailable()
    if reason is not None:
        return f"not measured: {reason}"
    return distributed.measure()


def write_report(
    *,
    floor: float,
    per_step: float,
    rate: float,
    latencies: dict[int, float],
    memory: tuple[int, float, float],
    status: api_status.StatusLatency,
    large: bool,
    cluster: distributed.Cluster | str,
) -> None:
    """Print the figures and write them to docs/performance.md."""
    targets, base, peak = memory
    rows = [
        (
            "Overhead per no-op step, 200 sequential steps, durable SQLite",
            f"{per_step * 1000:.2f} ms",
            "≤ 1 ms",
            f"{per_step / floor:.1f} x one commit",
        ),
        (
            "Fan-out: 1,000 no-op steps at concurrency 8",
            f"{rate:,.0f} steps/s",
            "≥ 2,000 steps/s",
            f"{rate / 2000:.2f} x target",
        ),
        *[
            (
                f"Continue → first new attempt claimed, {h:,} earlier attempts",
                f"{s * 1000:.1f} ms",
                "≤ 20 ms",
                f"{s / latencies[min(latencies)]:.2f} x the 10-attempt case",
            )
            for h, s in latencies.items()
        ],
        (
            f"Peak memory, {targets:,} targets (process baseline {base:.0f} MiB)",
            f"{peak:.0f} MiB",
            "bounded",
            f"{peak / base:.2f} x baseline",
        ),
        status_row(status),
    ]
    table = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    text = f"""# Performance

Measured by `.venv/bin/python bench/run.py{" --large" if large else ""}` in one run on
{platform.machine()} with Python {platform.python_version()} ({_cpu()}), SQLite in WAL
mode with `synchronous=NORMAL`, the local executor in the same process. One small
SQLite commit measured in the same run (the durable floor): **{floor * 1000:.3f} ms**.
Run `bench/run.py --large` for the full sizes of DESIGN §6 (100,000 earlier
attempts, 10,000 targets); the default sizes keep the run short.

| measurement | result | DESIGN §6 target | ratio |
|---|---|---|---|
{table}

## Where it falls short, and why

- The API answers a run's status in {status.p99 * 1000:.1f} ms at the 99th
  percentile (median {status.p50 * 1000:.1f} ms), against a 10 ms target. A
  status request makes six store transactions, each a hop to a database
  thread: four to authenticate the caller and find the workspace, two to read
  the run (its record, lanes and attempts in flight, then all its attempts);
  then it renders the run's whole tree (120 steps here). While 100 runs
  execute, the same event loop decides about 200 steps a second, and a
  request that arrives during a burst of decisions waits for them: that is
  where the slowest answers come from. Reads have a SQLite thread of their
  own, so they no longer wait behind the commits of busy runs. With the
  benchmark's client, the server and other processes on two cores, the p99
  varies by about half between runs (11-19 ms in development). Reading the
  caller's credential, user and roles in one transaction, and the run's tree
  in one, are the next gains.
- Per-step overhead: {per_step * 1000:.2f} ms, against ≤ 1 ms. A sequential
  no-op step is one transaction (the run's compare-and-set, its lane, the last
  attempt number, two attempt rows) through SQLAlchemy Core, plus the
  decision and the asyncio hand-offs; the database thread and the event loop take about
  half each. A lane's row holds every step's state, so its commit grows with
  the number of steps (200 here): states a decision kept are not encoded
  again, but the row is written whole.
- Fan-out: {rate:,.0f} steps/s, against ≥ 2,000. It rests on group commit and
  on claiming the next attempt in the transaction that ends the last one (an
  executor slot is free once its action is over), so that eight parallel
  steps share transactions: about one commit per eight steps. On two cores
  shared with the test runner and other processes the figure varies by about
  a third between runs.

## Reading the figures

- A no-op step costs one engine transaction: the end of a step and the claim of
  the next one, which this process runs itself (its slot is free once the
  action is over), are saved together; plus the asyncio hand-offs of the local
  executor. The ratio to one commit shows how much of the overhead is the
  database and how much is Python.
- Continue latency does not read history: the engine loads the run record, its
  started lanes and the attempts in flight, never finished attempts, so the
  figure stays far under the target as history grows. Each figure is one
  continue, timed once: it varies by a few milliseconds between runs.
- Memory is bounded by lanes (one small record per started target) and the
  attempts in flight; finished attempts live only in the database.
- The API figure is timed against a real `onward serve` process (SQLite, the
  local executor at concurrency {api_status.RUNS}) running {api_status.RUNS} runs
  of {api_status.STEP_SECONDS} s sleep steps, about {api_status.LOAD:.0f} steps/s
  of engine work. A client in another process on this machine asks for the
  runs' status in turn, one request at a time over one connection; each answer
  is the run's whole stage/target/step/attempt tree, read from the database.

{distributed.cluster_section(cluster, per_step)}"""
    (ROOT / "docs" / "performance.md").write_text(text)
    print(text)


def status_row(status: api_status.StatusLatency) -> tuple[str, str, str, str]:
    """Return the table row of the API's status answers."""
    return (
        f"API: a run's status, p50 / p99 of {status.requests:,} requests, "
        f"while {status.runs} runs execute",
        f"{status.p50 * 1000:.1f} / {status.p99 * 1000:.1f} ms",
        "≤ 10 ms p99",
        f"{status.p99 / 0.010:.2f} x target",
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
