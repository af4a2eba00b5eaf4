"""The debate flow in a real browser: start from the form (keyboard only), watch it to
the verdict, reload mid-debate, and agent text that tries to inject script."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Page, expect

from .support import Server, ThreadedProvider, message_seqs

SLOW_DEBATE = {"mode": "debate", "rounds": 3, "protocol": {"early_stop": False}}


def shown_seqs(page: Page) -> list[int]:
    seqs: list[int] = page.eval_on_selector_all(
        "[data-seq]", "els => els.map(e => Number(e.dataset.seq))"
    )
    return seqs


def wait_for_verdict(page: Page) -> None:
    expect(page.get_by_test_id("debate-status")).to_have_text(
        re.compile("completed|failed|cancelled"), timeout=60_000
    )
    expect(page.get_by_test_id("verdict-outcome")).to_be_visible()


def debate_id(page: Page) -> str:
    match = re.search(r"/debates/([0-9a-f-]+)$", page.url)
    assert match, page.url
    return match.group(1)


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus (keyboard-only use)."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus by keyboard")


def test_start_from_the_form_by_keyboard_and_watch_to_the_verdict(
    page: Page, server: Server
) -> None:
    page.goto("/")
    expect(page.get_by_role("checkbox").first).to_be_checked()
    tab_to(page, "textarea[name=task]")
    page.keyboard.type("Should a five-person startup run PostgreSQL or SQLite?")
    expect(page.get_by_test_id("estimate")).to_contain_text("agent calls")
    tab_to(page, "[data-testid=start]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/debates/[0-9a-f-]+$"))
    expect(page.get_by_test_id("debate-task")).to_have_text(
        "Should a five-person startup run PostgreSQL or SQLite?"
    )
    wait_for_verdict(page)
    doc = server.wait_finished(debate_id(page))
    outcome = page.get_by_test_id("verdict-outcome")
    expect(outcome).to_have_attribute("data-outcome", str(doc["outcome"]))
    if doc["consensus_reached"]:
        expect(page.get_by_test_id("final-answer")).to_have_text(str(doc["final_answer"]))
    else:
        expect(outcome).not_to_contain_text("Consensus")
    assert sorted(shown_seqs(page)) == message_seqs(server.events(debate_id(page)))
    expect(page.get_by_test_id("receipt-status")).to_have_attribute("data-valid", "true")
    expect(page.get_by_test_id("live-region")).not_to_be_empty()


def test_reload_mid_debate_shows_each_message_once(page: Page, server: Server) -> None:
    created = server.post(
        "/api/v1/debates", {"task": "Is Rust or Go better for a CLI tool?", **SLOW_DEBATE}
    )
    page.goto(f"/debates/{created['id']}")
    expect(page.locator("[data-seq]").nth(2)).to_be_attached()
    assert server.get(f"/api/v1/debates/{created['id']}")["status"] == "running"
    page.reload()
    wait_for_verdict(page)
    seqs = shown_seqs(page)
    assert len(seqs) == len(set(seqs)), "a message is shown twice"
    assert sorted(seqs) == message_seqs(server.events(created["id"]))


def test_agent_text_cannot_inject_script(page: Page, scripted_debate: dict[str, Any]) -> None:
    page.goto(f"/debates/{scripted_debate['id']}")
    wait_for_verdict(page)
    messages = page.locator("article.message")
    expect(messages.first).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("main img").count() == 0
    hrefs: list[str] = page.eval_on_selector_all(
        "main a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    assert not [h for h in hrefs if not h.startswith(("/", "#", "http:", "https:", "mailto:"))]
    expect(messages.first).to_contain_text("[the source](javascript:alert(document.domain))")
    expect(messages.first).to_contain_text('<a href="javascript:alert(2)">this</a>')
    time.sleep(0.3)  # an onerror handler would have fired by now; the watch fails on alerts


def test_knowledge_search_finds_the_ingested_decision(
    page: Page, scripted_debate: dict[str, Any]
) -> None:
    page.goto("/knowledge")
    page.get_by_role("searchbox", name="Search").fill("Zanzibar")
    results = page.get_by_test_id("knowledge-results")
    expect(results).to_contain_text("Which city hosts the Zanzibar summit?")
    expect(results.locator("mark").first).to_have_text(re.compile("zanzibar", re.I))
    results.get_by_role("link", name="Which city hosts the Zanzibar summit?").click()
    expect(page).to_have_url(re.compile(r"/knowledge/dec-"))
    expect(
        page.get_by_role("link", name=str(scripted_debate["id"])[:8], exact=True)
    ).to_be_visible()
    expect(page.get_by_test_id("links")).to_contain_text("supports")
    assert page.locator("main img").count() == 0


def test_a_failing_agent_is_shown_where_it_failed(
    page: Page, server: Server, provider: ThreadedProvider
) -> None:
    agents = [
        f"openai-compatible:fake-model@{provider.base_url}#steady-1",
        f"openai-compatible:fake-model@{provider.base_url}#steady-2",
        f"openai-compatible:broken@{provider.base_url}#flaky",
    ]
    created = server.post(
        "/api/v1/debates",
        {"task": "Which city hosts the Yerevan summit?", "agents": agents, "mode": "vote"},
    )
    page.goto(f"/debates/{created['id']}")
    wait_for_verdict(page)
    proposals = page.locator("section.phase[data-phase=propose]")
    notice = proposals.locator(".notice[data-code=agent_error]")
    expect(notice).to_contain_text("flaky")
    expect(notice).to_contain_text("failed")
    expect(page.locator("#warnings")).to_contain_text("agent_error")
    expect(page.locator("#verdict")).to_contain_text("2 valid of 3; 2 needed")
