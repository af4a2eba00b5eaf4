"""The receipt document for debates Aragora knows less about: absent markers with reasons,
undisclosed model families, failed agents, dissent, cruxes; and its renderings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aragora_verify import validate_structure

from aragora.debate.events import Event
from aragora.receipts.odr import build_receipt, content_digest, log_digest, model_family
from aragora.receipts.render import render_html, render_markdown
from aragora.receipts.signing import SigningKey

from .support import ISSUER, assert_verifies


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "d-1",
        "task": "Ship on Friday?",
        "status": "completed",
        "mode": "debate",
        "consensus_rule": "majority",
        "agents": [
            {"name": "claude", "provider": "anthropic", "model": "claude-sonnet-4-5"},
            {"name": "llama", "provider": "ollama", "model": "llama3.2", "failed": True},
            {"name": "local", "provider": "openai-compatible", "model": "qwen"},
            {"name": "router", "provider": "openrouter", "model": "meta-llama/llama-3.3-70b"},
        ],
        "rounds_used": 2,
        "consensus_reached": False,
        "final_answer": "No",
        "confidence": 0.55,
        "votes": [
            {"agent": "claude", "choice": "No", "confidence": 0.6, "reasoning": "risk"},
            {"agent": "router", "choice": "Yes", "confidence": 0.5, "reasoning": "speed"},
        ],
        "positions": [
            {
                "agent": "claude",
                "final_position": "No",
                "agrees": True,
                "reasons": "Friday deploys break weekends.",
                "initial_position": "No",
            },
            {
                "agent": "router",
                "final_position": "Yes",
                "agrees": False,
                "reasons": "The change is small.",
                "initial_position": "Yes",
            },
        ],
        "tally": {"No": 1.0, "Yes": 1.0},
        "tie": True,
        "partial": True,
        "stop_reason": "debate_timeout",
    }
    document["dissent"] = [p for p in document["positions"] if not p["agrees"]]
    document.update(changes)
    return document


EVENTS = [Event("debate_start", "d-1", 1, "2026-01-01T00:00:00+00:00", data={"task": "x"})]


def _signed(document: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    receipt = build_receipt(document, EVENTS, receipt_id="rcpt_1", issued_at="2026-01-01T00:00:01Z")
    receipt["signatures"] = [
        key.sign(content_digest(receipt), issuer=ISSUER, signed_at="2026-01-01T00:00:01Z")
    ]
    return receipt


def test_what_aragora_does_not_know_is_marked_absent_or_undisclosed(tmp_path: Path) -> None:
    key = SigningKey.generate()
    receipt = _signed(_document(final_answer=None, confidence=None), key)
    assert validate_structure(receipt) == []
    assert_verifies(receipt, key.public.pem, tmp_path)
    assert receipt["claim"]["statement"]["status"] == "absent"
    assert receipt["claim"]["statement"]["reason"]
    assert receipt["confidence"]["status"] == "absent"
    quorum = receipt["quorum"]
    families = {p["agent"]: p["model_family"] for p in quorum["participants"]}
    assert families == {
        "claude": "claude",
        "llama": "undisclosed",
        "local": "undisclosed",
        "router": "meta-llama",
    }
    assert quorum["independence"]["disclosed"] is False
    assert quorum["independence"]["distinct_model_families"] == 2
    assert quorum["independence"]["model_families"] == ["claude", "meta-llama"]
    assert "2 agent(s)" in quorum["independence"]["note"]
    assert quorum["dissent"] == {
        "present": True,
        "dissenting_agents": ["router"],
        "views": ["router: Yes — The change is small."],
    }
    assert quorum["supporting_agents"] == ["claude"]
    assert [v["issuer"] for v in quorum["verdicts"]] == ["claude", "router"]
    observations = receipt["reasoning"]["observations"]
    assert observations == [
        {
            "kind": "failure",
            "family": "undisclosed",
            "detail": "llama failed during the debate; the panel went on without it",
        }
    ]
    summary = receipt["reasoning"]["summary"]
    assert "cut short (debate_timeout)" in summary
    assert "tied" in summary
    assert "- claude: Friday deploys break weekends." in summary
    cruxes = receipt["cruxes"]["items"]
    assert [c["position"] for c in cruxes] == ["No", "Yes"]
    assert not any(c["is_verdict"] for c in cruxes)  # there is no final answer
    assert cruxes[1]["held_at_end_by"] == ["router"]


def test_no_panel_or_positions_means_absent_quorum_and_cruxes() -> None:
    receipt = build_receipt(
        _document(agents=[], positions=[], dissent=[], votes=[]),
        EVENTS,
        receipt_id="r",
        issued_at=None,
    )
    assert receipt["quorum"]["status"] == "absent"
    assert receipt["cruxes"]["status"] == "absent"
    assert validate_structure(receipt) == []


@pytest.mark.parametrize(
    ("provider", "model", "family"),
    [
        ("anthropic", "claude-opus-4", "claude"),
        ("openai", "gpt-4o", "openai"),
        ("gemini", "gemini-2.5-flash", "gemini"),
        ("openrouter", "anthropic/claude-3.5", "claude"),
        ("openrouter", "google/gemini-pro", "gemini"),
        ("openrouter", "mistralai/mixtral", "mistralai"),
        ("openrouter", "no-vendor", "undisclosed"),
        ("ollama", "llama3.2", "undisclosed"),
        ("openai-compatible", "gpt-4o", "undisclosed"),
        ("demo", "analyst", "aragora-demo"),
    ],
)
def test_model_families(provider: str, model: str, family: str) -> None:
    assert model_family(provider, model) == family


def test_the_log_digest_covers_every_stored_event_in_order() -> None:
    later = Event("debate_end", "d-1", 2, "2026-01-01T00:00:02+00:00", data={})
    token = Event("token", "d-1", None, "2026-01-01T00:00:01+00:00", data={"delta": "x"})
    assert log_digest([later, token, *EVENTS]) == log_digest([*EVENTS, later])
    assert log_digest(EVENTS) != log_digest([*EVENTS, later])


def test_renderings_escape_what_agents_wrote() -> None:
    hostile = "<script>alert(1)</script> [click](http://evil) **bold** | # head & <b>"
    receipt = _signed(_document(task=hostile, final_answer=hostile), SigningKey.generate())
    page = render_html(receipt, chain={"position": 3, "previous_digest": "ab" * 32})
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>" not in page
    assert "Chain position: 3" in page
    assert page.startswith("<!DOCTYPE html>")
    markdown = render_markdown(receipt)
    assert "<script>" not in markdown
    assert "\\<script\\>" in markdown
    assert "\\[click\\](http://evil)" in markdown
    assert "\\*\\*bold\\*\\*" in markdown
    assert "\\| \\# head \\&" in markdown
    for text in (page, markdown):
        assert "rcpt_1" in text or "rcpt\\_1" in text
        assert content_digest(receipt) in text
        assert "router: Yes — The change is small." in text
        assert receipt["signatures"][0]["key_id"] in text
