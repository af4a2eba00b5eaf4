"""docs/operations.md, command by command.

Every command that can run on one machine runs here, as written, against a live
`aragora serve` configured as the Kubernetes deployment configures it (PostgreSQL, Redis
with a password, tokens required, no automatic migration, the receipt key from a file):
health, stats, tokens, migrations, maintenance, knowledge export and import, debates
listed and cancelled, pg_dump, a full restore with dropdb/createdb/psql, Redis FLUSHDB.
For `kubectl … exec TARGET -- INNER` the INNER part is what runs in the pod, so INNER runs
here with the pod's environment; only what differs on this machine is replaced (the
port 8080, the PostgreSQL user and database `aragora`, Redis's port, /tmp). The kubectl
commands are checked against the rendered manifests (names, labels, containers, Secret
keys, `--local` runs of set/patch/annotate, the manifest the guide applies), and the
Compose and Docker commands against deploy/compose.yaml and deploy/docker."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aragora.receipts.signing import load_signing_key
from tests.server.live import ADMIN_TOKEN, LiveServer, free_port, running_server
from tests.storage.support import PG_SERVER, pg_database

from .guide import Command, commands
from .support import (
    DEPLOY,
    OPERATIONS,
    ROOT,
    Resource,
    configmap_data,
    container,
    find,
    names,
    pod_spec,
    render,
    require_tool,
)
from .test_compose import compose_file
from .test_kubernetes import check_custom_resource

GUIDE = commands(OPERATIONS.read_text())
PG_PROGRAMS = {"psql", "pg_dump", "dropdb", "createdb"}
REDIS_PASSWORD = "redis-test-password-0123456789abcdef"
CONSENSUS_TASK = "Should we use Postgres or MySQL for the operations guide test?"


def guide_commands(kind: str) -> list[Command]:
    return [c for c in GUIDE if c.kind == kind]


# --- a private Redis with a password, like the deployment's ------------------------------------
@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://:{REDIS_PASSWORD}@127.0.0.1:{self.port}/0"

    def cli(self, *words: str) -> str:
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *words],
            env={**os.environ, "REDISCLI_AUTH": REDIS_PASSWORD},
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    require_tool("redis-server", "apt-get install redis-server")
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--requirepass", REDIS_PASSWORD]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Redis(port, process)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if server.cli("PING") == "PONG":
                    break
            except subprocess.CalledProcessError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- running the guide's commands ------------------------------------------------------------
@dataclass
class Guide:
    """Runs the guide's commands here, recording which ran."""

    cwd: Path
    env: dict[str, str]
    database: str
    pg_user: str
    redis_port: int
    port: int = 0
    ran: set[str] = field(default_factory=set)

    def find(self, start: str) -> Command:
        """The command of the guide that starts with ``start`` (with ``kubectl … --``
        stripped for pod commands): exactly one text must match."""
        runnable = [c for c in GUIDE if c.kind in {"local", "pod"}]
        found = {c.text: c for c in runnable if _body(c) == start}
        if not found:
            found = {c.text: c for c in runnable if _body(c).startswith(start)}
        assert len(found) == 1, (
            f"expected one command starting {start!r} in the guide: {list(found)}"
        )
        return next(iter(found.values()))

    def localised(self, command: Command) -> str:
        script = _body(command)
        if self.port:
            script = script.replace("localhost:8080/", f"localhost:{self.port}/")
        program = shlex.split(script)[0]
        if program in PG_PROGRAMS:
            script = re.sub(r"(-[UO]) aragora\b", rf"\1 {self.pg_user}", script)
            script = re.sub(r"(?<![\w/.-])aragora(?![\w.-])", self.database, script)
        if program == "redis-cli":
            script = script.replace("redis-cli", f"redis-cli -p {self.redis_port}", 1)
        return script.replace("/tmp/", f"{self.cwd}/pod-tmp-")

    def run(self, start: str) -> str:
        """Run one command of the guide here with bash; its stdout."""
        command = self.find(start)
        script = self.localised(command)
        done = subprocess.run(
            ["bash", "-c", script],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (
            f"{command.text!r} (here: {script!r}) exited {done.returncode}: {done.stderr}"
        )
        self.ran.add(command.text)
        return done.stdout


def _body(command: Command) -> str:
    return command.inner if command.kind == "pod" else command.text


def _request(
    server: LiveServer, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _debate(server: LiveServer, until: str, **request: Any) -> dict[str, Any]:
    """Create a debate and wait until its document satisfies ``until``."""
    status, created = _request(server, "POST", "/api/v1/debates", request)
    assert status == 202, created
    deadline = time.monotonic() + 60
    while True:
        _, document = _request(server, "GET", f"/api/v1/debates/{created['id']}")
        if until == "running" and document["status"] == "running":
            return document
        if until == "finished" and "knowledge_items" in document:
            return document
        assert time.monotonic() < deadline, document
        time.sleep(0.05)


def _eventually(check: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"still not so after {seconds} s"
        time.sleep(0.1)


def _live_environment(database_url: str, redis: Redis, key: Path) -> dict[str, str]:
    """The deployment's settings (deploy/k8s/base/configmap.yaml and the Secret), with this
    machine's database, Redis and key file."""
    config = configmap_data(render("default"), "aragora-config")
    overrides = {
        name: value
        for name, value in config.items()
        if name
        not in {
            "ARAGORA_HOST",
            "ARAGORA_PORT",
            "ARAGORA_DATA_DIR",
            "ARAGORA_RECEIPT_SIGNING_KEY_FILE",
        }
    }
    overrides.update(
        ARAGORA_DATABASE_URL=database_url,
        ARAGORA_REDIS_URL=redis.url,
        ARAGORA_RECEIPT_SIGNING_KEY_FILE=str(key),
        ARAGORA_SHUTDOWN_GRACE="2",
        # Served on loopback here, where tokens would be optional: require them as on the
        # network, so that the commands are checked as the deployment answers them.
        ARAGORA_REQUIRE_AUTH="true",
        # A demo answer takes 1 s: a debate is still running a few seconds after it is
        # seen running (when the guide lists and cancels it), yet a test stays short.
        ARAGORA_DEMO_DELAY="1",
    )
    return overrides


def test_the_guide_runs_against_a_live_deployment(redis: Redis, tmp_path: Path) -> None:
    for tool in ("curl", "jq", "psql", "pg_dump", "dropdb", "createdb", "redis-cli", "openssl"):
        require_tool(tool, f"the guide's commands use {tool}")
    pg = urlsplit(PG_SERVER)
    work = tmp_path / "operator"
    (work / "deploy" / "k8s").mkdir(parents=True)
    shutil.copy(DEPLOY / "k8s" / "secrets.env.example", work / "deploy" / "k8s")
    shutil.copy(DEPLOY / ".env.example", work)
    with pg_database("aragora_ops") as database_url:
        database = urlsplit(database_url).path.lstrip("/")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")},
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "NO_PROXY": "localhost,127.0.0.1,::1",
            "no_proxy": "localhost,127.0.0.1,::1",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "PGHOST": pg.hostname or "127.0.0.1",
            "PGPORT": str(pg.port or 5432),
            "REDISCLI_AUTH": REDIS_PASSWORD,
        }
        guide = Guide(work, env, database, pg.username or "postgres", redis.port)

        # --- Install: the Secret's files --------------------------------------------------
        guide.run("cp deploy/k8s/secrets.env.example")
        assert (work / "deploy" / "k8s" / "secrets.env").exists()
        guide.run("cp .env.example .env")
        guide.run("openssl genpkey")
        key = work / "deploy" / "k8s" / "receipt-signing-key.pem"
        assert load_signing_key(key).key_id.startswith("ed25519-")

        # The migration Job's step, on the empty database, with the pod's environment.
        live = _live_environment(database_url, redis, key)
        guide.env.update(live)
        assert "applied" in guide.run("python -m aragora.migrations.runner migrate")
        assert "pending: none (up to date)" in guide.run(
            "python -m aragora.migrations.runner status"
        )

        with running_server(tmp_path / "data", **live) as server:
            guide.port = server.port
            # The pod's environment: the server's settings.
            guide.env.update({k: v for k, v in server.env.items() if k.startswith("ARAGORA_")})
            _run_the_day_to_day_commands(guide, server, redis)
            before = _run_the_backups(guide, server)
        # "kubectl scale … --replicas=0": the server is stopped. Restore into a new,
        # empty database, as the guide does.
        _run_the_restore(guide, before)
        with running_server(tmp_path / "data", **live) as server:
            guide.port = server.port
            health = json.loads(guide.run("curl -s http://localhost:8080/api/health | jq"))
            assert health["status"] == "healthy"
            for debate_id in before["debates"]:
                status, document = _request(server, "GET", f"/api/v1/debates/{debate_id}")
                assert status == 200, document
            guide.run("curl -X POST http://localhost:8080/api/knowledge/export")
            restored = json.loads((work / "knowledge_backup.json").read_text())
            assert restored["items"] == before["knowledge"]["items"]

    # Every command of the guide that can run here did.
    runnable = {c.text for c in GUIDE if c.kind in {"local", "pod"}}
    assert runnable - guide.ran == set()


def _run_the_day_to_day_commands(guide: Guide, server: LiveServer, redis: Redis) -> None:
    # Health checks.
    health = json.loads(guide.run("curl -s http://localhost:8080/api/health | jq"))
    assert health["status"] == "healthy"
    assert health["components"]["database"] == "healthy"
    assert health["components"]["redis"] == "healthy"
    stats = json.loads(guide.run("curl -s http://localhost:8080/api/admin/stats | jq"))
    assert {"active_debates", "queued_debates", "completed_debates"} <= set(stats)
    assert json.loads(guide.run("curl -s http://localhost:8080/readyz"))["status"] == "ready"
    assert re.fullmatch(
        r"\s*\d+\s*",
        guide.run(
            'psql -U aragora aragora -c "SELECT count(*) FROM pg_stat_activity WHERE'
        ).splitlines()[2],
    )
    assert re.search(
        r"\d+ (bytes|kB|MB)", guide.run('psql -U aragora aragora -c "SELECT pg_size_pretty')
    )

    # Prometheus's viewer token reads /metrics.
    created = guide.run("aragora tokens create --role viewer --name prometheus")
    (secret,) = re.findall(r"^secret:\s+(\S+)$", created, re.M)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {secret}"})
    response = conn.getresponse()
    assert response.status == 200
    assert b"aragora_http_requests_total" in response.read()
    conn.close()

    # High API latency.
    assert re.fullmatch(r"Time: \d+\.\d+s\n", guide.run('curl -w "Time: %{time_total}s'))
    assert re.fullmatch(
        r"\d+\n", guide.run("curl -s http://localhost:8080/api/admin/stats | jq '.active_debates'")
    )
    redis.cli("SET", "aragora-test-key", "1")
    assert guide.run("redis-cli FLUSHDB").strip() == "OK"
    assert redis.cli("DBSIZE") == "0"

    # Debates queued and none running; a debate past its timeout, found and cancelled.
    counts = json.loads(
        guide.run("curl -s http://localhost:8080/api/admin/stats | jq '{active_debates")
    )
    assert set(counts) == {"active_debates", "queued_debates"}
    running = _debate(
        server, "running", task="Tabs or spaces, for a long debate?", mode="debate", rounds=3
    )
    listed = guide.run('curl -s "http://localhost:8080/api/v1/debates?status=running"')
    assert running["id"] in listed
    guide.env["DEBATE_ID"] = running["id"]
    assert guide.run(
        'curl -s -X POST "http://localhost:8080/api/v1/debates/$DEBATE_ID/cancel"'
    ).strip() in {
        '"cancelling"',
        '"cancelled"',
    }
    deadline = time.monotonic() + 30
    while _request(server, "GET", f"/api/v1/debates/{running['id']}")[1]["status"] != "cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Database connection exhaustion.
    total = int(
        guide.run(
            'psql -U aragora aragora -c "SELECT count(*) FROM pg_stat_activity;"'
        ).splitlines()[2]
    )
    assert total >= 1
    assert "state" in guide.run('psql -U aragora aragora -c "SELECT query, state, wait_event')
    assert "pg_terminate_backend" in guide.run(
        'psql -U aragora aragora -c "SELECT pg_terminate_backend'
    )

    # Maintenance mode, from the command line and over HTTP.
    assert "enabled" in guide.run("aragora maintenance on --message")
    assert "Planned maintenance until 14:00 UTC" in guide.run("aragora maintenance status")
    # Health caches its checks for a second: the flag shows within one.
    flag = "curl -s http://localhost:8080/api/health | jq '.maintenance'"
    _eventually(lambda: guide.run(flag).strip() == "true")
    refused, _ = _request(
        server, "POST", "/api/v1/debates", {"task": "Refused during maintenance?"}
    )
    assert refused == 503
    assert "disabled" in guide.run("aragora maintenance off")
    _eventually(lambda: guide.run(flag).strip() == "false")
    maintenance = "curl -s -X POST http://localhost:8080/api/admin/maintenance"
    headers = '-H "Authorization: Bearer $ADMIN_TOKEN" -H "Content-Type: application/json"'
    on = json.loads(guide.run(f'{maintenance} {headers} -d \'{{"enabled": true'))
    assert on["enabled"] is True
    assert (
        _request(server, "POST", "/api/v1/debates", {"task": "Refused during maintenance?"})[0]
        == 503
    )
    off = json.loads(guide.run(f'{maintenance} {headers} -d \'{{"enabled": false'))
    assert off["enabled"] is False


def _run_the_backups(guide: Guide, server: LiveServer) -> dict[str, Any]:
    """Knowledge export and import, pg_dump; what the database held at the dump."""
    decided = _debate(server, "finished", task=CONSENSUS_TASK)
    assert decided["status"] == "completed", decided
    guide.run("curl -X POST http://localhost:8080/api/knowledge/export")
    exported = json.loads((guide.cwd / "knowledge_backup.json").read_text())
    assert f"dec-{decided['id']}" in [item["id"] for item in exported["items"]]
    imported = json.loads(guide.run("curl -X POST http://localhost:8080/api/knowledge/import"))
    assert imported == {"imported": 0, "unchanged": exported["count"], "count": exported["count"]}
    guide.run("aragora knowledge export /tmp/knowledge_backup.json")
    from_cli = json.loads((guide.cwd / "pod-tmp-knowledge_backup.json").read_text())
    assert from_cli["items"] == exported["items"]
    guide.run("aragora knowledge import /tmp/knowledge_backup.json")

    _, listed = _request(server, "GET", "/api/v1/debates?limit=100")
    guide.run("pg_dump -U aragora aragora > backup.sql")
    assert "PostgreSQL database dump" in guide.run("head -100 backup.sql")
    return {"debates": [d["id"] for d in listed["debates"]], "knowledge": exported}


def _run_the_restore(guide: Guide, before: dict[str, Any]) -> None:
    guide.run("dropdb -U aragora --force aragora")
    guide.run("createdb -U aragora -O aragora aragora")
    guide.run("psql -U aragora -v ON_ERROR_STOP=1 --single-transaction aragora < backup.sql")
    count = guide.run('psql -U aragora aragora -c "SELECT count(*) FROM debates;"').splitlines()[2]
    assert int(count) == len(before["debates"])
    assert "pending: none (up to date)" in guide.run("python -m aragora.migrations.runner status")


# --- the debug log level ---------------------------------------------------------------------
def _set_env(command: Command) -> dict[str, str | None]:
    """What a `kubectl set env` command of the guide sets (None: removes)."""
    words = command.words
    changes: dict[str, str | None] = {}
    for word in words[words.index("env") + 2 :]:
        if word.endswith("-"):
            changes[word[:-1]] = None
        else:
            name, _, value = word.partition("=")
            changes[name] = value
    return changes


def _log_environment() -> list[dict[str, str]]:
    """The environments the guide's `set env` commands give a backend, in order."""
    env: dict[str, str] = {}
    states = []
    for command in GUIDE:
        if command.kind == "kubectl" and command.words[3:5] == ["set", "env"]:
            for name, value in _set_env(command).items():
                if value is None:
                    env.pop(name, None)
                else:
                    env[name] = value
            states.append(dict(env))
    return states


@pytest.mark.parametrize(
    "env",
    _log_environment(),
    ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()) or "none",
)
def test_the_log_settings_the_guide_sets(tmp_path: Path, env: dict[str, str]) -> None:
    with running_server(tmp_path, ARAGORA_LOG_FORMAT="json", **env) as server:
        for _ in range(3):
            server.get("/api/health")
    records = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    assert records  # at INFO and below, the access lines at least
    level = env.get("ARAGORA_LOG_LEVEL", "INFO")
    debug = [r for r in records if r["level"] == "debug"]
    libraries = [r for r in debug if not r["logger"].startswith("aragora")]
    # Below the level nothing is logged; libraries log debug lines only when named.
    if level != "DEBUG":
        assert debug == []
    elif env.get("ARAGORA_LOG_LIBRARIES"):
        assert libraries
        named = env["ARAGORA_LOG_LIBRARIES"].split(",")
        assert all(any(r["logger"].startswith(n) for n in named) for r in libraries)
    else:
        assert libraries == []


# --- the kubectl commands against the manifests ----------------------------------------------
def _created_by_the_guide(kind: str) -> set[str]:
    """Names the guide's own commands create (Secrets, Jobs from the CronJob, the pod that
    reads the backups)."""
    created = set()
    for command in guide_commands("kubectl"):
        words = command.words
        if kind == "secret" and words[3:6] == ["create", "secret", "generic"]:
            created.add(words[6])
        if kind == "job" and words[3:5] == ["create", "job"]:
            created.add(words[-1])
        if kind == "pod" and "apply -f -" in command.text:
            created.add(
                yaml.safe_load(command.text.split("\n", 1)[1].rsplit("\n", 1)[0])["metadata"][
                    "name"
                ]
            )
    return created


def _check_reference(default: list[Resource], kind: str, name: str, text: str) -> None:
    if kind == "deployment":
        assert name in names(default, "Deployment"), text
    elif kind == "job":
        assert name in names(default, "Job") | _created_by_the_guide("job"), text
    elif kind == "cronjob":
        assert name in names(default, "CronJob"), text
    elif kind == "pod":
        if name == "postgres-0":
            assert find(default, "StatefulSet", "postgres")["spec"]["replicas"] >= 1
        else:
            assert name in _created_by_the_guide("pod") | {"POD_NAME", "$POD"}, text
    elif kind == "secret":
        tls = find(default, "Certificate", "aragora-cert")["spec"]["secretName"]
        assert name in _created_by_the_guide("secret") | {tls}, text
    elif kind in {"certificate", "hpa", "ingress"}:
        kinds = {
            "certificate": "Certificate",
            "hpa": "HorizontalPodAutoscaler",
            "ingress": "Ingress",
        }
        assert name in names(default, kinds[kind]), text
    else:
        raise AssertionError(f"unchecked reference {kind}/{name} in {text!r}")


_REFERENCE = re.compile(
    r"\b(deployment|job|cronjob|pod|secret|certificate|hpa|ingress)"
    r"(?:/| (?:generic )?)([a-z0-9$][\w.-]*)"
)


def test_kubectl_commands_name_what_the_manifests_have() -> None:
    default = render("default")
    for command in [*guide_commands("kubectl"), *guide_commands("pod")]:
        text = command.text.split("\n")[0]
        words = command.words
        if words[1:3] == ["create", "namespace"]:
            assert words[3] == "aragora"
            continue
        if words[1:3] == ["apply", "-k"]:
            assert words[3] in {"deploy/k8s", "deploy/k8s/production", "deploy/k8s/cluster-issuer"}
            continue
        assert words[1] == "-n", text
        assert words[2] in {"aragora", "ingress-nginx"}, text
        for kind, name in _REFERENCE.findall(
            " ".join(words[3:]).replace("postgres-0", "pod/postgres-0")
        ):
            _check_reference(default, kind, name, text)
        if "postgres-0" in text:  # exec without -c runs in the pod's first container
            postgres = pod_spec(find(default, "StatefulSet", "postgres"))
            assert postgres["containers"][0]["name"] == "postgres"
        if "-c wait-for-schema" in text:
            assert container(find(default, "Deployment", "aragora-backend"), "wait-for-schema")
        for label in re.findall(r"-l (app\.kubernetes\.io/component=[\w-]+)", text):
            component = label.split("=")[1]
            labels = [
                r["spec"]["template"]["metadata"]["labels"]
                for r in default
                if r["kind"] in {"Deployment", "StatefulSet"}
            ]
            assert any(pod.get("app.kubernetes.io/component") == component for pod in labels), text


def test_secret_keys_the_guide_reads_exist() -> None:
    default = render("default")
    text = OPERATIONS.read_text()
    example = (DEPLOY / "k8s" / "secrets.env.example").read_text()
    for key in re.findall(r"\{\.data\.([A-Z_]+)\}", text):
        assert re.search(rf"^{key}=", example, re.M), key
    # The key file's name in the Secret is the file the ConfigMap points the app at.
    (from_file,) = re.findall(r"aragora-receipt-key --from-file=(\S+)", text)
    key_file = configmap_data(default, "aragora-config")["ARAGORA_RECEIPT_SIGNING_KEY_FILE"]
    assert Path(from_file).name == Path(key_file).name
    assert re.findall(r"\{\.data\.(receipt-signing-key\\\.pem)\}", text) == [
        r"receipt-signing-key\.pem"
    ]
    # Prometheus's token Secret has the key the ServiceMonitor reads.
    (literal,) = re.findall(r"aragora-metrics-token --from-literal=(\w+)=", text)
    monitor = find(default, "ServiceMonitor", "aragora-backend")
    assert monitor["spec"]["endpoints"][0]["authorization"]["credentials"]["key"] == literal


def _local_kubectl(command: Command, resource: Resource, tmp_path: Path) -> Resource:
    kubectl = require_tool("kubectl", "the guide's commands are kubectl commands")
    manifest = tmp_path / "resource.yaml"
    manifest.write_text(yaml.safe_dump(resource))
    words = command.words
    target = next(w for w in words[3:] if "/" in w or w in {"hpa", "certificate"})
    i = words.index(target)
    width = 2 if target in {"hpa", "certificate"} else 1
    words[i : i + width] = ["--local", "-f", str(manifest), "-o", "yaml"]
    done = subprocess.run(
        [kubectl, *words[1:]], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command.text!r}: {done.stderr}"
    changed: Resource = yaml.safe_load(done.stdout)
    return changed


def test_set_patch_and_annotate_commands_work_on_the_manifests(tmp_path: Path) -> None:
    default = render("default")
    # The guide's `set` commands, one after the other, on the same Deployment.
    backend_deployment = find(default, "Deployment", "aragora-backend")
    checked = 0
    for command in guide_commands("kubectl"):
        verb = command.words[3:5]
        if verb[0] == "patch":
            hpa = find(default, "HorizontalPodAutoscaler", "aragora-backend")
            assert _local_kubectl(command, hpa, tmp_path)["spec"]["minReplicas"] == 5
        elif verb in (["set", "resources"], ["set", "env"]):
            backend_deployment = _local_kubectl(command, backend_deployment, tmp_path)
            backend = container(backend_deployment, "backend")
            if verb[1] == "resources":
                assert backend["resources"] == {
                    "limits": {"cpu": "2", "memory": "4Gi"},
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                }
            for name, value in _set_env(command).items() if verb[1] == "env" else ():
                if value is None:
                    assert name not in {e["name"] for e in backend["env"]}
                else:
                    assert {"name": name, "value": value} in backend["env"]
        elif verb[0] == "annotate":
            certificate = find(default, "Certificate", "aragora-cert")
            check_custom_resource(_local_kubectl(command, certificate, tmp_path))
        else:
            continue
        checked += 1
    assert checked == 7


def test_the_manifest_the_guide_applies_is_valid() -> None:
    import kubernetes_validate

    (command,) = [c for c in guide_commands("kubectl") if "apply -f -" in c.text]
    manifest = yaml.safe_load(command.text.split("\n", 1)[1].rsplit("\n", 1)[0])
    for version in ("1.28.0", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(manifest, version, strict=True)
    assert manifest["metadata"]["namespace"] == "aragora"
    # It may start in the namespace, whose pods must meet the restricted standard.
    spec = manifest["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (reader,) = spec["containers"]
    assert reader["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    (volume,) = spec["volumes"]
    assert find(
        render("default"), "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
    )
    # The image is the one the backups are made with.
    cron = find(render("default"), "CronJob", "aragora-db-backup")
    assert reader["image"] == container(cron, "pg-dump")["image"]


# --- Compose and Docker ----------------------------------------------------------------------
def test_compose_commands_name_its_services() -> None:
    services = set(compose_file()["services"])
    commands_ = guide_commands("compose")
    assert commands_
    for command in commands_:
        words = command.words[2:]
        subcommand = words[0]
        rest = [w for w in words[1:] if not w.startswith("-")]
        if subcommand in {"exec", "logs", "restart"}:
            assert rest[0] in services, command.text
        if "--scale" in words:
            assert words[words.index("--scale") + 1].split("=")[0] in services
        if subcommand == "exec" and rest[0] == "postgres":
            env = compose_file()["services"]["postgres"]["environment"]
            inner = words[words.index("postgres") + 1 :]
            assert inner == ["pg_dump", "-U", env["POSTGRES_USER"], env["POSTGRES_DB"]]


def test_docker_commands_build_what_deploy_has() -> None:
    tags = set()
    for command in guide_commands("docker"):
        words = command.words
        if words[1] == "build":
            dockerfile = ROOT / words[words.index("-f") + 1]
            assert dockerfile.is_file(), dockerfile
            assert words[-1] == "."  # the repository root is the context
            tags.add(words[words.index("-t") + 1])
        else:
            assert words[1] == "push"
            assert words[2] in tags
    assert {t.rsplit("/", 1)[-1].split(":")[0] for t in tags} == {
        "aragora-backend",
        "aragora-frontend",
    }
    (shell,) = guide_commands("shell")
    assert shell.text == "cd deploy"
    assert (ROOT / "deploy" / "compose.yaml").is_file()
