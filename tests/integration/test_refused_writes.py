"""
Writes the database refuses, for real: a step's log or result, for a while or for good.

A trigger in the test's database refuses some rows, so the real store raises
what it raises when a database will not take a record: a data exception
(SQLSTATE class 22 on PostgreSQL, SQLITE_TOOBIG on SQLite), which the store
raises as a StorageRefusedError, or another error, a StorageError only. The
executors wait no time between tries here (a Backoff of zeros), so nothing
waits on the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy.engine import make_url
from structlog.testing import capture_logs

from onward import errors
from onward.actions.catalog import ActionCatalog
from onward.config import Settings
from onward.domain.runs import Attempt, AttemptStatus, RunStatus
from onward.executors.local import LocalExecutor
from onward.runtime import Runtime
from onward.service.ports import LogEntry, RunCommit
from onward.service.work import Report, WorkService
from onward.storage import SqlStore, open_store
from onward.worker.retries import Backoff
from onward.worker.worker import Worker

#: no waiting between tries; an ended attempt's log lines are tried three times
QUICK = Backoff(first=timedelta(0), last=timedelta(0), tries=3)
REFUSED = "refused by the test"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: what SQLite says when its trigger refuses a row (a blob too big to make)
TOO_BIG = "string or blob too big"
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
#: three targets whose steps run at once, as one batch of reports can tell
PARALLEL_PLAN = """
name: parallel
groups:
  - {name: g, parallel: 3, targets: [a, b, c], steps: [{name: s, action: noop}]}
"""
#: the output of each of its steps, as reported
SAYS = ("fine", "poison", "fine")
#: a final attempt row, not a claim or a queued attempt
FINAL = "NEW.status NOT IN ('queued', 'running')"


@dataclass(frozen=True)
class Database:
    """A fresh migrated database of one kind, and its URL."""

    kind: str
    url: str

    @property
    def refusal(self) -> str:
        """Return what the database says when :meth:`refuse` refuses a row."""
        return TOO_BIG if self.kind == "sqlite" else REFUSED

    def said(self, *, refused: bool) -> str:
        """Return what the database says for :meth:`refuse`, else for :meth:`fail`."""
        return self.refusal if refused else REFUSED

    def refuse(self, table: str, condition: str) -> None:
        """Make the database refuse rows of ``table`` for which ``condition`` holds.

        The refusal is a data exception: the record itself is refused.
        """
        self._trigger(
            table,
            condition,
            sqlite="SELECT zeroblob(2000000000)",
            postgres=f"RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'data_exception'",
        )

    def fail(self, table: str, condition: str) -> None:
        """Make the database fail to insert such rows, with an error of another kind."""
        self._trigger(
            table,
            condition,
            sqlite=f"SELECT RAISE(ABORT, '{REFUSED}')",
            postgres=f"RAISE EXCEPTION '{REFUSED}'",
        )

    def say_no(self, table: str, condition: str, *, refused: bool) -> None:
        """Make the database refuse such rows if ``refused``, else fail them."""
        (self.refuse if refused else self.fail)(table, condition)

    def _trigger(
        self, table: str, condition: str, *, sqlite: str, postgres: str
    ) -> None:
        if self.kind == "sqlite":
            path = make_url(self.url).database or ""
            with contextlib.closing(sqlite3.connect(path)) as conn, conn:
                conn.execute(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    f"WHEN {condition} BEGIN {sqlite}; END"
                )
            return
        self.postgres(
            f"CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN IF {condition} THEN {postgres}; END IF;"
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


@pytest.fixture(params=[True, False], ids=["refused", "failing"])
def refused(request: pytest.FixtureRequest) -> bool:
    """Tell whether the database refuses rows for what they hold, or fails otherwise."""
    return bool(request.param)


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
    database: Database, runtime: Runtime, refused: bool
) -> None:
    """The step's end is recorded; the run log says how many lines were lost."""
    # refused lines are dropped at once; others once tried QUICK.tries times
    database.say_no("logs", "NEW.stream IN ('stdout', 'stderr')", refused=refused)

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
    assert notes[0].line.endswith(database.said(refused=refused))


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
    """The attempt is failed at once, not retried, saying why; the run follows it."""
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
    assert first.error.endswith(database.refusal)
    assert [a.status for a in rest] == after
    assert events.count("attempt.report_retried") == 0
    assert events.count("attempt.result_unstorable") == 1
    assert [(line.stream, line.line) for line in lines] == [("stdout", "poison")]


