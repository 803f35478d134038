"""
Writes the database refuses, for real: a step's log or result, for a while or for good.

A trigger in the test's database refuses some rows, so the real store raises
what it raises when a database will not take a record. The executors wait no
time between tries here (a Backoff of zeros), so nothing waits on the clock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from onward.actions.catalog import ActionCatalog
from onward.config import Settings
from onward.domain.runs import Attempt, AttemptStatus, RunStatus
from onward.executors.local import LocalExecutor
from onward.runtime import Runtime
from onward.service.work import WorkService
from onward.storage import open_store
from onward.worker.retries import Backoff
from onward.worker.worker import Worker

#: no waiting between tries; the third failure in a row suspects the content
QUICK = Backoff(first=timedelta(0), last=timedelta(0), tries=3)
REFUSED = "refused by the test"
#: a step whose stdout and stderr reach the run log, then one more step
LOGGING_PLAN = """
name: logging
groups:
  - name: g
    targets: [t]
    steps:
      - {name: talk, action: shell, with: {command: "echo one; echo two >&2"}}
      - {name: after, action: noop}
"""
#: a step whose output the test makes the database refuse; retrying it is allowed
POISON_PLAN = """
name: poison
groups:
  - name: g
    targets: [t]
    steps:
      - name: poisoned
        action: shell
        critical: {critical}
        retry: {{attempts: 3}}
        with: {{command: "echo poison"}}
      - {{name: after, action: noop}}
"""
#: a final attempt row, not a claim or a queued attempt
FINAL = "NEW.status NOT IN ('queued', 'running')"


@dataclass(frozen=True)
class Database:
    """A fresh migrated database of one kind, and its URL."""

    kind: str
    url: str

    def refuse(self, table: str, condition: str) -> None:
        """Make the database refuse rows of ``table`` for which ``condition`` holds."""
        if self.kind == "sqlite":
            path = make_url(self.url).database or ""
            with contextlib.closing(sqlite3.connect(path)) as conn, conn:
                conn.execute(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
                )
            return
        self.postgres(
            f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF {condition} THEN RAISE EXCEPTION '{REFUSED}'; END IF;"
            " RETURN NEW; END $$;"
            f" CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION refuse_{table}()"
        )

    def postgres(self, statements: str) -> None:
        """Run statements on the PostgreSQL database."""
        url = make_url(self.url).set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            conn.execute(statements)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest) -> Database:
    """Return a fresh migrated database of each kind."""
    kind = request.param
    return Database(kind=kind, url=request.getfixturevalue(f"migrated_{kind}_url"))


@pytest.fixture
def postgres_database(migrated_postgres_url: str) -> Database:
    """Return a fresh migrated PostgreSQL database."""
    return Database(kind="postgres", url=migrated_postgres_url)


def open_runtime(database: Database) -> Runtime:
    """Return a runtime over the database whose local executor never waits to retry."""
    runtime = Runtime.open(
        Settings(shutdown_grace=1),
        executes=False,
        store=open_store(database.url, migrate=False),
    )
    executor = LocalExecutor(
        work=WorkService(runtime.engine),
        catalog=ActionCatalog(),
        clock=runtime.engine.clock,
        worker_id="wrk_local",
        backoff=QUICK,
    )
    runtime.engine.attach_executor(executor)
    runtime.executor = executor
    return runtime


@contextlib.asynccontextmanager
async def celery_worker(database: Database) -> AsyncIterator[tuple[Runtime, Worker]]:
    """Yield a runtime that only queues attempts, and a started worker on its engine."""
    runtime = Runtime.open(
        Settings(), executes=False, store=open_store(database.url, migrate=False)
    )
    worker = Worker(
        engine=runtime.engine,
        catalog=ActionCatalog(),
        worker_id="wrk_celery",
        name="test",
        backoff=QUICK,
    )
    try:
        await worker.start()
        yield runtime, worker
    finally:
        await worker.close()
        await runtime.close()


async def queue_logging_run(runtime: Runtime) -> Attempt:
    """Start a run of the logging plan; return its first attempt, queued."""
    await runtime.commands.apply_plan(LOGGING_PLAN)
    run = await runtime.commands.start_run("logging")
    (queued,) = await runtime.store.list_attempts(run.run_id)
    return queued


@pytest.fixture
async def runtime(database: Database) -> AsyncIterator[Runtime]:
    """Yield a runtime over each kind of database, running steps here."""
    runtime = open_runtime(database)
    yield runtime
    await runtime.close()


async def run_to_the_end(runtime: Runtime, plan: str, name: str) -> str:
    """Apply a plan, start a run of it, wait until nothing runs; return its id."""
    await runtime.commands.apply_plan(plan)
    run = await runtime.commands.start_run(name)
    assert runtime.executor is not None
    await runtime.executor.drain()
    return run.run_id


async def test_log_lines_the_database_refuses_are_dropped_and_the_run_goes_on(
    database: Database, runtime: Runtime
) -> None:
    """The step's end is recorded; the run log says how many lines were lost."""
    database.refuse("logs", "NEW.stream IN ('stdout', 'stderr')")

    with capture_logs() as logs:
        run_id = await run_to_the_end(runtime, LOGGING_PLAN, "logging")

    run = await runtime.store.get_run(run_id)
    attempts = await runtime.store.list_attempts(run_id)
    lost = [entry for entry in logs if entry["event"] == "attempt.logs_lost"]
    notes = await runtime.queries.logs(run_id)
    assert run.status is RunStatus.SUCCEEDED
    assert [a.status for a in attempts] == [AttemptStatus.SUCCEEDED] * 2
    assert {entry["attempt_id"] for entry in lost} == {attempts[0].attempt_id}
    assert sum(entry["lines"] for entry in lost) == 2
    assert {(note.stream, note.attempt_id) for note in notes} == {
        ("info", attempts[0].attempt_id)
    }
    assert notes[0].line.startswith("2 log lines of this attempt could not be stored")
    assert notes[0].line.endswith(REFUSED)


