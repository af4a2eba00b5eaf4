"""Every view at desktop and phone sizes: no console error, no request to another origin,
a screenshot for people to look at (artifacts/screenshots/, git-ignored); the served
headers; and the wire types checked against the running server's OpenAPI document."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Watch, watch_page
from .support import ADMIN_TOKEN, SCREENSHOTS, VIEWPORTS, WEB, Server


def _views(debate: dict[str, Any], eval_run: str) -> list[tuple[str, str, Callable[[Page], None]]]:
    def verdict(page: Page) -> None:
        expect(page.get_by_test_id("receipt-status")).to_have_attribute("data-valid", "true")

    def knowledge_item(page: Page) -> None:
        expect(page.get_by_test_id("links")).to_be_visible()

    return [
        ("home", "/", lambda page: expect(page.get_by_role("checkbox").first).to_be_checked()),
        (
            "history",
            "/debates",
            lambda page: expect(page.get_by_test_id("history")).to_be_visible(),
        ),
        ("debate", f"/debates/{debate['id']}", verdict),
        (
            "knowledge",
            "/knowledge?q=Zanzibar",
            lambda p: expect(p.get_by_test_id("knowledge-results")).to_be_visible(),
        ),
        ("knowledge-item", f"/knowledge/dec-{debate['id']}", knowledge_item),
        (
            "leaderboard",
            "/leaderboard",
            lambda page: expect(page.get_by_test_id("leaderboard")).to_be_visible(),
        ),
        ("evals", "/evals", lambda page: expect(page.get_by_test_id("eval-runs")).to_be_visible()),
        (
            "eval-run",
            f"/evals/{eval_run}",
            lambda page: expect(page.get_by_test_id("accuracy-plot")).to_be_visible(),
        ),
        ("admin", "/admin", lambda page: expect(page.get_by_test_id("tokens")).to_be_visible()),
    ]


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_every_view_is_clean_and_screenshotted(
    browser: Browser,
    server: Server,
    scripted_debate: dict[str, Any],
    eval_run: str,
    viewport: str,
) -> None:
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        base_url=server.url,
        is_mobile=viewport == "phone",
    )
    context.add_init_script(f"sessionStorage.setItem('aragora.token', {json.dumps(ADMIN_TOKEN)})")
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch = watch_page(page, server.url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path, ready in _views(scripted_debate, eval_run):
        page.goto(path)
        ready(page)
        page.wait_for_load_state("networkidle")
        # Nothing wider than the screen: usable at 390 px without sideways scrolling.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}x{height}.png"))
        assert watch.problems() == [], name
    context.close()


def test_unknown_paths(page_and_watch: tuple[Page, Watch], server: Server) -> None:
    page, watch = page_and_watch
    watch.allow(r"status of 404")  # the page itself is served with 404, as it should be
    page.goto("/no/such/page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    for path in ("/api/v1/nope", "/api/nope"):
        request = urllib.request.Request(server.url + path, headers={"Accept": "text/html"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        with answer.value as error:
            assert error.code == 404
            assert json.loads(error.read())["code"] == "not_found"


def test_headers_of_the_app(server: Server) -> None:
    with urllib.request.urlopen(server.url + "/debates/abc", timeout=10) as response:
        html = response.read().decode()
        csp = response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-cache"
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "http" not in csp  # no other origin anywhere in the policy
    asset = html.split('src="', 1)[1].split('"', 1)[0]
    assert asset.startswith("/assets/")
    request = urllib.request.Request(server.url + asset, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] == "gzip"


def test_wire_types_match_the_running_server(server: Server, tmp_path: Path) -> None:
    schema = tmp_path / "openapi.json"
    with urllib.request.urlopen(server.url + "/openapi.json", timeout=10) as response:
        schema.write_bytes(response.read())
    generated = tmp_path / "schema.gen.ts"
    subprocess.run(
        [
            str(WEB / "node_modules" / ".bin" / "openapi-typescript"),
            str(schema),
            "-o",
            str(generated),
        ],
        check=True,
        capture_output=True,
    )
    committed = (WEB / "src" / "api" / "schema.gen.ts").read_text()
    assert generated.read_text() == committed, (
        "web/src/api/schema.gen.ts is out of date with the server's OpenAPI document: "
        "run `npm run gen:api` in web/ against a running server (see README, Web UI)"
    )


def test_dark_theme_follows_the_system(
    browser: Browser, server: Server, scripted_debate: dict[str, Any]
) -> None:
    width, height = VIEWPORTS["desktop"]
    context = browser.new_context(
        viewport={"width": width, "height": height}, base_url=server.url, color_scheme="dark"
    )
    page = context.new_page()
    watch = watch_page(page, server.url)
    page.goto(f"/debates/{scripted_debate['id']}")
    expect(page.get_by_test_id("receipt-status")).to_have_attribute("data-valid", "true")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(19, 20, 23)", background  # --bg of the dark palette
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"debate-dark-{width}x{height}.png"))
    context.close()
    assert watch.problems() == []
