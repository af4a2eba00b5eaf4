"""Debate requests: defaults filled in, overrides, limits, and the stored round trip."""

from __future__ import annotations

import pytest

from aragora.errors import InvalidInputError
from aragora.runtime.debate_request import (
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


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "x", "rounds": "3"}, "rounds"),
        ({"task": "x", "rounds": True}, "rounds"),
        ({"task": "x", "protocol": {"rounds": "3"}}, "protocol.rounds"),
        ({"task": "x", "protocol": {"early_stop": "no"}}, "protocol.early_stop"),
        ({"task": "x", "protocol": {"early_stop": 0}}, "protocol.early_stop"),
        ({"task": "x", "protocol": {"max_tokens": 1.5}}, "protocol.max_tokens"),
        ({"task": "x", "protocol": {"agent_timeout": "5"}}, "protocol.agent_timeout"),
        ({"task": "x", "protocol": {"debate_timeout": float("inf")}}, "protocol.debate_timeout"),
        ({"task": "x", "mode": 3}, "mode"),
        ({"task": "x", "priority": "1"}, "priority"),
        ({"task": "x", "priority": True}, "priority"),
    ],
)
def test_one_strict_rule_for_top_level_and_protocol_fields(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=field):
        parse_request(body, DEFAULTS)


def test_null_means_the_default_everywhere() -> None:
    request = parse_request(
        {
            "task": "x",
            "priority": None,
            "rounds": None,
            "mode": None,
            "agents": None,
            "context": None,
            "metadata": None,
            "protocol": {"debate_timeout": None, "agent_timeout": None, "early_stop": None},
        },
        DEFAULTS,
    )
    assert request.priority == 0
    assert request.protocol.rounds == 3
    assert request.protocol.early_stop is True
    # null is "the operator's timeout", never "no limit"
    assert (request.protocol.agent_timeout, request.protocol.debate_timeout) == (30.0, 300.0)
    assert request.agents == DEFAULTS.agents


def test_a_request_may_lower_but_never_raise_the_timeouts() -> None:
    lowered = parse_request({"task": "x", "protocol": {"debate_timeout": 60}}, DEFAULTS)
    assert lowered.protocol.debate_timeout == 60
    for value in (301, 1e9):
        with pytest.raises(InvalidInputError, match="may only lower"):
            parse_request({"task": "x", "protocol": {"debate_timeout": value}}, DEFAULTS)
    with pytest.raises(InvalidInputError, match="may only lower"):
        parse_request({"task": "x", "protocol": {"agent_timeout": 31}}, DEFAULTS)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "a\x00b"}, "task"),
        ({"question": "a\x1bb"}, "question"),
        ({"task": "x", "context": "a\x00"}, "context"),
        ({"task": "x", "metadata": {"k": {"deep": ["ok", "a\x00"]}}}, r"metadata.k.deep\[1\]"),
        ({"task": "x", "metadata": {"bad\x00key": 1}}, "a key of metadata"),
        ({"task": "x", "metadata": {"n": float("nan")}}, "metadata.n"),
        ({"task": "x", "agents": ["demo", "demo\x00"]}, r"agents\[1\]"),
        ({"task": "x", "judge": "a\nb"}, "judge"),
        ({"task": "x", "agents": ["demo#" + "x" * 3000]}, r"agents\[0\]"),
    ],
)
def test_control_characters_and_oversized_text_are_named(
    body: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInputError, match=field):
        parse_request(body, DEFAULTS)


def test_text_may_hold_line_breaks_and_tabs() -> None:
    request = parse_request({"task": "line one\nline two\ttab\r\n", "context": "a\nb"}, DEFAULTS)
    assert request.context == "a\nb"


def test_the_operators_default_agents_are_trusted_and_a_callers_are_not() -> None:
    defaulted = parse_request({"task": "x"}, DEFAULTS)
    assert defaulted.agents_from_operator
    assert parse_request({"task": "x", "agents": []}, DEFAULTS).agents_from_operator
    supplied = parse_request({"task": "x", "agents": ["demo"]}, DEFAULTS)
    assert not supplied.agents_from_operator
    stored = DebateRequest.from_stored(defaulted.task, defaulted.to_stored())
    assert stored.agents_from_operator
    # a request stored before the flag existed is not trusted
    old = {k: v for k, v in supplied.to_stored().items() if k != "agents_from_operator"}
    assert not DebateRequest.from_stored("x", old).agents_from_operator
