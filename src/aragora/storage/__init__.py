"""aragora.storage: the event log, debates, leases, tokens and other records.

``repository`` holds the records and the Protocols the rest of Aragora programs against
(the runtime may import nothing else of this package); ``memory`` is the in-process fake;
``database`` builds the SQLAlchemy engines (pool, PgBouncer mode, read replica, error
translation) and ``sql_*`` implement the Protocols for SQLite and PostgreSQL alike.

This module deliberately imports nothing, so importing the Protocols never loads a driver.
"""
