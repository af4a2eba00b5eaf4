"""Past evaluation runs over HTTP: ``GET /api/v1/evals`` and ``GET /api/v1/evals/{name}``
read the run directories ``aragora eval`` writes, summarise them with the eval package's
own code, and never let a broken directory or a hostile name through."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI

from aragora.eval.harness import PLOT, REPORT_JSON, REPORT_MD, evaluate
from aragora.eval.progress import Silent
from aragora.eval.runner import EvalConfig
from aragora.eval.store import RESULTS, SETTINGS
from aragora.server.routes.evals import EvalRunBody, EvalRunList
from aragora.settings import Settings

from ..storage.support import migrate_async, pg_database
from .support import make_settings, running_app
from .test_auth import assert_401, bearer, make_tokens

SIM = ("sim:0.7", "sim:0.7", "sim:0.7")
CONFIG = EvalConfig(suite="arith", agents=SIM, modes=("single", "sc", "vote", "debate"), n=12)


async def run_eval(settings: Settings, name: str, config: EvalConfig = CONFIG) -> dict[str, Any]:
    """A real run (simulated agents, in memory) into ``ARAGORA_DATA_DIR/evals/<name>``."""
    out = settings.data_dir / "evals" / name
    summary: dict[str, Any] = await evaluate(config, settings, out, progress=Silent())
    return summary


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on a fresh database of each kind (the runs are files either way)."""
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    with pg_database("aragora_server_evals") as url:
        await migrate_async(url)
        yield make_settings(tmp_path, ARAGORA_DATABASE_URL=url)


async def test_a_finished_run_reads_as_the_cli_printed_it(backend: Settings) -> None:
    printed = await run_eval(backend, "arith-sim")
    async with running_app(backend) as (_, client):
        listed = await client.get("/api/v1/evals")
        assert listed.status_code == 200, listed.text
        body = EvalRunList.model_validate(listed.json()).model_dump(mode="json")
        assert body["total"] == 1
        (run,) = body["runs"]
        assert run["name"] == "arith-sim"
        assert run["status"] == "complete"
        assert run["reason"] is None
        assert run["simulated"] is True
        assert run["questions"] == 12
        assert run["summary"] == printed  # the same document as `aragora eval --json`
        assert run["settings"] == {**CONFIG.identity(), "sc_samples": 3}

        one = await client.get("/api/v1/evals/arith-sim")
        assert one.status_code == 200, one.text
        assert EvalRunBody.model_validate(one.json()).model_dump(mode="json") == run
        assert one.json() == (await client.get("/api/evals/arith-sim")).json()  # the alias
    stored = json.loads((backend.data_dir / "evals" / "arith-sim" / REPORT_JSON).read_text())
    assert run["summary"] == stored


async def test_an_interrupted_run_is_partial_and_summarised_as_far_as_it_got(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    config = EvalConfig(suite="arith", agents=SIM, modes=("single", "vote"), n=10)
    printed = await run_eval(settings, "cut", config)
    directory = settings.data_dir / "evals" / "cut"
    for written in (REPORT_JSON, REPORT_MD, PLOT):
        (directory / written).unlink()
    lines = (directory / RESULTS).read_text().splitlines()
    kept = lines[:7]
    # ... and the last line cut off mid-write, as a killed run leaves it.
    (directory / RESULTS).write_text("\n".join(kept) + "\n" + lines[7][:25])
    per_mode = {m: sum(1 for line in kept if json.loads(line)["mode"] == m) for m in config.modes}
    right = {
        m: sum(1 for line in kept if json.loads(line)["mode"] == m and json.loads(line)["correct"])
        for m in config.modes
    }
    async with running_app(settings) as (_, client):
        run = (await client.get("/api/v1/evals/cut")).json()
        # The run goes on (resumed): the next read sees the rest, finished.
        (directory / RESULTS).write_text("\n".join(lines) + "\n")
        resumed = (await client.get("/api/v1/evals/cut")).json()
    assert resumed["status"] == "complete"
    assert resumed["summary"] == printed
    EvalRunBody.model_validate(run)
    assert run["status"] == "partial"
    assert run["questions"] == 10
    for mode in config.modes:
        row = run["summary"]["modes"][mode]
        assert row["n_scored"] == per_mode[mode]
        assert row["correct"] == right[mode]
        if per_mode[mode]:
            assert row["accuracy"] == round(right[mode] / per_mode[mode], 4)
            assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]


