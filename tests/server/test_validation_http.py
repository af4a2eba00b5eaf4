"""One strict validation at the edge: wrong JSON types, control characters and oversized
agent names are refused with an error naming the field (never a 500, never a debate that
fails later); ``null`` means the default; a request may only lower the timeouts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aragora.debate.model import MAX_LABEL_CHARS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task": "p", "agents": ["demo#" + "L" * 300], "mode": "single"}, "label"),
        ({"task": "p\u0000q"}, "task"),
        ({"task": "p", "context": "a\u0000b"}, "context"),
        ({"task": "p", "context": "esc \u001b[31m red"}, "context"),
        ({"task": "p", "metadata": {"ticket": "a\u0000b"}}, "metadata.ticket"),
        ({"task": "p", "metadata": {"list": [1, "x\u0007"]}}, "metadata.list[1]"),
        ({"task": "p", "agents": ["demo\u0000"]}, "agents[0]"),
        ({"task": "p", "protocol": {"rounds": "3"}}, "protocol.rounds"),
        ({"task": "p", "protocol": {"early_stop": "no"}}, "protocol.early_stop"),
        ({"task": "p", "protocol": {"rounds": True}}, "protocol.rounds"),
        ({"task": "p", "protocol": {"debate_timeout": 1e9}}, "protocol.debate_timeout"),
        ({"task": "p", "protocol": {"agent_timeout": 10_000}}, "protocol.agent_timeout"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/debates", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["error"]
    listed = await client.get("/api/v1/debates")
    assert listed.json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [{"task": "p", "rounds": "3"}, {"task": "p", "rounds": True}, {"task": "p", "mode": 1}],
)
async def test_top_level_fields_are_as_strict_as_protocol_ones(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/debates", json=body)
    assert response.status_code in (400, 422), response.text
    assert next(iter(set(body) - {"task"})) in response.text


async def test_null_means_the_default(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/debates",
        json={
            "task": "p",
            "priority": None,
            "rounds": None,
            "mode": None,
            "agents": None,
            "protocol": {"debate_timeout": None, "agent_timeout": 5, "quorum": None},
        },
    )
    assert response.status_code == 202, response.text
    assert response.json()["priority"] == 0
    document = (await client.get(f"/api/v1/debates/{response.json()['id']}")).json()
    protocol = document["protocol"]
    assert protocol["agent_timeout"] == 5  # lowered
    assert protocol["debate_timeout"] is not None  # the operator's, not "no limit"


async def test_a_label_at_the_limit_is_fine(client: httpx.AsyncClient) -> None:
    spec = "demo#" + "L" * MAX_LABEL_CHARS
    response = await client.post(
        "/api/v1/debates", json={"task": "p", "agents": [spec], "mode": "single"}
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"task": "p", "mode": "debate", "rounds": 2, "consensus": "supermajority"},
        {"task": "p", "mode": "vote", "consensus": "weighted", "priority": None},
        {"task": "p", "mode": "single", "consensus": None, "rounds": None},
    ],
)
async def test_strict_types_still_take_the_enums_as_json_strings(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    # Strict model validation once refused every mode and rule: an enum arrives as a string.
    response = await client.post("/api/v1/debates", json=body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [({"task": "p", "mode": "nope"}, "mode"), ({"task": "p", "consensus": 3}, "consensus")],
)
async def test_an_unknown_mode_or_rule_is_refused_naming_it(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/debates", json=body)
    assert response.status_code in (400, 422), response.text
    assert field in response.json()["error"]