@pytest.mark.parametrize(
    ("critical", "run_status", "after"),
    [
        pytest.param("true", RunStatus.HALTED, [], id="critical-halts"),
        pytest.param(
            "false", RunStatus.SUCCEEDED, [AttemptStatus.SUCCEEDED], id="goes-on"
        ),
    ],
)
async def test_a_result_the_database_refuses_for_good_fails_the_attempt(
    database: Database,
    runtime: Runtime,
    critical: str,
    run_status: RunStatus,
    after: list[AttemptStatus],
) -> None:
    """The attempt is failed, not retried, saying why; the run follows the step."""
    database.refuse("attempts", f"{FINAL} AND CAST(NEW.output AS TEXT) LIKE '%poison%'")

    with capture_logs() as logs:
        run_id = await run_to_the_end(
            runtime, POISON_PLAN.format(critical=critical), "poison"
        )

    run = await runtime.store.get_run(run_id)
    first, *rest = await runtime.store.list_attempts(run_id)
    lines = await runtime.queries.logs(run_id)
    events = [entry["event"] for entry in logs]
    assert run.status is run_status
    assert first.status is AttemptStatus.FAILED
    assert first.output == {}
    assert first.error is not None
    assert first.error.startswith(
        "the attempt ended succeeded, but its result could not be stored: "
    )
    assert first.error.endswith(REFUSED)
    assert [a.status for a in rest] == after
    assert events.count("attempt.report_retried") == QUICK.tries - 1
    assert events.count("attempt.result_unstorable") == 1
    assert [(line.stream, line.line) for line in lines] == [
        ("stdout", "poison"),
        (
            "info",
            "the database refused the end of this attempt 3 times or more: "
            f"The database could not commit run: {REFUSED}",
        ),
    ]


