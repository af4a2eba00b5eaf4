"""aragora.migrations: the Alembic environment and versions that build the schema of
``aragora.storage.sql.schema``, and ``runner`` (``python -m aragora.migrations.runner
migrate|status``, ``aragora migrate [status]``, and the start-up schema check)."""
