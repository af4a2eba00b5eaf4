"""The web UI's static files: client routes, cache headers, CSP, and the API's own 404s
and 405s left as they were."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aragora.server import web
from aragora.server.errors import install_error_handlers
from aragora.settings import Settings

from .support import client_for, running_app

INDEX = b'<!doctype html><html><head><script type="module" src="/assets/app-3f9a.js"></script>'
SCRIPT = b"console.log('aragora');\n" * 50
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A small stand-in for ``web/dist``: index, one hashed script with its gzip twin, a
    top-level icon, and a file outside the build that must never be reachable."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "app-3f9a.js").write_bytes(SCRIPT)
    (root / "assets" / "app-3f9a.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "assets" / "app-3f9a.css").write_bytes(b"body{}")
    (root / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_bytes(b"not for the web")
    return root


def _app(root: Path | None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/v1/things")
    async def things() -> dict[str, list[str]]:
        return {"things": []}

    web.mount(app, root=root)
    return app


@pytest.fixture
async def client(build: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(_app(build)) as client:
        yield client


def _is_app_page(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status
    assert response.content == INDEX
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == web.PAGE_CACHE
    assert response.headers["content-security-policy"] == web.APP_CSP


def _is_json_404(response: httpx.Response) -> None:
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/index.html",
        "/debates",
        "/debates/",
        "/debates/8f1c-unknown",
        "/knowledge",
        "/knowledge/dec-1",
        "/knowledge/dec-1/deeper/still",
        "/leaderboard",
        "/evals",
        "/evals/arith-seed0-1a2b3c4d",
        "/admin",
        "/admin/tokens",
    ],
)
async def test_client_routes_get_the_app_uncached(client: httpx.AsyncClient, path: str) -> None:
    _is_app_page(await client.get(path))
    _is_app_page(await client.get(path, headers=HTML))


async def test_hashed_assets_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/app-3f9a.js", headers={"accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.content == SCRIPT
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-security-policy"] == web.APP_CSP
    assert "content-encoding" not in response.headers
    css = await client.get("/assets/app-3f9a.css")
    assert css.headers["content-type"] == "text/css; charset=utf-8"


async def test_gzip_twin_is_sent_to_clients_that_accept_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/app-3f9a.js", headers={"accept-encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.content == SCRIPT  # httpx decodes it
    assert int(response.headers["content-length"]) < len(SCRIPT)


async def test_top_level_files_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "public, max-age=3600"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing-0000.js",
        "/assets/../secret.txt",
        "/assets/%2e%2e/secret.txt",
        "/assets/..%2fsecret.txt",
        "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/assets",
        "/assets/",
        "/secret.txt",
        "/..%2fsecret.txt",
    ],
)
async def test_nothing_outside_the_build_and_no_missing_asset(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert b"not for the web" not in response.content
    _is_json_404(response)


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/nope", "/api/v2/receipts/x/y", "/ws/x", "/v1/nope", "/mcp/x"]
)
async def test_unknown_api_paths_keep_their_json_404(client: httpx.AsyncClient, path: str) -> None:
    _is_json_404(await client.get(path, headers=HTML))
    _is_json_404(await client.post(path, json={}))


async def test_api_routes_are_not_shadowed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/things")).json() == {"things": []}
    response = await client.delete("/api/v1/things")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_unknown_page_is_the_app_with_404_for_browsers_only(
    client: httpx.AsyncClient,
) -> None:
    _is_app_page(await client.get("/no-such-page", headers=HTML), status=404)
    _is_json_404(await client.get("/no-such-page"))


async def test_pages_take_no_writes(client: httpx.AsyncClient) -> None:
    _is_json_404(await client.post("/debates", json={"task": "x"}))


async def test_routes_added_after_the_ui_still_win(build: Path) -> None:
    app = _app(build)

    @app.get("/later/{name}")
    async def later(name: str) -> dict[str, str]:
        return {"name": name}

    async with client_for(app) as client:
        assert (await client.get("/later/x", headers=HTML)).json() == {"name": "x"}
        _is_app_page(await client.get("/debates/later", headers=HTML))


async def test_head_gives_headers_without_a_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/debates")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(INDEX))
    asset = await client.head("/assets/app-3f9a.js", headers={"accept-encoding": "identity"})
    assert asset.headers["content-length"] == str(len(SCRIPT))


async def test_a_rebuild_is_served_without_a_restart(
    client: httpx.AsyncClient, build: Path
) -> None:
    assert (await client.get("/")).content == INDEX
    (build / "index.html").write_bytes(b"<!doctype html><p>new release</p>")
    assert (await client.get("/")).content == b"<!doctype html><p>new release</p>"


async def test_without_a_build_the_pages_say_how_to_build_it(tmp_path: Path) -> None:
    async with client_for(_app(tmp_path / "nowhere")) as client:
        response = await client.get("/debates")
        assert response.status_code == 200
        assert b"npm ci" in response.content
        assert response.headers["content-security-policy"] == web.APP_CSP
        _is_json_404(await client.get("/assets/app-3f9a.js"))


async def test_the_real_app_serves_the_ui_and_keeps_api_404s(settings: Settings) -> None:
    async with running_app(settings) as (_, client):
        page = await client.get("/debates/abc", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == web.APP_CSP
        assert page.headers["cache-control"] == web.PAGE_CACHE
        assert page.headers["x-frame-options"] == "DENY"
        _is_json_404(await client.get("/api/v1/nope", headers=HTML))
        health = await client.get("/api/health")
        assert health.headers["content-security-policy"] != web.APP_CSP
