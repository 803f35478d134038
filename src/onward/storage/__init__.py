"""
Storage adapters: SqlStore (SQLite, PostgreSQL) and MemoryStore.

``open_store(url)`` is the entry point of composition roots: it accepts
``sqlite:///path``, a bare filesystem path (a SQLite file) or
``postgresql://...`` / ``postgres://...`` (psycopg 3), and migrates the schema
to the latest revision. ``default_database_url()`` names the database to use
when none is given: the environment variable ``ONWARD_DATABASE_URL`` if set,
else the SQLite file ``onward.db`` in the user's data directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import platformdirs

from onward.storage import _engine, _schema
from onward.storage.store import SqlStore

__all__ = [
    "DATABASE_URL_ENV",
    "SqlStore",
    "default_database_url",
    "downgrade",
    "open_store",
    "upgrade",
]

#: the environment variable that names the database when no URL is given
DATABASE_URL_ENV: Final = "ONWARD_DATABASE_URL"


def default_database_url() -> str:
    """Return the database URL to use when none is given.

    Returns:
        ``$ONWARD_DATABASE_URL`` when set and not empty, else a SQLite file
        ``onward.db`` in ``platformdirs.user_data_dir("onward")`` (for example
        ``~/.local/share/onward/onward.db`` on Linux).
    """
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    return f"sqlite:///{Path(platformdirs.user_data_dir('onward')) / 'onward.db'}"


def open_store(url: str, *, migrate: bool = True) -> SqlStore:
    """Open the store at ``url``, creating a SQLite file's directory if needed.

    Args:
        url: ``sqlite:///path``, a filesystem path, or ``postgresql://...``
            (``postgres://`` and ``postgresql+psycopg://`` are accepted too).
        migrate: migrate the schema to the latest revision first.

    Raises:
        StorageError: the database could not be reached or migrated.
    """
    return SqlStore(_prepare(url), migrate=migrate)


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (the latest by default).

    Raises:
        StorageError: the database could not be reached or migrated.
    """
    _schema.migrate(_prepare(url), revision, down=False)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` drops all).

    Raises:
        StorageError: the database could not be reached or migrated.
    """
    _schema.migrate(_prepare(url), revision, down=True)


def _prepare(url: str) -> str:
    """Return the normalised URL, with a SQLite file's directory created."""
    url = _engine.normalise_url(url)
    path = _engine.sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return url
