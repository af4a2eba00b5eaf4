"""``aragora debate`` without ``--server``: one code path with the service, its storage,
receipts and knowledge; only its own debate claimed; Ctrl-C cancels cleanly."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aragora import wiring
from aragora.cli.main import main
from aragora.migrations.runner import ensure_schema
from aragora.settings import load_settings
from tests.server.live import offline_environment, running_server

TASK = "Should a five-person startup run PostgreSQL or SQLite?"


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARAGORA_DEMO_DELAY", "0")
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ARAGORA_DATABASE_URL", raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def debate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run(capsys, "debate", TASK, "--agents", "demo,demo,demo", "--json", *args)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_a_debate_is_stored_receipted_ingested_and_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A debate run in-process (no --server) is saved too: every completed debate is
    # promised a receipt and knowledge items.
    document = debate_json(capsys, "--mode", "vote", "--seed", "4")
    assert document["status"] == "completed"
    assert document["receipt"]["id"].startswith("rcpt_")
    assert document["knowledge_items"]
    code, out, _ = run(capsys, "debates", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [d["id"] for d in listed["debates"]] == [document["id"]]
    assert listed["debates"][0]["status"] == "completed"
    code, out, _ = run(capsys, "debates", "show", document["id"], "--json")
    assert code == 0
    assert json.loads(out) == document  # the same document the service serves
    # A later debate on the same question draws on this one (the Knowledge Mound).
    later = debate_json(capsys, "--mode", "single")
    assert [r["debate_id"] for r in later["references"]] == [document["id"]]


def test_memory_keeps_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    document = debate_json(capsys, "--mode", "vote", "--memory")
    assert document["status"] == "completed"
    code, out, _ = run(capsys, "debates", "list", "--json")
    assert code == 0
    assert json.loads(out)["total"] == 0


async def _queue_a_debate_of_someone_else(data_dir: Path) -> str:
    """A debate a server queued on this database (its workers busy or not started)."""
    settings = load_settings({"ARAGORA_DATA_DIR": str(data_dir), "ARAGORA_DEMO_DELAY": "0"})
    check = functools.partial(ensure_schema, auto_migrate=True)
    node = await wiring.open_node(settings, check_schema=check)
    try:
        created = await node.service.create({"task": "Theirs: tabs or spaces?", "mode": "single"})
    finally:
        await node.close()
    return str(created["debate_id"])


def test_only_its_own_debate_is_claimed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    theirs = asyncio.run(_queue_a_debate_of_someone_else(tmp_path))
    mine = debate_json(capsys, "--mode", "vote")
    assert mine["status"] == "completed"
    code, out, _ = run(capsys, "debates", "show", theirs, "--json")
    assert code == 0
    untouched = json.loads(out)
    assert untouched["status"] == "queued"
    assert untouched["event_count"] == 0
    assert untouched["queue_position"] == 1


def test_the_json_document_is_the_one_the_server_serves(tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        env = {**server.env, "ARAGORA_DEMO_DELAY": "0"}
        done = subprocess.run(
            [sys.executable, "-m", "aragora.cli.main", "debate", TASK, "--json", "--seed", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)
        status, body = server.get(f"/api/v1/debates/{printed['id']}")
        assert status == 200
        assert json.loads(body) == printed
        status, body = server.get("/api/v1/debates")
        assert printed["id"] in [d["id"] for d in json.loads(body)["debates"]]
        # --server shows the same: the summary from the server's final document.
        command = ["debate", TASK, "--mode", "vote", "--seed", "3", "--server", server.base_url]
        remote = subprocess.run(
            [sys.executable, "-m", "aragora.cli.main", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert remote.returncode == 0, remote.stderr
        assert remote.stdout.startswith(f"Aragora: {TASK}\nDebate ")
        assert "\nVerdict: " in remote.stdout
        assert "Recorded: receipt rcpt_" in remote.stdout


def test_ctrl_c_cancels_the_debate_and_prints_the_partial_result(tmp_path: Path) -> None:
    env = offline_environment(tmp_path, ARAGORA_DEMO_DELAY="0.4")
    process = subprocess.Popen(
        [sys.executable, "-m", "aragora.cli.main", "debate", TASK, "--mode", "debate"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if "Independent answers" in line:
                break
        debate_id = next(s.split()[1] for s in seen if s.startswith("Debate "))
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    out = "".join(seen) + rest
    assert "interrupted: cancelling the debate" in out
    assert "Cancelled: no decision" in out
    assert "Verdict" not in out
    shown = subprocess.run(
        [sys.executable, "-m", "aragora.cli.main", "debates", "show", debate_id, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["status"] == "cancelled"
    assert document["stop_reason"] == "cancelled"


async def _leave_a_running_debate(data_dir: Path, ttl: float) -> str:
    """A debate whose worker claimed it, started it and then stopped renewing its lease."""
    settings = load_settings({"ARAGORA_DATA_DIR": str(data_dir), "ARAGORA_DEMO_DELAY": "0"})
    check = functools.partial(ensure_schema, auto_migrate=True)
    node = await wiring.open_node(settings, check_schema=check)
    try:
        created = await node.service.create({"task": "Abandoned?", "mode": "single"})
        debate_id = str(created["debate_id"])
        lease = await node.storage.leases.claim("a-worker-that-dies", ttl, debate_id=debate_id)
        assert lease is not None
        await node.storage.debates.update(debate_id, status="running")
    finally:
        await node.close()
    return debate_id


def test_a_debate_left_by_a_dead_worker_shows_it_awaits_resumption(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    alive = asyncio.run(_leave_a_running_debate(tmp_path, ttl=60))
    dead = asyncio.run(_leave_a_running_debate(tmp_path, ttl=0.05))
    time.sleep(0.2)  # past the dead worker's lease, measured from its claim
    code, out, _ = run(capsys, "debates", "show", alive, "--json")
    assert code == 0
    assert json.loads(out)["awaiting_resumption"] is False
    code, out, _ = run(capsys, "debates", "show", dead, "--json")
    assert code == 0
    document = json.loads(out)
    assert (document["status"], document["awaiting_resumption"]) == ("running", True)
    code, out, _ = run(capsys, "debates", "show", dead)
    assert code == 0
    assert "running (awaiting resumption" in out


def test_version_loads_no_database_or_http_stack() -> None:
    # `aragora --version` answers at once: importing the server stack up front takes seconds.
    heavy = ("sqlalchemy", "fastapi", "uvicorn", "httpx", "starlette", "alembic", "redis", "mcp")
    code = (
        "import sys\n"
        "from aragora.cli.main import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("aragora ")
    assert lines[1:] == [""]  # none of them was imported
