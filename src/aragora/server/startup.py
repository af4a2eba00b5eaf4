"""What ``aragora serve`` checks and says when it starts: whether it may listen where it
was asked to, what it runs on, and how to get an admin token when there is none.

The exposure rule (CONTRACT: ``ARAGORA_HOST`` or ``--host`` on a non-loopback address
turns ``ARAGORA_REQUIRE_AUTH`` on): on a loopback address auth is off by default; on any
other address it is on by default, and turning it off explicitly is refused unless
``ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK=true`` confirms it, which is then logged loudly.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aragora.errors import ConfigurationError
from aragora.logs import log_event
from aragora.records.debates import TokenRepository
from aragora.runtime.auth import AdminToken
from aragora.settings import Settings
from aragora.storage.sql.database import mask_url, sqlite_path

__all__ = [
    "UNAUTHENTICATED_WARNING",
    "admin_token_missing",
    "check_exposure",
    "describe_bus",
    "describe_storage",
    "how_to_make_an_admin_token",
]

logger = logging.getLogger("aragora.server")

UNAUTHENTICATED_WARNING = (
    "WARNING: ARAGORA_REQUIRE_AUTH=false on {host}, a non-loopback address "
    "(ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK=true): anyone who can reach this port can read "
    "every debate and start debates billed to the provider keys"
)


def check_exposure(settings: Settings) -> str | None:
    """Refuse (:class:`ConfigurationError`) to serve without auth on a non-loopback
    address unless the operator confirmed it; when confirmed, the loud warning to print
    (also logged as ``unauthenticated_network``). ``settings`` must carry the address
    actually bound (:meth:`Settings.bound_to`)."""
    if settings.effective_require_auth or settings.loopback_only:
        return None
    if not settings.allow_unauthenticated_network:
        raise ConfigurationError(
            f"ARAGORA_REQUIRE_AUTH=false on {settings.host}, which is not a loopback address: "
            "anyone who can reach the port could read every debate and start debates billed "
            "to the provider keys. Remove ARAGORA_REQUIRE_AUTH=false (tokens are then "
            "required), listen on 127.0.0.1, or set ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK=true "
            "if the network is trusted"
        )
    log_event(logger, "unauthenticated_network", logging.WARNING, host=settings.host)
    return UNAUTHENTICATED_WARNING.format(host=settings.host)


def describe_storage(settings: Settings) -> str:
    """The database in words, without any password: ``SQLite /path/aragora.db`` or
    ``PostgreSQL aragora@db:5432/aragora`` (and its read replica, when there is one)."""
    described = _database(settings.effective_database_url)
    if settings.database_read_url:
        described += f" (reads from {_database(settings.database_read_url)})"
    return described


def describe_bus(settings: Settings) -> str:
    """How debate events reach other replicas: ``Redis host:port/db`` or in-process."""
    if settings.redis_url is not None:
        parts = urlsplit(settings.redis_url)
        if parts.scheme == "unix":
            return f"Redis {parts.path}"
        database = parts.path.strip("/") or "0"
        return f"Redis {_host(parts.hostname, parts.port or 6379)}/{database}"
    if sqlite_path(settings.effective_database_url) is not None:
        return "in-process"
    return "in-process (replicas follow each other through the database)"


async def admin_token_missing(admin: AdminToken | None, tokens: TokenRepository) -> bool:
    """Whether nobody can act as admin: no bootstrap token (``admin``: from
    ``ARAGORA_ADMIN_TOKEN``, or the file embedded mode generates) and no unrevoked admin
    API token."""
    if admin is not None:
        return False
    return not any(t.role == "admin" and not t.revoked for t in await tokens.list())


def how_to_make_an_admin_token(settings: Settings) -> str:
    """The commands that give this deployment an admin token, for the start-up notice."""
    url = mask_url(settings.effective_database_url)
    password = (
        " (with the password in place of ***)" if url != settings.effective_database_url else ""
    )
    return (
        "no admin token exists, so maintenance mode and the knowledge backup routes cannot "
        f"be used. Create one against the same database{password}:\n"
        f"    ARAGORA_DATABASE_URL='{url}' aragora tokens create --role admin --name ops\n"
        "or set ARAGORA_ADMIN_TOKEN to a long random secret in the server's environment."
    )


def _database(url: str) -> str:
    path = sqlite_path(url)
    if path is not None:
        return f"SQLite {path}"
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    host = _host(parts.hostname or "localhost", parts.port or 5432)
    return f"PostgreSQL {user}{host}/{parts.path.strip('/') or parts.username or 'postgres'}"


def _host(name: str | None, port: int | None) -> str:
    host = name or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host
