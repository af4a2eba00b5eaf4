"""Alembic's environment script, run by Alembic for every command.

:mod:`aragora.migrations.runner` opens the connection and the transaction (holding the
migration lock) and hands the connection over in ``config.attributes``; this script only
runs the migrations on it, so no ``alembic.ini`` or URL is needed here.
"""

from __future__ import annotations

from alembic import context

from aragora.storage.sql.schema import SEARCH_OBJECTS, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    # Full-text search objects are built by hand in each database's terms (0003).
    include_name=lambda name, type_, parents: name not in SEARCH_OBJECTS,
)
with context.begin_transaction():
    context.run_migrations()
