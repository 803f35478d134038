"""The API part of the benchmark: a run's status while 100 runs execute.

Starts ``onward serve`` as a real process on a free port and a fresh SQLite
file, with a first admin from the environment. It applies a plan of short
``sleep`` steps, starts RUNS runs of it (the server's local executor runs them,
one attempt of each at a time), then asks for the status of those runs in turn,
one request after another over one connection, and times each answer. Every
run must still be executing when the last answer comes.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: runs executing during the measurement
RUNS = 100
#: seconds of each sleep step, and steps of each run (long enough to outlast it)
STEP_SECONDS = 0.5
STEPS = 120
#: steps per second the server executes meanwhile
LOAD = RUNS / STEP_SECONDS
#: status requests timed, by default and with --large
REQUESTS, LARGE_REQUESTS = 500, 3000
#: requests sent first and not timed (connection, caches)
WARMUP = 20
ADMIN = ("bench", "bench-password-1")
WORKSPACE = "/api/v1/workspaces/default"
STARTUP_SECONDS = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusLatency:
    """How fast the API answered a run's status."""

    runs: int
    requests: int
    #: seconds of the median and the 99th-percentile answer
    p50: float
    p99: float


def measure(*, large: bool) -> StatusLatency:
    """Start a server, keep RUNS runs executing, and time status requests."""
    requests = LARGE_REQUESTS if large else REQUESTS
    with (
        tempfile.TemporaryDirectory() as tmp,
        serving(Path(tmp)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        client.headers["Authorization"] = f"Bearer {login(client)}"
        run_ids = start_runs(client)
        wait_until_executing(client, run_ids)
        seconds = time_status(client, run_ids, requests)
        still = executing(client, run_ids)
    if still < len(run_ids):
        msg = f"only {still} of {len(run_ids)} runs still executed at the end"
        raise RuntimeError(msg)
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return StatusLatency(
        runs=len(run_ids), requests=len(seconds), p50=cuts[49], p99=cuts[98]
    )


@contextmanager
def serving(home: Path) -> Iterator[str]:
    """Run ``onward serve`` on a free port; yield its URL; stop it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_ADMIN_USERNAME=ADMIN[0],
        ONWARD_ADMIN_PASSWORD=ADMIN[1],
        ONWARD_CONCURRENCY=str(RUNS),
        ONWARD_LOG_LEVEL="warning",
        TMPDIR=str(home),
    )
    db_url = f"sqlite:///{home / 'onward.db'}"
    command = [sys.executable, "-m", "onward", "--db", db_url, "serve"]
    log = home / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=out, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, log)
        yield url
    finally:
        stop(process)


def free_port() -> int:
    """Return a TCP port nobody listens on on loopback (for now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll the health endpoint until it answers (bounded)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"the server exited early:\n{log.read_text()}"
            raise RuntimeError(msg)
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    msg = f"the server did not become healthy:\n{log.read_text()}"
    raise RuntimeError(msg)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (its runs are left as they are; the database is dropped)."""
    process.terminate()
    try:
        process.wait(timeout=STARTUP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STARTUP_SECONDS)


def login(client: httpx.Client) -> str:
    """Sign in as the first admin and return the session token."""
    answer = client.post(
        "/api/v1/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
    )
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


def sleep_plan() -> str:
    """Return the plan text: one target through STEPS sleep steps."""
    steps = ", ".join(
        f"{{name: s{i}, action: sleep, with: {{seconds: {STEP_SECONDS}}}}}"
        for i in range(STEPS)
    )
    return f"name: busy\ngroups: [{{name: g, targets: [t], steps: [{steps}]}}]\n"


def start_runs(client: httpx.Client) -> list[str]:
    """Apply the plan and start RUNS runs of it; return their ids."""
    client.post(
        f"{WORKSPACE}/plans",
        content=sleep_plan(),
        headers={"Content-Type": "application/yaml"},
    ).raise_for_status()
    run_ids = []
    for _ in range(RUNS):
        answer = client.post(f"{WORKSPACE}/runs", json={"plan": "busy"})
        answer.raise_for_status()
        run_ids.append(answer.json()["run_id"])
    return run_ids


def executing(client: httpx.Client, run_ids: list[str]) -> int:
    """Return how many of the runs are running now."""
    answer = client.get(f"{WORKSPACE}/runs", params={"status": "running", "limit": 500})
    answer.raise_for_status()
    running = {run["run_id"] for run in answer.json()["runs"]}
    return len(running & set(run_ids))


def wait_until_executing(client: httpx.Client, run_ids: list[str]) -> None:
    """Wait (bounded) until every run has started executing."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while executing(client, run_ids) < len(run_ids):
        if time.monotonic() > deadline:
            msg = "the runs did not all start executing"
            raise RuntimeError(msg)
        time.sleep(0.1)


def time_status(client: httpx.Client, run_ids: list[str], requests: int) -> list[float]:
    """Ask for the runs' status in turn; return the seconds of each timed answer."""
    seconds = []
    for n in range(WARMUP + requests):
        path = f"{WORKSPACE}/runs/{run_ids[n % len(run_ids)]}"
        started = time.perf_counter()
        answer = client.get(path)
        elapsed = time.perf_counter() - started
        answer.raise_for_status()
        if n >= WARMUP:
            seconds.append(elapsed)
    return seconds
