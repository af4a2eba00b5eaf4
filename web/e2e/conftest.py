"""Fixtures for the UI's end-to-end tests (see support.py): one shared server with demo
agents and a scripted OpenAI-compatible agent, one Chromium, and a page per test that
fails the test on any console error or any request that leaves the server's origin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Dialog, Page, Playwright, sync_playwright

from .support import (
    CHROMIUM_ARGS,
    VIEWPORTS,
    Server,
    ThreadedProvider,
    chromium_path,
    ensure_build,
    run_eval,
)

# What the scripted agent answers: an XSS attempt in its reasoning, in Markdown and HTML.
XSS_REPLY = (
    "ANSWER: Paris\nCONFIDENCE: 0.9\nREASONING: Clearly <img src=x onerror=alert(1)> "
    "and see [the source](javascript:alert(document.domain)) or "
    '<a href="javascript:alert(2)">this</a>.'
)


@pytest.fixture(scope="session")
def provider() -> Iterator[ThreadedProvider]:
    with ThreadedProvider(XSS_REPLY) as fake:
        yield fake


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: ThreadedProvider
) -> Iterator[Server]:
    ensure_build()
    endpoint = provider.base_url.removesuffix("/v1")
    running = Server(tmp_path_factory.mktemp("aragora"), env={"ARAGORA_AGENT_ENDPOINTS": endpoint})
    running.start()
    try:
        yield running
    finally:
        running.stop()
    assert "invariant_violation" not in (running.log_path or Path()).read_text()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(chromium_path()), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@dataclass
class Watch:
    """What a page did that it must not: console errors, uncaught exceptions, dialogs
    (an `alert` from injected script), requests to another origin."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Console errors matching ``pattern`` are expected in this test (a refused
        token's 401, a WebSocket to a stopped server)."""
        self.allowed.append(re.compile(pattern))

    def problems(self) -> list[str]:
        errors = [e for e in self.console_errors if not any(p.search(e) for p in self.allowed)]
        return (
            [f"console: {e}" for e in errors]
            + [f"foreign request: {r}" for r in self.foreign_requests]
            + [f"dialog: {d}" for d in self.dialogs]
        )


def watch_page(page: Page, origin: str) -> Watch:
    watch = Watch(origin)

    def on_request(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if f"{parts.hostname}:{parts.port}" != urlsplit(origin).netloc:
            watch.foreign_requests.append(url)

    page.on(
        "console",
        lambda m: watch.console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: watch.console_errors.append(f"uncaught: {e}"))
    page.on("request", lambda r: on_request(r.url))
    page.on("websocket", lambda ws: on_request(ws.url))

    def on_dialog(dialog: Dialog) -> None:
        # The app asks before revoking a token (confirm); an alert can only come from
        # injected script.
        if dialog.type == "confirm":
            dialog.accept()
            return
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return watch


@pytest.fixture
def page_and_watch(browser: Browser, server: Server) -> Iterator[tuple[Page, Watch]]:
    width, height = VIEWPORTS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.url)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watched = watch_page(page, server.url)
    yield page, watched
    context.close()
    assert watched.problems() == []


@pytest.fixture
def page(page_and_watch: tuple[Page, Watch]) -> Page:
    return page_and_watch[0]


@pytest.fixture(scope="session")
def scripted_debate(server: Server, provider: ThreadedProvider) -> dict[str, object]:
    """A finished debate whose three agents (real HTTP, OpenAI wire) all answer with the
    XSS attempt in XSS_REPLY; it reaches consensus, so it is also in the knowledge base."""
    agents = [f"openai-compatible:fake-model@{provider.base_url}#scripted-{n}" for n in "abc"]
    created = server.post(
        "/api/v1/debates",
        {"task": "Which city hosts the Zanzibar summit?", "agents": agents, "mode": "vote"},
    )
    doc: dict[str, object] = server.wait_finished(created["id"])
    assert doc["consensus_reached"] is True, doc
    return doc


SIM_EVAL = ("--suite", "arith", "--agents", "sim:0.7,sim:0.7,sim:0.7")
SIM_EVAL += ("--modes", "single,vote,debate", "--n", "20")


@pytest.fixture(scope="session")
def eval_run(server: Server) -> str:
    """A finished evaluation run with simulated agents, in the server's data directory."""
    run_eval(server, "arith-sim", *SIM_EVAL)
    return "arith-sim"
