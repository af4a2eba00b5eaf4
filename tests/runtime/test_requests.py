"""Debate requests: defaults filled in, overrides, limits, and the stored round trip."""

from __future__ import annotations

import pytest

from aragora.errors import InvalidInputError
from aragora.runtime.requests import (
    MAX_METADATA_BYTES,
    MAX_TASK_CHARS,
    DebateRequest,
    RequestDefaults,
    parse_request,
)

DEFAULTS = RequestDefaults(agents=("demo", "demo"), agent_timeout=30.0, debate_timeout=300.0)


def test_defaults_fill_what_the_request_leaves_out() -> None:
    request = parse_request({"task": " Why? "}, DEFAULTS, seed=5)
    assert request.task == "Why?"
    assert request.agents == ("demo", "demo")
    assert request.protocol.agent_timeout == 30.0
    assert request.protocol.debate_timeout == 300.0
    assert request.seed == 5


def test_question_is_another_name_for_task() -> None:
    assert parse_request({"question": "Why?"}, DEFAULTS).task == "Why?"


def test_the_stored_form_round_trips() -> None:
    request = parse_request(
        {
            "task": "Why?",
            "agents": ["demo:skeptic", "demo"],
            "mode": "vote",
            "protocol": {"max_cost_usd": 0.5},
            "context": "background",
            "metadata": {"ticket": 7},
        },
        DEFAULTS,
    )
    assert DebateRequest.from_stored(request.task, request.to_stored()) == request


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"task": "x" * (MAX_TASK_CHARS + 1)}, "at most"),
        ({"task": "x", "agents": [""]}, "non-empty"),
        ({"task": "x", "agents": [3]}, "agent spec"),
        ({"task": "x", "protocol": []}, "protocol"),
        ({"task": "x", "protocol": {"rounds": "three"}}, "rounds"),
        ({"task": "x", "context": 5}, "context"),
        ({"task": "x", "metadata": {"blob": "y" * MAX_METADATA_BYTES}}, "bytes"),
        ({"task": "x", "metadata": {"bad": {1, 2}}}, "JSON"),
    ],
)
def test_bad_values_are_named(body: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        parse_request(body, DEFAULTS)
