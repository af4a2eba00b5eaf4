"""The maintenance flag every replica shares: one key in the settings table.

Stored under :data:`MAINTENANCE_KEY` as ``{"enabled": bool, "message": str, "updated_at":
iso}``. Both faces go through these two functions, so the key and the shape live only
here: ``aragora maintenance on|off|status`` writes the database directly (no running server
needed, and it holds for every replica on that database) and the service reads it to
refuse new debates with 503 and to report ``"maintenance"`` in health.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aragora.errors import InvalidInputError
from aragora.records.debates import SettingsRepository

__all__ = ["MAINTENANCE_KEY", "MAX_MESSAGE_LENGTH", "read_maintenance", "write_maintenance"]

MAINTENANCE_KEY = "maintenance"
MAX_MESSAGE_LENGTH = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def read_maintenance(settings_repo: SettingsRepository) -> dict[str, Any]:
    """The flag as ``{"enabled": bool, "message": str}``; off with an empty message when
    it was never set. A value of another shape reads as off rather than failing, so a bad
    row cannot take the API down."""
    return _normalised(await settings_repo.get(MAINTENANCE_KEY))


async def write_maintenance(
    settings_repo: SettingsRepository,
    enabled: bool,
    message: str | None,
    *,
    now: Callable[[], datetime] = _utc_now,
) -> dict[str, Any]:
    """Turn maintenance mode on or off for every replica on this database and return the
    new flag (same shape as :func:`read_maintenance`). ``message`` (``None`` for none) is
    what clients are told while it is on; :class:`InvalidInputError` if it is longer than
    :data:`MAX_MESSAGE_LENGTH` characters."""
    text = (message or "").strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise InvalidInputError(
            f"maintenance message is {len(text)} characters; at most {MAX_MESSAGE_LENGTH}"
        )
    value = {"enabled": bool(enabled), "message": text, "updated_at": now().isoformat()}
    await settings_repo.set(MAINTENANCE_KEY, value)
    return _normalised(value)


def _normalised(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {"enabled": False, "message": ""}
    message = value.get("message")
    return {
        "enabled": value.get("enabled") is True,
        "message": message if isinstance(message, str) else "",
    }
