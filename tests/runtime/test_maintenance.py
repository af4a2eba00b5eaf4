"""The shared maintenance flag: one key, one shape, default off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aragora.errors import InvalidInputError
from aragora.records.debates import Storage
from aragora.runtime.maintenance import (
    MAINTENANCE_KEY,
    MAX_MESSAGE_LENGTH,
    read_maintenance,
    write_maintenance,
)
from aragora.storage.memory.storage import memory_storage

MOMENT = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)


@pytest.fixture
def storage() -> Storage:
    return memory_storage(now=lambda: MOMENT)


async def test_off_with_no_message_when_never_set(storage: Storage) -> None:
    assert await read_maintenance(storage.settings) == {"enabled": False, "message": ""}


async def test_write_stores_the_documented_shape(storage: Storage) -> None:
    flag = await write_maintenance(storage.settings, True, "  back soon  ", now=lambda: MOMENT)
    assert flag == {"enabled": True, "message": "back soon"}
    assert await storage.settings.get(MAINTENANCE_KEY) == {
        "enabled": True,
        "message": "back soon",
        "updated_at": "2026-11-28T06:30:00+00:00",
    }
    assert await read_maintenance(storage.settings) == flag


async def test_off_clears_the_message(storage: Storage) -> None:
    await write_maintenance(storage.settings, True, "upgrading")
    assert await write_maintenance(storage.settings, False, None) == {
        "enabled": False,
        "message": "",
    }
    assert await read_maintenance(storage.settings) == {"enabled": False, "message": ""}


async def test_the_key_is_maintenance() -> None:
    assert MAINTENANCE_KEY == "maintenance"


async def test_an_overlong_message_is_refused_and_nothing_changes(storage: Storage) -> None:
    with pytest.raises(InvalidInputError, match=str(MAX_MESSAGE_LENGTH)):
        await write_maintenance(storage.settings, True, "x" * (MAX_MESSAGE_LENGTH + 1))
    assert await storage.settings.get(MAINTENANCE_KEY) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, {"enabled": False, "message": ""}),
        ("on", {"enabled": False, "message": ""}),
        ({"enabled": "yes", "message": 3}, {"enabled": False, "message": ""}),
        ({"enabled": True}, {"enabled": True, "message": ""}),
    ],
)
async def test_a_malformed_row_reads_as_off_rather_than_failing(
    storage: Storage, raw: Any, expected: dict[str, Any]
) -> None:
    await storage.settings.set(MAINTENANCE_KEY, raw)
    assert await read_maintenance(storage.settings) == expected
