"""aragora.storage.sql: the repositories on SQLAlchemy, one code path for SQLite and PostgreSQL."""
