"""The frontend's nginx configuration (deploy/docker/nginx.conf), run for real with
Debian's nginx in front of a live `aragora serve`: the app's files from its root, the API
and every other path proxied to the backend, the WebSocket upgraded and streamed, the
metrics kept off the public side, large bodies let through.

The configuration is the shipped file with only the addresses and paths of this machine
put in: the backend's port instead of aragora-backend:8080, a loopback port to listen on,
a scratch directory instead of /tmp and of the image's web root."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.server.live import ADMIN_TOKEN, LiveServer, free_port, running_server

from .support import DOCKER, require_tool

NGINX_CONF = DOCKER / "nginx.conf"
INDEX = "<!doctype html><title>Aragora</title><script src=/assets/app-3f2a.js></script>\n"


@dataclass(frozen=True)
class Frontend:
    port: int
    backend: LiveServer
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()


def localised_config(backend_port: int, port: int, scratch: Path) -> str:
    """nginx.conf with this machine's addresses and paths; fails if the shipped file no
    longer has the lines it replaces."""
    text = NGINX_CONF.read_text()
    replacements = [  # in this order: the scratch directory may itself be under /tmp
        ("/tmp/", f"{scratch}/"),
        ("server aragora-backend:8080;", f"server 127.0.0.1:{backend_port};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("root /usr/share/aragora/web;", f"root {scratch / 'web'};"),
    ]
    for old, new in replacements:
        assert old in text, f"nginx.conf no longer contains {old!r}"
        text = text.replace(old, new)
    if os.geteuid() == 0:
        # nginx started as root hands requests to workers running as nobody, who could
        # not read a private scratch directory: keep them as the test's user.
        text = "user root;\n" + text
    return text


@pytest.fixture(scope="module")
def frontend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Frontend]:
    nginx = require_tool("nginx", "scripts/test installs the Debian package nginx")
    scratch = tmp_path_factory.mktemp("frontend")
    web = scratch / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text(INDEX)
    (web / "assets" / "app-3f2a.js").write_text("console.log('aragora')\n")
    with running_server(scratch / "backend") as backend:
        port = free_port()
        conf = scratch / "nginx.conf"
        conf.write_text(localised_config(backend.port, port, scratch))
        log = scratch / "nginx.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [nginx, "-e", "stderr", "-p", str(scratch), "-c", str(conf), "-g", "daemon off;"],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            front = Frontend(port, backend, log)
            _wait_until_up(front, process)
            yield front
        finally:
            process.send_signal(signal.SIGQUIT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(front: Frontend, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx exited {process.returncode}:\n{front.log.read_text()}")
        try:
            if front.request("GET", "/nginx-healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"nginx did not answer:\n{front.log.read_text()}")


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}


def test_nginx_answers_its_own_probe(frontend: Frontend) -> None:
    status, _, body = frontend.request("GET", "/nginx-healthz")
    assert (status, body) == (200, b"ok\n")


def test_api_is_proxied_with_the_request_id(frontend: Frontend) -> None:
    status, headers, body = frontend.request(
        "GET", "/api/health", headers={"X-Request-ID": "deploy-test-0001"}
    )
    assert status == 200
    assert json.loads(body)["status"] == "healthy"
    assert headers["x-request-id"] == "deploy-test-0001"
    # Without one, nginx's own id reaches the backend (and comes back).
    _, headers, _ = frontend.request("GET", "/api/health")
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])


def test_metrics_stay_off_the_public_side(frontend: Frontend) -> None:
    assert frontend.request("GET", "/metrics")[0] == 404
    assert frontend.backend.get("/metrics")[0] == 200  # the backend still serves them


def test_the_app_is_served_from_its_files(frontend: Frontend) -> None:
    status, headers, body = frontend.request("GET", "/")
    assert (status, body.decode()) == (200, INDEX)
    assert headers["cache-control"] == "no-cache"
    status, headers, _ = frontend.request("GET", "/assets/app-3f2a.js")
    assert status == 200
    assert "immutable" in headers["cache-control"]
    assert "x-request-id" not in headers  # nginx's, not the backend's


def test_other_paths_are_the_backends(frontend: Frontend) -> None:
    # A client-side route of the app, the OpenAPI document, the signing key: not files.
    for path in ("/debates/some-id", "/openapi.json", "/.well-known/aragora-odr-signing-key"):
        status, headers, _ = frontend.request("GET", path)
        assert "x-request-id" in headers, path  # answered by the backend
        assert status == frontend.backend.get(path)[0], path


def test_large_bodies_reach_the_backend(frontend: Frontend) -> None:
    # Knowledge imports may be far larger than nginx's default 1 MiB: the backend, not
    # nginx, judges them (here: not a knowledge document, so 400, never 413).
    body = b'{"format": "aragora.knowledge", "version": 1, "items": "' + b"x" * 3_000_000 + b'"}'
    status, headers, answer = frontend.request("POST", "/api/knowledge/import", body, _auth())
    assert status == 400, answer[:300]
    assert "x-request-id" in headers


def test_websocket_streams_a_debate_through_nginx(frontend: Frontend) -> None:
    status, _, body = frontend.request(
        "POST",
        "/api/v1/debates",
        json.dumps({"task": "Should the frontend proxy WebSockets?"}).encode(),
        _auth(),
    )
    assert status == 202, body
    debate_id = json.loads(body)["id"]
    url = f"ws://127.0.0.1:{frontend.port}/ws?debate_id={debate_id}&token={ADMIN_TOKEN}"
    frames: list[dict[str, Any]] = []
    with connect(url, open_timeout=10) as ws:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = json.loads(ws.recv(timeout=30))
            frames.append(frame)
            if frame["type"] == "debate_end":
                break
    types = [f["type"] for f in frames]
    assert types[-1] == "debate_end", types
    assert "debate_start" in types
    seqs = [f["seq"] for f in frames if f.get("seq") is not None]
    assert seqs == sorted(seqs)


def test_websocket_timeouts_outlast_the_server_ping() -> None:
    text = NGINX_CONF.read_text()
    ws = text[text.index("location = /ws {") :]
    ws = ws[: ws.index("}")]
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        (value,) = re.findall(rf"{directive} (\d+)s;", ws)
        assert int(value) > 60  # the runbook: above 60 s; the server pings every 20 s
    # The upgrade headers apply to every proxied location.
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
