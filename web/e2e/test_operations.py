"""Operator flows in a real browser: a server restarted mid-debate, maintenance mode, the
admin token dialog, tokens, and a knowledge import the server refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .conftest import Watch, watch_page
from .support import ADMIN_TOKEN, VIEWPORTS, HttpStatusError, Server, message_seqs
from .test_debates import SLOW_DEBATE, shown_seqs, wait_for_verdict

STOPPED_SERVER = r"ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|Failed to load resource"
REFUSED = r"Failed to load resource: the server responded with a status of (400|401|403)"


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, to stop and start again."""
    server = Server(tmp_path)
    server.start()
    yield server
    server.stop()
    assert "invariant_violation" not in server.log()


def test_server_restart_mid_debate(browser: Browser, own_server: Server) -> None:
    width, height = VIEWPORTS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    watch = watch_page(page, own_server.url)
    watch.allow(STOPPED_SERVER)
    created = own_server.post("/api/v1/debates", {"task": "Tabs or spaces?", **SLOW_DEBATE})
    page.goto(f"{own_server.url}/debates/{created['id']}")
    expect(page.locator("[data-seq]").nth(1)).to_be_attached(timeout=30_000)
    own_server.stop()
    banner = page.get_by_test_id("connection-banner")
    expect(banner).to_contain_text("Connection lost — reconnecting…")
    own_server.start()
    wait_for_verdict(page)
    expect(banner).to_be_hidden()
    seqs = shown_seqs(page)
    assert len(seqs) == len(set(seqs)), "a message is shown twice"
    assert sorted(seqs) == message_seqs(own_server.events(created["id"]))
    context.close()
    assert watch.problems() == []


def test_a_debate_cancelled_while_queued_shows_it_ended(browser: Browser, tmp_path: Path) -> None:
    """Its log holds no debate_end: the page, open while it waits in the queue, learns of
    the cancel from the unlogged end the stream sends, and says so."""
    server = Server(
        tmp_path, env={"ARAGORA_MAX_CONCURRENT_DEBATES": "1", "ARAGORA_DEMO_DELAY": "5"}
    )
    server.start()
    width, height = VIEWPORTS["desktop"]
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    watch = watch_page(page, server.url)
    try:
        busy = server.post("/api/v1/debates", {"task": "Which queue should we use?"})
        queued = server.post("/api/v1/debates", {"task": "Tabs or spaces?"})
        assert queued["status"] == "queued"
        page.goto(f"{server.url}/debates/{queued['id']}")
        expect(page.get_by_test_id("debate-status")).to_have_text("queued")
        server.post(f"/api/v1/debates/{queued['id']}/cancel", {}, ADMIN_TOKEN)
        expect(page.get_by_test_id("debate-status")).to_have_text("cancelled", timeout=10_000)
        server.post(f"/api/v1/debates/{busy['id']}/cancel", {}, ADMIN_TOKEN)
    finally:
        context.close()
        server.stop()
    assert watch.problems() == []


def test_maintenance_shows_the_message_and_disables_start(
    page_and_watch: tuple[Page, Watch], server: Server
) -> None:
    page, _ = page_and_watch
    message = "Upgrading storage until 14:00 UTC"
    server.post("/api/v1/admin/maintenance", {"enabled": True, "message": message}, ADMIN_TOKEN)
    try:
        page.goto("/")
        page.locator("textarea[name=task]").fill("Will this start?")
        expect(page.get_by_test_id("maintenance-banner")).to_contain_text(message)
        expect(page.get_by_test_id("maintenance-note")).to_contain_text(message)
        expect(page.get_by_test_id("start")).to_be_disabled()
    finally:
        server.post("/api/v1/admin/maintenance", {"enabled": False}, ADMIN_TOKEN)
    expect(page.get_by_test_id("start")).to_be_enabled(timeout=15_000)
    expect(page.get_by_test_id("maintenance-banner")).to_be_hidden()


def test_admin_token_flow(page_and_watch: tuple[Page, Watch], server: Server) -> None:
    page, watch = page_and_watch
    watch.allow(REFUSED)
    page.goto("/admin")
    expect(page.get_by_test_id("stats")).to_have_count(0)
    page.get_by_role("button", name="Enter token").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id("token-input").fill("not-a-real-token")
    dialog.get_by_role("button", name="Use token").click()
    expect(dialog.get_by_test_id("token-error")).to_have_text(
        "The server does not know this token."
    )
    dialog.get_by_test_id("token-input").fill(ADMIN_TOKEN)
    dialog.get_by_role("button", name="Use token").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("stats")).to_contain_text("Completed")
    expect(page.get_by_test_id("health-components")).to_contain_text("database")
    expect(page.get_by_test_id("agents")).to_contain_text("demo")
    # The token is kept for the tab, not beyond.
    assert page.evaluate("sessionStorage.getItem('aragora.token')") == ADMIN_TOKEN
    assert page.evaluate("localStorage.length") == 0

    page.locator("input[name=token-name]").fill("ci-bot")
    page.locator("select[name=token-role]").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_test_id("new-secret").locator("code").inner_text()
    assert secret.startswith("arg_")
    row = page.get_by_test_id("tokens").get_by_role("row", name=re.compile("ci-bot"))
    expect(row).to_contain_text("viewer")
    assert secret not in page.get_by_test_id("tokens").inner_text()

    # A viewer token may read but not administer: the dialog says so.
    page.evaluate(f"sessionStorage.setItem('aragora.token', {json.dumps(secret)})")
    page.reload()
    expect(page.get_by_role("dialog")).to_contain_text("role may not do that")
    page.get_by_role("dialog").get_by_test_id("token-input").fill(ADMIN_TOKEN)
    page.get_by_role("dialog").get_by_role("button", name="Use token").click()
    expect(page.get_by_role("dialog")).to_be_hidden()

    row = page.get_by_test_id("tokens").get_by_role("row", name=re.compile("ci-bot"))
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(row).to_contain_text("revoked")
    with pytest.raises(HttpStatusError) as refused:
        server.request("GET", "/api/v1/debates", token=secret)
    assert refused.value.status == 401


def test_knowledge_import_shows_the_server_error_verbatim(
    page_and_watch: tuple[Page, Watch], server: Server, tmp_path: Path
) -> None:
    page, watch = page_and_watch
    watch.allow(REFUSED)
    bad = {"format": "aragora.knowledge", "version": 1, "items": [{"id": "x"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(HttpStatusError) as refused:
        server.post("/api/v1/knowledge/import", bad, ADMIN_TOKEN)
    expected = refused.value.body["error"]
    page.add_init_script(f"sessionStorage.setItem('aragora.token', {json.dumps(ADMIN_TOKEN)})")
    page.goto("/admin")
    page.get_by_test_id("import-file").set_input_files(str(path))
    expect(page.get_by_test_id("import-error")).to_have_text(expected)
