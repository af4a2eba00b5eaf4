"""The OpenAI chat shapes and panels, and a debate's outcome, as plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aragora.errors import ConfigurationError, InvalidInputError, NotFoundError
from aragora.integrations.openai.chat import (
    NO_DECISION,
    answer_of,
    completion,
    parse_chat,
    verdict_pieces,
)
from aragora.integrations.openai.panels import Panels
from aragora.integrations.outcome import outcome_of
from aragora.settings import load_settings


def _settings(tmp_path: Path, **env: str) -> Any:
    return load_settings({"ARAGORA_DATA_DIR": str(tmp_path), **env})


def test_the_last_user_message_is_the_task_and_the_rest_the_context() -> None:
    chat = parse_chat(
        {
            "model": "aragora/auto",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Pick a database."},
                {"role": "assistant", "content": "For what?"},
                {"role": "user", "content": [{"type": "text", "text": "A five-person startup."}]},
            ],
            "temperature": 0.2,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert chat.task == "A five-person startup."
    assert chat.context == "System: Be brief.\n\nUser: Pick a database.\n\nAssistant: For what?"
    assert chat.stream
    assert chat.include_usage
    assert chat.model == "aragora/auto"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "aragora/auto", "messages": []}, "non-empty list"),
        ({"model": "aragora/auto"}, "non-empty list"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model must name a panel"),
        (
            {"model": "aragora/auto", "messages": [{"role": "system", "content": "x"}]},
            "must include a user message",
        ),
        (
            {"model": "aragora/auto", "messages": [{"role": "user", "content": "  "}]},
            "is empty",
        ),
        (
            {"model": "aragora/auto", "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        (
            {
                "model": "aragora/auto",
                "messages": [{"role": "user", "content": [{"type": "image_url"}]}],
            },
            "only text parts",
        ),
        (
            {"model": "aragora/auto", "n": 2, "messages": [{"role": "user", "content": "x"}]},
            "n must be 1",
        ),
    ],
)
def test_bad_chat_requests_name_the_problem(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_chat(body)


def test_panels_offer_the_built_ins_and_the_operators(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        ARAGORA_DEFAULT_AGENTS="demo,demo",
        ARAGORA_PANELS='{"review": {"agents": ["demo:a", "demo:b", "demo:c"], "mode": "debate",'
        ' "rounds": 2, "description": "Code review"}}',
    )
    panels = Panels.from_settings(settings, created=1)
    ids = [model["id"] for model in panels.listing()["data"]]
    assert ids == ["aragora/auto", "aragora/debate", "aragora/vote", "aragora/review"]
    review = panels.resolve("aragora/review")
    assert review.body("t", "c") == {
        "task": "t",
        "context": "c",
        "agents": ["demo:a", "demo:b", "demo:c"],
        "mode": "debate",
        "rounds": 2,
    }
    assert panels.describe(panels.resolve("aragora/vote"))["aragora"]["agents"] == ["demo", "demo"]
    with pytest.raises(NotFoundError, match="aragora/review") as raised:
        panels.resolve("gpt-4o")
    assert raised.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not json", "JSON object of panels"),
        ('{"auto": {}}', "built in"),
        ('{"bad name": {}}', "panel name"),
        ('{"x": {"mode": "shout"}}', "mode"),
        ('{"x": {"colour": "red"}}', "colour"),
        ('{"x": {"agents": []}}', "agents"),
    ],
)
def test_bad_panel_settings_are_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match="ARAGORA_PANELS") as raised:
        _settings(tmp_path, ARAGORA_PANELS=value)
    assert message in str(raised.value)


def test_a_panel_that_cannot_run_stops_the_start(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ARAGORA_PANELS='{"x": {"consensus": "telepathy"}}')
    with pytest.raises(ConfigurationError, match="panel 'x'"):
        Panels.from_settings(settings, created=0)


def _document(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "d1",
        "status": "completed",
        "final_answer": "4",
        "confidence": 0.9,
        "consensus_reached": True,
        "outcome": "consensus",
        "outcome_reason": None,
        "positions": [
            {"agent": "A", "final_position": "4", "agrees": True},
            {"agent": "B", "final_position": "5", "agrees": False, "reasons": "off by one"},
        ],
        "dissent": [
            {"agent": "B", "final_position": "5", "agrees": False, "reasons": "off by one"},
        ],
        "cost": {"input_tokens": 10, "output_tokens": 5, "tokens": 15, "usd": 0.01},
    }
    base.update(fields)
    return base


def test_a_decided_debate_answers_its_verdict() -> None:
    outcome = outcome_of(_document())
    body = completion(outcome, model="aragora/vote", created=7)
    choice = body["choices"][0]
    assert choice["message"]["content"] == "4"
    assert choice["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert body["aragora"]["debate_id"] == "d1"
    assert [p["agent"] for p in body["aragora"]["dissent"]] == ["B"]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        (
            {
                "final_answer": None,
                "outcome": "tie",
                "consensus_reached": False,
                "dissent": [],
                "positions": [
                    {"agent": "A", "final_position": "4", "agrees": False},
                    {"agent": "B", "final_position": "5", "agrees": False},
                ],
            },
            "tie",
        ),
        (
            {
                "status": "failed",
                "final_answer": None,
                "outcome": "no_quorum",
                "outcome_reason": "1 of 3 valid answers, 2 needed",
                "positions": [
                    {"agent": "A", "final_position": "4", "agrees": False},
                    {"agent": "B", "final_position": "5", "agrees": False},
                ],
            },
            "too few agents gave a valid answer",
        ),
        (
            {
                "status": "cancelled",
                "outcome": "cancelled",
                "positions": [
                    {"agent": "A", "final_position": "4", "agrees": False},
                    {"agent": "B", "final_position": "5", "agrees": False},
                ],
            },
            "cancelled",
        ),
    ],
)
def test_no_decision_is_never_a_verdict(fields: dict[str, Any], why: str) -> None:
    outcome = outcome_of(_document(**fields))
    assert not outcome.decided
    assert outcome.verdict is None
    assert outcome.confidence is None
    content, finish_reason = answer_of(outcome)
    assert finish_reason == NO_DECISION
    assert content.startswith("No decision was reached")
    assert why in content
    assert "- B: 5" in content
    assert "- A: 4" in content
    body = completion(outcome, model="aragora/auto", created=0)
    assert body["aragora"]["decided"] is False
    assert body["aragora"]["verdict"] is None


def test_verdict_pieces_rebuild_the_text() -> None:
    text = "  Use SQLite,\nthen PostgreSQL  when it grows. "
    pieces = verdict_pieces(text)
    assert "".join(pieces) == text
    assert len(pieces) == 7
    assert verdict_pieces("") == []
