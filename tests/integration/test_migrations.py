"""
Alembic migrations on real SQLite and PostgreSQL databases, and opening a store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import platformdirs
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from onward import errors, storage
from onward.domain.runs import Run
from onward.service.ports import RunCommit
from onward.storage import _engine, _schema, rows, tables

TABLES = {
    "plans",
    "plan_versions",
    "runs",
    "lanes",
    "attempts",
    "audit",
    "logs",
    "idempotency",
    "workers",
    "workspaces",
    "users",
    "role_bindings",
    "credentials",
    "operations",
    "trigger_fires",
    "data_objects",
    "leases",
    "run_numbers",
    "plan_numbers",
}
ACCESS_TABLES = {"workspaces", "users", "role_bindings", "credentials", "operations"}
TRIGGER_TABLES = {"trigger_fires", "data_objects"}
LEASE_TABLES = {"leases"}
NUMBER_TABLES = {"run_numbers", "plan_numbers"}


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """Return the URL of an empty database of each kind."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def head_revision() -> str | None:
    """Return the newest revision of the migration scripts."""
    return ScriptDirectory.from_config(_schema.alembic_config()).get_current_head()


def table_names_and_revision(url: str) -> tuple[set[str], str | None]:
    """Return the database's tables (but Alembic's own) and its revision."""
    engine = _engine.create_engine(_engine.normalise_url(url), pool_size=1)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
            return names, _schema.current_revision(conn)
    finally:
        engine.dispose()


def test_upgrade_downgrade_and_upgrade_again_leave_the_schema_at_head(
    empty_database_url: str,
) -> None:
    """Upgrading to head, down to base and up again works and ends at head."""
    storage.upgrade(empty_database_url)
    after_upgrade = table_names_and_revision(empty_database_url)
    storage.downgrade(empty_database_url, "base")
    after_downgrade = table_names_and_revision(empty_database_url)

    storage.upgrade(empty_database_url)

    assert after_upgrade == (TABLES, head_revision())
    assert after_downgrade == (set(), None)
    assert table_names_and_revision(empty_database_url) == (TABLES, head_revision())


def test_the_migrated_schema_matches_the_tables_module(empty_database_url: str) -> None:
    """Autogenerate finds no difference between the migrations and tables.py."""
    storage.upgrade(empty_database_url)
    engine = _engine.create_engine(_engine.normalise_url(empty_database_url))

    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, tables.metadata)
    finally:
        engine.dispose()

    assert differences == []


async def test_the_migrations_create_the_default_workspace(
    empty_database_url: str,
) -> None:
    """A migrated database has the ``default`` workspace, with an aware UTC time."""
    storage.upgrade(empty_database_url)
    store = storage.open_store(empty_database_url, migrate=False)

    try:
        workspaces = await store.list_workspaces()
    finally:
        await store.close()

    assert [workspace.name for workspace in workspaces] == ["default"]
    assert workspaces[0].created_at.tzinfo == UTC


def test_access_migration_goes_down_to_the_tables_of_0001_and_up_again(
    empty_database_url: str,
) -> None:
    """Migrating 0002 down and up again leaves the tables of 0001 in place."""
    storage.upgrade(empty_database_url, "0001")
    at_0001 = table_names_and_revision(empty_database_url)
    storage.upgrade(empty_database_url)
    storage.downgrade(empty_database_url, "0001")

    after_downgrade = table_names_and_revision(empty_database_url)

    assert at_0001 == (
        TABLES - ACCESS_TABLES - TRIGGER_TABLES - LEASE_TABLES - NUMBER_TABLES,
        "0001",
    )
    assert after_downgrade == at_0001


def test_upgrading_a_database_at_head_changes_nothing(empty_database_url: str) -> None:
    """Running the migrations twice is harmless."""
    storage.upgrade(empty_database_url)

    storage.upgrade(empty_database_url)

    assert table_names_and_revision(empty_database_url) == (TABLES, head_revision())


async def test_open_store_creates_and_migrates_a_sqlite_file_given_by_its_path(
    tmp_path: Path,
) -> None:
    """A bare path opens a SQLite store, creating its directory and schema."""
    path = tmp_path / "missing" / "dir" / "onward.db"

    store = storage.open_store(str(path))
    await store.close()

    assert path.exists()
    assert table_names_and_revision(str(path)) == (TABLES, head_revision())


async def test_open_store_migrates_an_in_memory_sqlite_database() -> None:
    """``sqlite://`` opens a migrated store whose database lives in memory."""
    store = storage.open_store("sqlite://")

    plans = await store.list_plans(workspace="default")
    await store.close()

    assert plans == []


