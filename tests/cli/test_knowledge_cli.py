"""``aragora knowledge export|import`` against the database, without a server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aragora.cli.main import main


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ARAGORA_DATABASE_URL", f"sqlite:///{tmp_path / 'state' / 'aragora.db'}")


def item(n: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"it-{n}",
        "kind": "decision",
        "title": f"Question {n}",
        "content": f"Decision: {n}",
        "source": {"debate_id": f"d{n}", "agent": None},
        "confidence": 0.25,
        "tags": ["mode:auto"],
        "created_at": "2026-01-20T12:00:00.000001+00:00",
        "updated_at": "2026-01-20T12:00:00.000002+00:00",
        "provenance": {"rounds": n},
        "links": [],
    }
    body.update(fields)
    return body


def write(path: Path, *items: dict[str, Any]) -> Path:
    path.write_text(
        json.dumps({"format": "aragora.knowledge", "version": 1, "items": list(items)}, indent=2)
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["knowledge", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_then_export_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(
        tmp_path / "in.json",
        item(1),
        item(2, links=[{"kind": "supports", "target": "it-1"}]),
    )
    code, out, _ = run(capsys, "import", str(source), "--json")
    assert code == 0
    assert json.loads(out) == {"imported": 2, "unchanged": 0, "count": 2}
    code, out, _ = run(capsys, "import", str(source))
    assert code == 0
    assert out == "imported 0 items (2 unchanged); the knowledge base holds 2\n"

    code, _, err = run(capsys, "export", str(tmp_path / "out.json"))
    assert code == 0
    assert "out.json" in err
    exported = json.loads((tmp_path / "out.json").read_text())
    assert exported["count"] == 2
    expected = json.loads(source.read_text())["items"]
    expected[1]["links"][0]["created_at"] = "2026-01-20T12:00:00.000001+00:00"
    assert exported["items"] == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []

    code, out, _ = run(capsys, "export", "-")
    assert code == 0
    assert json.loads(out)["items"] == exported["items"]


def test_a_bad_document_imports_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.json", item(1), item(2, confidence=7))
    code, _, err = run(capsys, "import", str(bad))
    assert code == 2
    assert err.startswith("aragora: error: items[1] (id 'it-2'): confidence must be")
    code, out, _ = run(capsys, "export", "-")
    assert json.loads(out)["count"] == 0
    code, _, err = run(capsys, "import", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read" in err
