"""``aragora receipt verify FILE [--pubkey PEM]`` and ``aragora receipt show FILE``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from aragora.cli.main import main
from aragora.receipts.chain import link_of
from aragora.receipts.service import envelope
from aragora.receipts.signing import SigningKey

from .support import ISSUER, receipt_node, receipts_of, run_debate


@pytest.fixture
def issued(tmp_path: Path) -> dict[str, Any]:
    """Two receipts of a node whose key lives in ``tmp_path/data``, as files (a plain
    fixture: the commands run their own event loop)."""
    return asyncio.run(_issue(tmp_path))


async def _issue(tmp_path: Path) -> dict[str, Any]:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        documents = [await run_debate(node, mode="vote") for _ in range(2)]
        stored = [await receipts.get(d["receipt"]["id"]) for d in documents]
        chain = [link_of(s) async for s in receipts.walk()]
    (tmp_path / "r.json").write_text(json.dumps(dict(stored[1].document)))
    (tmp_path / "envelope.json").write_text(json.dumps(envelope(stored[1]), default=str))
    (tmp_path / "key.pem").write_text(receipts.key.public.pem)
    (tmp_path / "chain.jsonl").write_text("".join(json.dumps(c.to_line()) + "\n" for c in chain))
    return {"receipt": dict(stored[1].document), "digest": stored[1].digest, "chain": chain}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["receipt", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_valid_receipt_exits_0(
    tmp_path: Path, issued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(tmp_path / "key.pem")
    code, out, err = run(capsys, "verify", str(tmp_path / "r.json"), "--pubkey", key)
    assert (code, err) == (0, "")
    assert f"signed by {ISSUER}" in out
    assert issued["digest"] in out
    # The API's envelope works as well, and the chain export.
    code, out, _ = run(capsys, "verify", str(tmp_path / "envelope.json"), "--pubkey", key)
    assert code == 0
    code, out, _ = run(
        capsys,
        "verify",
        str(tmp_path / "r.json"),
        "--pubkey",
        key,
        "--require-issuer",
        ISSUER,
        "--chain",
        str(tmp_path / "chain.jsonl"),
    )
    assert code == 0
    assert "anchored in a chain of 2" in out


def test_without_pubkey_the_local_key_is_used(
    tmp_path: Path,
    issued: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ARAGORA_RECEIPT_SIGNING_KEY_FILE", raising=False)
    code, _, _ = run(capsys, "verify", str(tmp_path / "r.json"))
    assert code == 0
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "elsewhere"))
    code, _, err = run(capsys, "verify", str(tmp_path / "r.json"))
    assert code == 1
    assert "no --pubkey given" in err
    assert not (tmp_path / "elsewhere").exists()  # verifying never creates a key


def test_an_invalid_receipt_exits_1_with_the_reason(
    tmp_path: Path, issued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(tmp_path / "key.pem")
    forged = dict(issued["receipt"])
    forged["claim"] = {**forged["claim"], "statement": "forged"}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    code, out, err = run(capsys, "verify", str(tmp_path / "forged.json"), "--pubkey", key)
    assert code == 1
    assert out == ""
    assert "NOT valid" in err
    assert "does not verify" in err
    assert len(err.strip().splitlines()) == 1

    other = tmp_path / "other.pem"
    other.write_text(SigningKey.generate().public.pem)
    code, _, err = run(capsys, "verify", str(tmp_path / "r.json"), "--pubkey", str(other))
    assert code == 1
    assert "signed by key" in err

    code, _, err = run(
        capsys, "verify", str(tmp_path / "r.json"), "--pubkey", key, "--require-issuer", "x"
    )
    assert code == 1
    assert "issuer 'x'" in err

    lines = (tmp_path / "chain.jsonl").read_text().splitlines()
    (tmp_path / "gap.jsonl").write_text(lines[1] + "\n")  # the first link removed
    code, _, err = run(
        capsys,
        "verify",
        str(tmp_path / "r.json"),
        "--pubkey",
        key,
        "--chain",
        str(tmp_path / "gap.jsonl"),
    )
    assert code == 1
    assert "chain:" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "missing.json", "--pubkey", "key.pem"], "cannot read missing.json"),
        (["verify", "bad.json", "--pubkey", "key.pem"], "is not JSON"),
        (["verify", "r.json", "--pubkey", "bad.json"], "not a PEM public key"),
        (["verify", "list.json", "--pubkey", "key.pem"], "does not hold a receipt"),
    ],
)
def test_unreadable_input_is_a_usage_error(
    tmp_path: Path,
    issued: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[]")
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["verify"], ["show", "r.json", "--format", "pdf"], []])
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["receipt", *args])
    assert exited.value.code == 2


def test_show_renders_markdown_and_html(
    tmp_path: Path, issued: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "show", str(tmp_path / "r.json"))
    assert code == 0
    assert out.startswith("# Decision receipt")
    code, out, _ = run(capsys, "show", str(tmp_path / "envelope.json"), "--format", "html")
    assert code == 0
    assert out.startswith("<!DOCTYPE html>")
    assert issued["digest"] in out