@pytest.mark.postgres
async def test_open_store_accepts_a_postgres_scheme_url(postgres_url: str) -> None:
    """A ``postgres://`` URL opens a PostgreSQL store through psycopg 3."""
    url = postgres_url.replace("postgresql://", "postgres://", 1)

    store = storage.open_store(url)
    plans = await store.list_plans(workspace="default")
    await store.close()

    assert store.engine.dialect.name == "postgresql"
    assert store.engine.dialect.driver == "psycopg"
    assert plans == []


async def test_a_store_without_its_schema_raises_storage_error(sqlite_url: str) -> None:
    """A store opened without migrating an empty database reports a StorageError."""
    store = storage.open_store(sqlite_url, migrate=False)

    with pytest.raises(errors.StorageError, match="no such table"):
        await store.list_plans(workspace="default")
    await store.close()


def test_downgrading_to_an_unknown_revision_raises_storage_error(
    sqlite_url: str,
) -> None:
    """A migration that cannot be carried out raises StorageError."""
    storage.upgrade(sqlite_url)

    with pytest.raises(errors.StorageError, match="Could not migrate"):
        storage.downgrade(sqlite_url, "no-such-revision")


def test_default_database_url_is_the_environment_variable_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ONWARD_DATABASE_URL overrides the default SQLite file."""
    monkeypatch.setenv("ONWARD_DATABASE_URL", "postgresql://db.example/onward")

    assert storage.default_database_url() == "postgresql://db.example/onward"


def test_default_database_url_is_a_sqlite_file_in_the_user_data_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ONWARD_DATABASE_URL the database is onward.db in the user data dir."""
    monkeypatch.delenv("ONWARD_DATABASE_URL", raising=False)

    url = storage.default_database_url()

    expected = Path(platformdirs.user_data_dir("onward")) / "onward.db"
    assert url == f"sqlite:///{expected}"


def test_trigger_migration_goes_down_to_the_tables_of_0002_and_up_again(
    empty_database_url: str,
) -> None:
    """Migrating 0003 down and up again leaves the tables of 0002 in place."""
    storage.upgrade(empty_database_url, "0002")
    at_0002 = table_names_and_revision(empty_database_url)
    storage.upgrade(empty_database_url)
    storage.downgrade(empty_database_url, "0002")

    after_downgrade = table_names_and_revision(empty_database_url)

    assert at_0002 == (TABLES - TRIGGER_TABLES - LEASE_TABLES - NUMBER_TABLES, "0002")
    assert after_downgrade == at_0002


def test_lease_migration_goes_down_to_the_tables_of_0003_and_up_again(
    empty_database_url: str,
) -> None:
    """Migrating 0004 down and up again leaves the tables of 0003 in place."""
    storage.upgrade(empty_database_url, "0003")
    at_0003 = table_names_and_revision(empty_database_url)
    storage.upgrade(empty_database_url)
    storage.downgrade(empty_database_url, "0003")

    after_downgrade = table_names_and_revision(empty_database_url)

    assert at_0003 == (TABLES - LEASE_TABLES - NUMBER_TABLES, "0003")
    assert after_downgrade == at_0003


def test_number_migration_goes_down_to_the_tables_of_0005_and_up_again(
    empty_database_url: str,
) -> None:
    """Migrating 0006 down and up again leaves the tables of 0005 in place."""
    storage.upgrade(empty_database_url, "0005")
    at_0005 = table_names_and_revision(empty_database_url)
    storage.upgrade(empty_database_url)
    storage.downgrade(empty_database_url, "0005")

    after_downgrade = table_names_and_revision(empty_database_url)

    assert at_0005 == (TABLES - NUMBER_TABLES, "0005")
    assert after_downgrade == at_0005


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def add_plans_and_runs_at_0005(url: str) -> None:
    """Store two plans and three runs as revision 0005 keeps them, out of id order."""
    engine = _engine.create_engine(_engine.normalise_url(url), pool_size=1)
    plans = [("pln_b", T0), ("pln_a", T0 + timedelta(minutes=1))]
    runs = [
        ("run_c", T0),
        ("run_b", T0 + timedelta(minutes=1)),
        ("run_a", T0 + timedelta(minutes=1)),
    ]
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.plans.insert(),
                [
                    {
                        "plan_id": plan_id,
                        "workspace": "default",
                        "name": plan_id,
                        "created_at": at,
                        "enabled": True,
                    }
                    for plan_id, at in plans
                ],
            )
            conn.execute(
                tables.runs.insert(),
                [
                    run_row_before_0007(
                        Run(
                            run_id=run_id,
                            plan_id="pln_b",
                            plan_name="pln_b",
                            plan_version=1,
                            version=1,
                            created_at=at,
                        )
                    )
                    for run_id, at in runs
                ],
            )
    finally:
        engine.dispose()


