"""``aragora maintenance`` as an operator runs it: the shared flag, without a server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from aragora.cli.main import main
from aragora.runtime.maintenance import MAINTENANCE_KEY, read_maintenance
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'aragora.db'}"
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARAGORA_DATABASE_URL", url)
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["maintenance", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stored(url: str) -> tuple[dict[str, Any], Any]:
    """What another replica on the same database reads: the flag and the raw row."""

    async def read() -> tuple[dict[str, Any], Any]:
        storage = sql_storage(Database(url))
        try:
            return await read_maintenance(storage.settings), await storage.settings.get(
                MAINTENANCE_KEY
            )
        finally:
            await storage.close()

    return asyncio.run(read())


def status(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0
    flag: dict[str, Any] = json.loads(out)
    return flag


def test_off_by_default(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    code, out, _ = run(capsys, "status")
    assert code == 0
    assert "disabled" in out
    assert status(capsys) == {"enabled": False, "message": ""}


def test_on_with_a_message_reaches_every_replica(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    code, out, _ = run(capsys, "on", "--message", "Upgrading; back by 09:00 UTC")
    assert code == 0
    assert "enabled" in out
    assert "Upgrading; back by 09:00 UTC" in out
    flag, raw = stored(database_url)
    assert flag == {"enabled": True, "message": "Upgrading; back by 09:00 UTC"}
    assert raw["enabled"] is True
    assert raw["updated_at"]
    code, out, _ = run(capsys, "status")
    assert "enabled" in out
    assert "back by 09:00" in out
    assert status(capsys) == {"enabled": True, "message": "Upgrading; back by 09:00 UTC"}


def test_on_without_a_message_then_off(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    assert run(capsys, "on")[0] == 0
    assert status(capsys) == {"enabled": True, "message": ""}
    code, out, _ = run(capsys, "off")
    assert code == 0
    assert "disabled" in out
    assert stored(database_url)[0] == {"enabled": False, "message": ""}
    assert status(capsys) == {"enabled": False, "message": ""}


def test_turning_on_twice_keeps_it_on(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    assert run(capsys, "on", "--message", "first")[0] == 0
    assert run(capsys, "on", "--message", "second")[0] == 0
    assert status(capsys) == {"enabled": True, "message": "second"}


def test_an_overlong_message_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    code, out, err = run(capsys, "on", "--message", "x" * 501)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "500" in err
    assert status(capsys)["enabled"] is False


@pytest.mark.parametrize("args", [[], ["pause"], ["off", "--message", "x"]])
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], database_url: str, args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["maintenance", *args])
    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