async def test_a_refusal_that_ends_is_waited_out_and_the_result_kept(
    postgres_database: Database,
) -> None:
    """While the report without the output is refused too, the report is tried again."""
    # the first six final attempt rows are refused: three rounds of the
    # report and the one without its output; the fourth report is saved
    postgres_database.postgres(
        "CREATE SEQUENCE refusals;"
        " CREATE FUNCTION refuse_for_a_while() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.status NOT IN ('queued', 'running') THEN"
        " IF nextval('refusals') <= 6 THEN"
        f" RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'data_exception'; END IF;"
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
    assert [line.line for line in lines if line.stream == "info"] == []


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


@pytest.fixture
async def queuing(database: Database) -> AsyncIterator[Runtime]:
    """Yield a runtime over each kind of database that only queues attempts."""
    runtime = Runtime.open(
        Settings(), executes=False, store=open_store(database.url, migrate=False)
    )
    yield runtime
    await runtime.close()


async def test_reports_saved_together_are_saved_alone_when_the_database_refuses(
    database: Database, queuing: Runtime
) -> None:
    """Of three reports the engine saves in one go, only the refused one fails."""
    database.refuse("attempts", f"{FINAL} AND CAST(NEW.output AS TEXT) LIKE '%poison%'")
    work = WorkService(queuing.engine)
    await queuing.commands.apply_plan(PARALLEL_PLAN)
    run = await queuing.commands.start_run("parallel")
    queued = await queuing.store.list_attempts(run.run_id)
    for attempt in queued:
        await work.claim(
            run_id=run.run_id, attempt_id=attempt.attempt_id, worker_id="wrk"
        )

    # the first report is being saved while the other two wait: those two
    # are decided and saved together
    outcomes = await asyncio.gather(
        *(
            work.finish(
                run_id=run.run_id,
                attempt_id=attempt.attempt_id,
                report=Report(status=AttemptStatus.SUCCEEDED, output={"says": says}),
            )
            for attempt, says in zip(queued, SAYS, strict=True)
        ),
        return_exceptions=True,
    )
    stored = await queuing.store.list_attempts(run.run_id)

    assert outcomes[0] is True
    assert isinstance(outcomes[1], errors.StorageRefusedError)
    assert outcomes[2] is True
    assert [a.status for a in stored] == [
        AttemptStatus.SUCCEEDED,
        AttemptStatus.RUNNING,
        AttemptStatus.SUCCEEDED,
    ]


# --- what the store raises ------------------------------------------------------------


async def test_only_a_data_exception_of_the_database_is_a_refusal(
    database: Database, queuing: Runtime, refused: bool
) -> None:
    """A data exception is a StorageRefusedError; a trigger's own exception is not."""
    database.say_no("logs", "NEW.line = 'poison'", refused=refused)
    line = LogEntry(run_id="run_1", attempt_id=None, at=T0, stream="out", line="poison")

    with pytest.raises(errors.StorageError) as failed:
        await queuing.store.append_logs([line])

    assert isinstance(failed.value, errors.StorageRefusedError) is refused
    assert failed.value.message.endswith(database.said(refused=refused))


async def test_values_that_cannot_be_sent_to_the_database_are_refusals(
    queuing: Runtime,
) -> None:
    """JSON that cannot be written, or too big an integer, is a StorageRefusedError."""
    queued = await queue_logging_run(queuing)
    run = await queuing.store.get_run(queued.run_id)

    for changed in (
        replace(run, version=run.version + 1, params={"hosts": {"a"}}),
        replace(run, version=run.version + 1, warnings=2**70),
    ):
        with pytest.raises(errors.StorageRefusedError):
            await queuing.store.commit_run(
                RunCommit(run=changed, expected_version=run.version)
            )

    assert await queuing.store.get_run(run.run_id) == run


@pytest.mark.postgres
async def test_a_database_that_cannot_be_reached_is_not_a_refusal(
    postgres_server_url: str,
) -> None:
    """A connection refused raises a StorageError that is not StorageRefusedError."""
    unreachable = make_url(postgres_server_url).set(port=1)
    store = SqlStore(unreachable.render_as_string(hide_password=False))
    try:
        with pytest.raises(errors.StorageError) as failed:
            await store.get_run("run_1")
    finally:
        await store.close()

    assert not isinstance(failed.value, errors.StorageRefusedError)
