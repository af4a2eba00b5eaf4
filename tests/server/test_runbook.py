"""Every localhost command of the operations runbook (spec/runbook.txt), run with bash as
written against a live ``aragora serve``; only the port 8080 becomes the test's port.

The commands are copied verbatim from the runbook, backslashes included. They need
``curl`` and ``jq`` on PATH: without them these tests skip, except under CI=true, where a
missing tool is a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .live import ADMIN_TOKEN, LiveServer, running_server

HEALTH = "curl -s http://localhost:8080/api/health | jq"
LATENCY = 'curl -w "Time: %\\{time_total\\}s\\n" -o /dev/null -s http://localhost:8080/api/health'
ACTIVE_DEBATES = "curl -s http://localhost:8080/api/admin/stats | jq '.active_debates'"
MIGRATE = "python -m aragora.migrations.runner migrate"
MIGRATE_STATUS = "python -m aragora.migrations.runner status"
KNOWLEDGE_EXPORT = """curl -X POST http://localhost:8080/api/knowledge/export \\
-H "Authorization: Bearer $ADMIN_TOKEN" \\
-o knowledge_backup.json"""
KNOWLEDGE_IMPORT = """curl -X POST http://localhost:8080/api/knowledge/import \\
-H "Authorization: Bearer $ADMIN_TOKEN" \\
-d @knowledge_backup.json"""
# The metric names the runbook's Prometheus queries use.
PROMETHEUS_QUERIES = {
    "error rate": 'sum(rate(aragora_http_requests_total{status=~"5.."}[5m])) / '
    "sum(rate(aragora_http_requests_total[5m])) * 100",
    "p95 latency": "histogram_quantile(0.95, "
    "sum(rate(aragora_http_request_duration_seconds_bucket[5m])) by (le))",
    "active debates": "aragora_active_debates",
    "memory": 'process_resident_memory_bytes{job="aragora-backend"} / 1024 / 1024 / 1024',
}
COMPONENT_STATES = {"healthy", "degraded", "unhealthy", "disabled"}


def _require_tools() -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if not missing:
        return
    reason = f"the runbook's commands need {', '.join(missing)} on PATH"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (install it on the CI image)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    _require_tools()
    with running_server(tmp_path_factory.mktemp("runbook")) as live:
        yield live


def runbook(server: LiveServer, command: str, cwd: Path | None = None) -> str:
    """Run one runbook command with bash, as an operator would on the host; its stdout."""
    env = dict(server.env)
    # `python` is the Python Aragora is installed in, as on a server's PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ADMIN_TOKEN"] = ADMIN_TOKEN
    done = subprocess.run(
        ["bash", "-c", command.replace(":8080/", f":{server.port}/")],
        env=env,
        cwd=cwd or server.data_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"{command!r} exited {done.returncode}: {done.stderr}"
    return done.stdout


def test_service_health(server: LiveServer) -> None:
    body = json.loads(runbook(server, HEALTH))
    assert body["status"] == "healthy"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", body["version"])
    components = body["components"]
    assert set(components) >= {"database", "redis", "agents"}
    assert components["database"] == "healthy"
    assert components["redis"] in COMPONENT_STATES  # "disabled": no ARAGORA_REDIS_URL here
    assert components["agents"] in COMPONENT_STATES
    assert body["maintenance"] is False


def test_current_latency(server: LiveServer) -> None:
    # As written, curl receives the backslashes and prints the format literally
    # ("Time: %\{time_total\}s" with curl 7.88); the command must still succeed.
    out = runbook(server, LATENCY)
    assert out.startswith("Time: ")
    assert out.endswith("s\n")
    # What the runbook means: the variable expanded, and a fast answer.
    out = runbook(server, LATENCY.replace("\\{", "{").replace("\\}", "}"))
    match = re.fullmatch(r"Time: (\d+\.\d+)s\n", out)
    assert match, out
    assert float(match.group(1)) < 2.0


def test_active_debates_without_a_token_from_localhost(server: LiveServer) -> None:
    out = runbook(server, ACTIVE_DEBATES)
    assert re.fullmatch(r"\d+\n", out), out


def test_prometheus_metrics_named_by_the_queries(server: LiveServer) -> None:
    runbook(server, HEALTH)  # at least one request counted
    status, body = server.get("/metrics")
    assert status == 200
    text = body.decode()
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]

    def sample_names() -> set[str]:
        return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in samples}

    names = sample_names()
    for needed in (
        "aragora_http_requests_total",
        "aragora_http_request_duration_seconds_bucket",
        "aragora_active_debates",
        "process_resident_memory_bytes",
    ):
        assert needed in names, f"{needed} missing from /metrics"
        assert any(needed in query for query in PROMETHEUS_QUERIES.values())
    requests = [line for line in samples if line.startswith("aragora_http_requests_total{")]
    assert any(re.search(r'status="\d{3}"', line) for line in requests), requests
    assert any('le="+Inf"' in line for line in samples if "_duration_seconds_bucket" in line)


def test_database_migration_commands(server: LiveServer) -> None:
    # The server already migrated its embedded database at start: nothing is pending.
    out = runbook(server, MIGRATE)
    assert "is up to date at revision" in out, out
    out = runbook(server, MIGRATE_STATUS)
    assert str(server.data_dir / "aragora.db") in out, out
    assert "pending: none (up to date)" in out, out
    # The running server is unaffected.
    assert server.get("/api/health")[0] == 200


def _finished_debate(server: LiveServer, task: str) -> dict[str, Any]:
    """Run a debate through the HTTP API and wait until its knowledge is stored."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", "/api/v1/debates", body=json.dumps({"task": task}), headers=headers)
        response = conn.getresponse()
        created = json.loads(response.read())
        assert response.status == 202, created
    finally:
        conn.close()
    deadline = time.monotonic() + 30
    while True:
        _, body = server.get(f"/api/v1/debates/{created['id']}", headers)
        document: dict[str, Any] = json.loads(body)
        # The document is stored, with its knowledge items, once the debate is finished.
        if "knowledge_items" in document or time.monotonic() > deadline:
            return document
        time.sleep(0.05)


def test_knowledge_base_backup_and_restore(server: LiveServer, tmp_path: Path) -> None:
    debate = _finished_debate(server, "Should we use Postgres or MySQL for the backup test?")
    assert debate["status"] == "completed", debate
    runbook(server, KNOWLEDGE_EXPORT, cwd=tmp_path)
    backup = json.loads((tmp_path / "knowledge_backup.json").read_text())
    assert "error" not in backup, backup
    assert backup["format"] == "aragora.knowledge"
    assert backup["version"] == 1
    assert backup["count"] == len(backup["items"])
    assert f"dec-{debate['id']}" in [item["id"] for item in backup["items"]]
    for _ in range(2):  # importing the same file twice changes nothing
        out = runbook(server, KNOWLEDGE_IMPORT, cwd=tmp_path)
        assert "error" not in json.loads(out), out
        assert json.loads(out) == {
            "imported": 0,
            "unchanged": backup["count"],
            "count": backup["count"],
        }
    runbook(server, KNOWLEDGE_EXPORT, cwd=tmp_path)
    again = json.loads((tmp_path / "knowledge_backup.json").read_text())
    assert again["count"] == backup["count"]
    assert again["items"] == backup["items"]
