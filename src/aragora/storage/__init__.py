"""aragora.storage: the implementations of the Protocols in :mod:`aragora.records`.

``memory`` is the in-process fake; ``sql`` holds the SQLAlchemy engines (``database``: pool,
PgBouncer mode, read replica, error translation), the tables (``schema``) and the
repositories for SQLite and PostgreSQL alike; ``knowledge_rules`` is what both share about
knowledge search; ``backup`` copies a SQLite database.

This module deliberately imports nothing, so importing one implementation never loads the other.
"""
