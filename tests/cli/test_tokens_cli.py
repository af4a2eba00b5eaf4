"""``aragora tokens`` as an operator runs it: against the database, without a server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from aragora.cli.main import main
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage


@pytest.fixture
def database_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "state" / "aragora.db"
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARAGORA_DATABASE_URL", f"sqlite:///{path}")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tokens", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["total"] == len(body["tokens"])
    tokens: list[dict[str, object]] = body["tokens"]
    return tokens


def authenticate(database_file: Path, secret: str) -> str | None:
    async def check() -> str | None:
        storage = sql_storage(Database(f"sqlite:///{database_file}"))
        try:
            token = await storage.tokens.authenticate(secret)
        finally:
            await storage.close()
        return None if token is None else token.id

    return asyncio.run(check())


def test_create_prints_the_secret_once_and_stores_only_its_hash(
    capsys: pytest.CaptureFixture[str], database_file: Path
) -> None:
    code, out, err = run(capsys, "create", "--role", "admin", "--name", "ci deploy")
    assert code == 0, err
    fields = dict(line.split(":", 1) for line in out.splitlines())
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    assert fields["role"] == "admin"
    assert fields["name"] == "ci deploy"
    assert fields["id"].startswith("tok_")
    secret = fields["secret"]
    assert secret.startswith("arg_")
    assert len(secret) >= 4 + 43  # 32 random bytes, URL-safe base64
    assert "only this once" in err
    assert secret.encode() not in database_file.read_bytes()
    assert authenticate(database_file, secret) == fields["id"]
    # Listing never shows the secret.
    code, out, _ = run(capsys, "list")
    assert secret not in out
    assert secret not in json.dumps(listed(capsys))


def test_create_json_for_scripts(capsys: pytest.CaptureFixture[str], database_file: Path) -> None:
    code, out, _ = run(capsys, "create", "--role", "viewer", "--name", "grafana", "--json")
    assert code == 0
    body = json.loads(out)
    assert body["role"] == "viewer"
    assert body["name"] == "grafana"
    assert body["secret"].startswith("arg_")
    assert body["revoked"] is False
    assert authenticate(database_file, body["secret"]) == body["id"]


def test_list_shows_every_token_as_a_table(
    capsys: pytest.CaptureFixture[str], database_file: Path
) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert "no tokens" in out
    for role, name in [("admin", "ops"), ("operator", "on-call"), ("viewer", "dashboard")]:
        assert run(capsys, "create", "--role", role, "--name", name)[0] == 0
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "ROLE", "CREATED", "LAST", "USED", "REVOKED"]
    assert [line.split()[1:3] for line in lines[1:]] == [
        ["ops", "admin"],
        ["on-call", "operator"],
        ["dashboard", "viewer"],
    ]
    assert all(line.endswith("no") and "never" in line for line in lines[1:])
    assert [t["name"] for t in listed(capsys)] == ["ops", "on-call", "dashboard"]


def test_revoke_stops_the_secret_working(
    capsys: pytest.CaptureFixture[str], database_file: Path
) -> None:
    _, out, _ = run(capsys, "create", "--role", "operator", "--name", "bot", "--json")
    token = json.loads(out)
    code, out, _ = run(capsys, "revoke", token["id"])
    assert code == 0
    assert f"revoked {token['id']}" in out
    assert authenticate(database_file, token["secret"]) is None
    [entry] = listed(capsys)
    assert entry["revoked"] is True
    assert entry["revoked_at"]
    # Revoking again is harmless.
    assert run(capsys, "revoke", token["id"])[0] == 0


def test_revoking_an_unknown_id_is_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], database_file: Path
) -> None:
    code, out, err = run(capsys, "revoke", "tok_0000000000000000")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "tok_0000000000000000" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["create", "--role", "root", "--name", "x"], "invalid choice: 'root'"),
        (["create", "--role", "admin", "--name", "   "], "must not be blank"),
        (["create", "--role", "admin", "--name", "x" * 201], "at most 200"),
        (["create", "--role", "admin", "--name", "ops\nadmin  forged"], "U+000A"),
        (["create", "--role", "admin", "--name", "a\rb"], "control characters"),
        (["create", "--role", "admin", "--name", "tab\there"], "U+0009"),
        (["create", "--role", "admin", "--name", "\x1b[31mred"], "U+001B"),
        (["create", "--role", "admin", "--name", "a\u2028b"], "U+2028"),
        (["create", "--role", "admin", "--name", "evil\u202egnp.exe"], "U+202E"),
        (["create", "--name", "x"], "--role"),
        (["create", "--role", "admin"], "--name"),
        (["revoke"], "ID"),
        ([], "ACTION"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], database_file: Path, args: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tokens", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert needle in err
    assert not database_file.exists()


def test_an_unreachable_database_is_a_failure_not_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARAGORA_DATABASE_URL", "postgresql://aragora:secret@127.0.0.1:9/aragora")
    code, out, err = run(capsys, "list")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "secret" not in err
