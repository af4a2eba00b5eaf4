"""Who is calling: bearer tokens to principals, roles, and the embedded admin token.

Roles are ordered ``viewer < operator < admin``: a viewer reads, an operator also creates
and cancels debates, an admin may do everything (maintenance, knowledge, tokens).

Two kinds of token authenticate:

- the bootstrap admin token (``ARAGORA_ADMIN_TOKEN``, or the one generated into the data
  dir in embedded mode), compared in constant time;
- API tokens stored hashed in the database (``aragora tokens create``).

:func:`ensure_admin_token` gives embedded mode its admin token: if ``ARAGORA_ADMIN_TOKEN``
is unset and the database is SQLite, a random token is written once to
``<data dir>/admin_token`` (mode 0600) and reused on every later start.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from aragora.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from aragora.records.debates import TokenRepository
from aragora.settings import Settings

__all__ = [
    "ADMIN_TOKEN_FILE",
    "AdminToken",
    "Authenticator",
    "Principal",
    "ensure_admin_token",
    "role_allows",
]

ADMIN_TOKEN_FILE = "admin_token"
_RANK = {"viewer": 0, "operator": 1, "admin": 2}


def role_allows(role: str, needed: str) -> bool:
    """Whether a token of ``role`` may do what needs ``needed`` (viewer < operator < admin)."""
    return _RANK.get(role, -1) >= _RANK[needed]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: the token's ``name``, ``role`` and id (``None`` for the
    bootstrap admin token)."""

    name: str
    role: str
    token_id: str | None = None

    def require(self, needed: str) -> None:
        """Raise :class:`PermissionDeniedError` unless this caller's role covers ``needed``."""
        if not role_allows(self.role, needed):
            raise PermissionDeniedError(
                f"this needs the {needed} role; the token {self.name!r} is {self.role}"
            )


class Authenticator:
    """Turns a bearer secret into a :class:`Principal`.

    ``admin_token`` is the bootstrap admin secret (or ``None``); every other secret is
    looked up in ``tokens`` (stored hashed, revocation effective at once)."""

    def __init__(self, tokens: TokenRepository, admin_token: str | None) -> None:
        self._tokens = tokens
        self._admin = admin_token.encode("utf-8") if admin_token else None

    async def authenticate(self, secret: str) -> Principal:
        """The caller ``secret`` names; :class:`AuthenticationError` if it names no valid
        token (blank, unknown or revoked)."""
        secret = secret.strip()
        if not secret:
            raise AuthenticationError("empty bearer token")
        if self._admin is not None and hmac.compare_digest(secret.encode("utf-8"), self._admin):
            return Principal(name="admin", role="admin")
        token = await self._tokens.authenticate(secret)
        if token is None:
            raise AuthenticationError("invalid or revoked token")
        return Principal(name=token.name, role=token.role, token_id=token.id)


@dataclass(frozen=True, slots=True)
class AdminToken:
    """The bootstrap admin token of this process: its ``secret`` and, when it lives in a
    file of the data dir, that ``path``; ``generated`` is true when this start wrote it."""

    secret: str
    path: Path | None = None
    generated: bool = False


def ensure_admin_token(settings: Settings) -> AdminToken | None:
    """The bootstrap admin token: ``ARAGORA_ADMIN_TOKEN`` if set; else, in embedded mode
    (SQLite), the one in ``<data dir>/admin_token``, generated there (mode 0600, data dir
    created) on the first start; else ``None`` (PostgreSQL without one: use API tokens).

    Safe when several processes start at once (the file is created exclusively).
    Raises :class:`ConfigurationError` if the file cannot be read or written."""
    if settings.admin_token is not None:
        return AdminToken(settings.admin_token.get_secret_value())
    scheme = urlsplit(settings.effective_database_url).scheme.split("+", 1)[0].lower()
    if scheme != "sqlite":
        return None
    path = settings.data_dir / ADMIN_TOKEN_FILE
    try:
        existing = _read_token(path)
        if existing is not None:
            return AdminToken(existing, path)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its token
            raced = _read_token(path)
            if raced is None:
                raise ConfigurationError(f"admin token file {path} is empty") from None
            return AdminToken(raced, path)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        return AdminToken(secret, path, generated=True)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot use the admin token file {path}: {exc.strerror or exc}"
        ) from exc


def _read_token(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # someone loosened it; a bearer secret stays private
    return text or None
