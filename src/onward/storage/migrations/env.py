"""
The Alembic environment, run programmatically by ``onward.storage._schema``.

The caller passes an open connection in ``config.attributes["connection"]``;
no ``alembic.ini`` is read. SQLite migrations are rendered as batch operations
(SQLite cannot alter most of a table in place).
"""

from __future__ import annotations

from alembic import context

from onward.storage.tables import metadata

_connection = context.config.attributes.get("connection")
if _connection is None:
    _msg = 'Onward migrations need a connection in config.attributes["connection"]'
    raise RuntimeError(_msg)

context.configure(
    connection=_connection,
    target_metadata=metadata,
    render_as_batch=_connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