def run_row_before_0007(run: Run) -> dict[str, object]:
    """Return a runs row as revisions before 0007 keep it (no updated_at)."""
    row = rows.run_to_row(run)
    del row["updated_at"]
    return row


async def test_number_migration_numbers_runs_and_plans_in_creation_order(
    empty_database_url: str,
) -> None:
    """Existing runs and plans get 1, 2, 3 by (created_at, id); new ones go on after."""
    storage.upgrade(empty_database_url, "0005")
    add_plans_and_runs_at_0005(empty_database_url)
    storage.upgrade(empty_database_url)
    store = storage.open_store(empty_database_url, migrate=False)

    try:
        run_numbers = await store.get_run_numbers(["run_a", "run_b", "run_c"])
        plan_numbers = await store.get_plan_numbers(["pln_a", "pln_b"])
        plan = await store.save_plan_version(
            workspace="default",
            name="new",
            source="name: new",
            format="yaml",
            document={"name": "new"},
            digest="d",
            created_by="alice",
            now=T0,
        )
        run = Run(
            run_id="run_new",
            plan_id=plan.plan_id,
            plan_name=plan.name,
            plan_version=1,
            version=1,
            created_at=T0,
        )
        await store.commit_run(RunCommit(run=run, expected_version=0))
        new_run = await store.get_run_numbers([run.run_id])
        new_plan = await store.get_plan_numbers([plan.plan_id])
        second = await store.find_run_id(2)
    finally:
        await store.close()

    assert run_numbers == {"run_c": 1, "run_a": 2, "run_b": 3}
    assert plan_numbers == {"pln_b": 1, "pln_a": 2}
    assert new_run == {"run_new": 4}
    assert new_plan == {plan.plan_id: 3}
    assert second == "run_a"


def test_update_time_migration_goes_down_to_the_tables_of_0006_and_up_again(
    empty_database_url: str,
) -> None:
    """Migrating 0007 down and up again leaves runs as 0006 keeps them."""
    storage.upgrade(empty_database_url, "0006")
    at_0006 = run_columns(empty_database_url)
    storage.upgrade(empty_database_url)
    at_head = run_columns(empty_database_url)
    storage.downgrade(empty_database_url, "0006")

    assert at_head == at_0006 | {"updated_at"}
    assert run_columns(empty_database_url) == at_0006
    assert table_names_and_revision(empty_database_url) == (TABLES, "0006")


def run_columns(url: str) -> set[str]:
    """Return the names of the runs table's columns."""
    engine = _engine.create_engine(_engine.normalise_url(url), pool_size=1)
    try:
        return {column["name"] for column in sa.inspect(engine).get_columns("runs")}
    finally:
        engine.dispose()


async def test_update_time_migration_gives_each_run_its_latest_known_time(
    empty_database_url: str,
) -> None:
    """A run's updated_at starts as its finish, else its start, else its creation."""
    storage.upgrade(empty_database_url, "0006")
    times = {
        "run_new": {},
        "run_started": {"started_at": T0 + timedelta(minutes=1)},
        "run_finished": {
            "started_at": T0 + timedelta(minutes=1),
            "finished_at": T0 + timedelta(minutes=2),
        },
    }
    add_plan_and_runs(empty_database_url, times)
    storage.upgrade(empty_database_url)
    store = storage.open_store(empty_database_url, migrate=False)
    try:
        loaded = {run_id: await store.get_run(run_id) for run_id in times}
    finally:
        await store.close()

    assert {run_id: run.updated_at for run_id, run in loaded.items()} == {
        "run_new": T0,
        "run_started": T0 + timedelta(minutes=1),
        "run_finished": T0 + timedelta(minutes=2),
    }


def add_plan_and_runs(url: str, times: dict[str, dict[str, datetime]]) -> None:
    """Store one plan and a run per id, with its given times, as 0006 keeps them."""
    engine = _engine.create_engine(_engine.normalise_url(url), pool_size=1)
    plan = {
        "plan_id": "pln",
        "workspace": "default",
        "name": "pln",
        "created_at": T0,
        "enabled": True,
    }
    try:
        with engine.begin() as conn:
            conn.execute(tables.plans.insert(), [plan])
            conn.execute(
                tables.runs.insert(),
                [
                    run_row_before_0007(
                        Run(
                            run_id=run_id,
                            plan_id="pln",
                            plan_name="pln",
                            plan_version=1,
                            version=1,
                            created_at=T0,
                            **at,  # type: ignore[arg-type]
                        )
                    )
                    for run_id, at in times.items()
                ],
            )
    finally:
        engine.dispose()