async def test_a_refusal_that_ends_is_waited_out_and_the_result_kept(
    postgres_database: Database,
) -> None:
    """While the report without the output is refused too, the report is tried again."""
    # the first six final attempt rows are refused: three tries of the
    # report; a line is logged, the report and the one without its output
    # are refused; one more try; a line is logged, and the report is saved
    postgres_database.postgres(
        "CREATE SEQUENCE refusals;"
        " CREATE FUNCTION refuse_for_a_while() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.status NOT IN ('queued', 'running') THEN"
        f" IF nextval('refusals') <= 6 THEN RAISE EXCEPTION '{REFUSED}'; END IF;"
        " END IF; RETURN NEW; END $$;"
        " CREATE TRIGGER refuse_for_a_while BEFORE INSERT ON attempts"
        " FOR EACH ROW EXECUTE FUNCTION refuse_for_a_while()"
    )
    runtime = open_runtime(postgres_database)
    try:
        with capture_logs() as logs:
            run_id = await run_to_the_end(runtime, LOGGING_PLAN, "logging")
        run = await runtime.store.get_run(run_id)
        first, second = await runtime.store.list_attempts(run_id)
        lines = await runtime.queries.logs(run_id)
    finally:
        await runtime.close()

    events = [entry["event"] for entry in logs]
    assert run.status is RunStatus.SUCCEEDED
    assert first.status is AttemptStatus.SUCCEEDED
    assert first.output["stdout"] == "one\n"
    assert second.status is AttemptStatus.SUCCEEDED
    assert events.count("attempt.report_retried") == 3
    assert "attempt.result_unstorable" not in events
    assert [line.line for line in lines if line.stream == "info"] == [
        "the database refused the end of this attempt 3 times or more: "
        f"The database could not commit run: {REFUSED}"
    ] * 2


async def test_a_worker_reports_its_attempt_when_no_log_line_can_be_written(
    database: Database,
) -> None:
    """On the Celery worker path too, refused lines never keep an attempt running."""
    database.refuse("logs", "NEW.line IS NOT NULL")
    async with celery_worker(database) as (runtime, worker):
        queued = await queue_logging_run(runtime)
        with capture_logs() as logs:
            taken = await worker.handle(queued.run_id, queued.attempt_id)
        attempts = await runtime.store.list_attempts(queued.run_id)
        lines = await runtime.queries.logs(queued.run_id)

    lost = [entry for entry in logs if entry["event"] == "attempt.logs_lost"]
    assert taken is True
    assert [a.status for a in attempts] == [
        AttemptStatus.SUCCEEDED,
        AttemptStatus.QUEUED,
    ]
    assert lines == []
    assert [(entry["attempt_id"], entry["lines"]) for entry in lost] == [
        (queued.attempt_id, 2)
    ]


async def test_a_worker_tries_a_refused_claim_again_until_it_is_saved(
    postgres_database: Database,
) -> None:
    """A claim the database refuses twice is made on the third try; the step runs."""
    postgres_database.postgres(
        "CREATE SEQUENCE refusals;"
        " CREATE FUNCTION refuse_claims() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.status = 'running' THEN"
        f" IF nextval('refusals') <= 2 THEN RAISE EXCEPTION '{REFUSED}'; END IF;"
        " END IF; RETURN NEW; END $$;"
        " CREATE TRIGGER refuse_claims BEFORE INSERT ON attempts"
        " FOR EACH ROW EXECUTE FUNCTION refuse_claims()"
    )
    async with celery_worker(postgres_database) as (runtime, worker):
        queued = await queue_logging_run(runtime)
        with capture_logs() as logs:
            await worker.handle(queued.run_id, queued.attempt_id)
        first, _ = await runtime.store.list_attempts(queued.run_id)

    events = [entry["event"] for entry in logs]
    assert first.status is AttemptStatus.SUCCEEDED
    assert first.worker_id == "wrk_celery"
    assert events.count("attempt.claim_retried") == 2