async def test_a_broken_directory_is_listed_as_unreadable_with_its_reason(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await run_eval(settings, "good", EvalConfig(suite="arith", agents=SIM, modes=("vote",), n=5))
    base = settings.data_dir / "evals"
    (base / "empty").mkdir()
    (base / "not-json").mkdir()
    (base / "not-json" / SETTINGS).write_text("{ this is not json")
    (base / "wrong-types").mkdir()
    (base / "wrong-types" / SETTINGS).write_text(
        json.dumps({"suite": "arith", "agents": "sim:0.7", "modes": ["vote"], "seed": 0})
    )
    (base / "unknown-mode").mkdir()
    (base / "unknown-mode" / SETTINGS).write_text(
        json.dumps({"suite": "arith", "agents": ["sim:0.7"], "modes": ["chat"], "seed": 0})
    )
    (base / "lost-suite").mkdir()
    (base / "lost-suite" / SETTINGS).write_text(
        json.dumps({**CONFIG.identity(), "suite": str(tmp_path / "gone.jsonl")})
    )
    (base / "binary-results").mkdir()
    (base / "binary-results" / SETTINGS).write_text(json.dumps(CONFIG.identity()))
    (base / "binary-results" / RESULTS).write_bytes(b"\xff\xfe\x00garbage\n")
    (base / ".hidden").mkdir()  # not a run: never listed
    (base / "stray-file.txt").write_text("not a directory")

    async with running_app(settings) as (_, client):
        listed = await client.get("/api/v1/evals")
        assert listed.status_code == 200, listed.text
        body = EvalRunList.model_validate(listed.json()).model_dump(mode="json")
        runs = {r["name"]: r for r in body["runs"]}
        assert body["total"] == len(runs) == 7
        assert runs["good"]["status"] == "complete"
        reasons = {name: r["reason"] for name, r in runs.items() if name != "good"}
        assert all(runs[name]["status"] == "unreadable" for name in reasons)
        assert all(runs[name]["summary"] is None for name in reasons)
        assert reasons["empty"] == "no run.json: not an evaluation run"
        assert reasons["not-json"].startswith("run.json cannot be read:")
        assert reasons["wrong-types"] == "run.json: 'agents' must be a list of strings"
        assert reasons["unknown-mode"].startswith("run.json: unknown mode(s) chat")
        assert reasons["lost-suite"].startswith("its suite cannot be loaded here: unknown suite")
        assert runs["lost-suite"]["settings"]["suite"] == str(tmp_path / "gone.jsonl")
        assert reasons["binary-results"].startswith("results.jsonl cannot be read:")

        one = await client.get("/api/v1/evals/not-json")
        assert one.status_code == 200
        assert one.json() == runs["not-json"]


async def test_newest_first_in_pages(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    config = EvalConfig(suite="arith", agents=("sim:0.9",), modes=("single",), n=3)
    for age, name in enumerate(["newest", "middle", "oldest"]):
        await run_eval(settings, name, config)
        stamp = 1_700_000_000 - age * 3600
        directory = settings.data_dir / "evals" / name
        for path in (*directory.iterdir(), directory):
            os.utime(path, (stamp, stamp))
    async with running_app(settings) as (_, client):
        names = [r["name"] for r in (await client.get("/api/v1/evals")).json()["runs"]]
        assert names == ["newest", "middle", "oldest"]
        page = (await client.get("/api/v1/evals", params={"limit": 1, "offset": 1})).json()
        assert [r["name"] for r in page["runs"]] == ["middle"]
        assert page["total"] == 3
        assert page["runs"][0]["updated_at"] == "2023-11-14T21:13:20+00:00"
        for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
            assert (await client.get("/api/v1/evals", params=bad)).status_code == 422


async def test_no_runs_yet_is_an_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/evals")
    assert response.status_code == 200
    assert response.json() == {"runs": [], "total": 0}


async def raw_get(app: FastAPI, target: str) -> tuple[int, dict[str, Any]]:
    """GET ``target`` exactly as a client may send it: httpx resolves ``..`` and encoded
    dots before sending, a hostile client (or curl --path-as-is) does not. The scope is what
    uvicorn makes of it: the path percent-decoded, dot segments left alone."""
    raw, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw),
        "raw_path": raw.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"aragora.test")],
        "client": ("127.0.0.1", 40000),
        "server": ("aragora.test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


async def _error(app: FastAPI, target: str, status: int) -> dict[str, Any]:
    got, body = await raw_get(app, target)
    assert got == status, (target, body)
    assert set(body) >= {"error", "code", "trace_id"}, body
    return body


async def test_hostile_names_are_refused_and_nothing_outside_is_read(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    settings = make_settings(tmp_path / "data")
    # A valid run just outside the runs' directory, and one outside the data directory:
    # no name may reach either.
    for outside in (settings.data_dir, tmp_path):
        await run_eval(
            settings, "placeholder", EvalConfig(suite="arith", agents=SIM, modes=("vote",), n=3)
        )
        (settings.data_dir / "evals" / "placeholder").rename(outside / "escaped")
    (settings.data_dir / "evals" / "a\\b").mkdir()  # a name no route can address
    async with running_app(settings) as (app, client):
        for raw in ("..", "%2E%2E", ".", "%2e", ".hidden", "a%5Cb", "a\\b", "tab%09name", "%7F"):
            body = await _error(app, f"/api/v1/evals/{raw}", 400)
            assert body["code"] == "invalid_input", (raw, body)
        await _error(app, "/api/v1/evals/a%00b", 400)  # NUL: refused before routing
        # A separator, encoded or not, is not part of a name: the route is not reached.
        for raw in ("..%2Fescaped", "%2E%2E%2F%2E%2E%2Fescaped", "../escaped", "../../escaped"):
            await _error(app, f"/api/v1/evals/{raw}", 404)
        for missing in ("escaped", "no-such-run"):
            assert (await _error(app, f"/api/v1/evals/{missing}", 404))["code"] == "not_found"
        await _error(app, "/api/v1/evals/" + "x" * 201, 422)
        await _error(app, "/api/v1/evals/" + "x" * 200, 404)
        listed = (await client.get("/api/v1/evals")).json()["runs"]
        assert [(r["name"], r["status"]) for r in listed] == [("a\\b", "unreadable")]
        assert listed[0]["reason"] == "a run name must not contain '/' or '\\'"
        # The client a browser is: what it sends for a name it was given is refused too.
        assert (await client.get("/api/v1/evals/a%5Cb")).status_code == 400


@pytest.mark.parametrize("require_auth", ["true", "false"])
async def test_read_access_like_every_other_read(tmp_path: Path, require_auth: str) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH=require_auth)
    await run_eval(settings, "r", EvalConfig(suite="arith", agents=SIM, modes=("vote",), n=3))
    app: FastAPI
    async with running_app(settings) as (app, client):
        tokens = await make_tokens(app)
        for path in ("/api/v1/evals", "/api/v1/evals/r", "/api/evals"):
            assert_401(await client.get(path, headers=bearer("wrong")))
            anonymous = await client.get(path)
            if require_auth == "true":
                assert_401(anonymous)
            else:
                assert anonymous.status_code == 200
            viewer = await client.get(path, headers=bearer(tokens["viewer"]))
            assert viewer.status_code == 200, viewer.text


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    listed = spec["paths"]["/api/v1/evals"]["get"]
    one = spec["paths"]["/api/v1/evals/{name}"]["get"]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EvalRunList"
    }
    assert {"400", "404"} <= set(one["responses"])
    assert "/api/evals" not in spec["paths"]
    mode = spec["components"]["schemas"]["EvalModeSummary"]["properties"]
    assert {"accuracy", "ci_low", "ci_high", "tokens_mean", "cost_usd_mean"} <= set(mode)
    assert {"calls_mean", "wall_mean_s", "n_scored"} <= set(mode)
