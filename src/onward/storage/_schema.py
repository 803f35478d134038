"""
Alembic run programmatically: migrate a database's schema up or down, tell its revision.

No ``alembic.ini`` is needed: the ``Config`` is built here, with
``script_location`` pointing at the ``migrations`` directory of this package,
and the migration environment (``migrations/env.py``) runs on the connection
handed to it in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from onward import errors
from onward.storage import _engine

#: the directory of env.py and versions/
MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Return an Alembic configuration for Onward's migrations.

    Args:
        connection: the connection the migrations run on (``env.py`` needs one).
    """
    config = Config()
    # ConfigParser interpolates "%": escape it in the path
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def migrate(url: str, revision: str, *, down: bool) -> None:
    """Migrate the database at a normalised ``url`` to ``revision``, in one transaction.

    Raises:
        StorageError: the database could not be reached, or the migration failed.
    """
    engine = _engine.create_engine(url, pool_size=1)
    try:
        migrate_engine(engine, revision, down=down)
    finally:
        engine.dispose()


def migrate_engine(engine: Engine, revision: str, *, down: bool) -> None:
    """Migrate the database of ``engine`` to ``revision``, in one transaction.

    Raises:
        StorageError: the database could not be reached, or the migration failed.
    """
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_engine.WRITE: True})
            with conn.begin():
                config = alembic_config(conn)
                if down:
                    command.downgrade(config, revision)
                else:
                    command.upgrade(config, revision)
    except (exc.SQLAlchemyError, CommandError) as error:
        direction = "down" if down else "up"
        detail = _engine.error_detail(error)
        msg = f"Could not migrate the database {direction} to {revision!r}: {detail}"
        raise errors.StorageError(msg) from error


def current_revision(connection: Connection) -> str | None:
    """Return the database's revision, None if it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()
