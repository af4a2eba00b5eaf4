"""At DEBUG, Aragora's own decisions are log lines: claims, leases, cancels, every agent
call with its sizes and timing, resumptions, and the circuit breakers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from aragora.agents.resilience.breaker import CircuitBreaker

from .support import TASK, finish, new_storage, running_node, seq_reached


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    return [
        dict(getattr(record, "aragora_fields", {}))
        for record in caplog.records
        if record.getMessage() == name
    ]


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="aragora"):
        yield caplog


async def test_a_demo_debate_at_debug_logs_its_decisions(
    debug: pytest.LogCaptureFixture,
) -> None:
    storage = new_storage()
    async with running_node(storage=storage, demo_delay=0.05, lease_ttl=0.3) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 1})
        debate_id = created["id"]
        await finish(node, debate_id)
        cancelled = await node.service.create({"task": TASK, "mode": "debate", "rounds": 2})
        await seq_reached(storage, cancelled["id"], 2)
        await node.service.cancel(cancelled["id"])
        await finish(node, cancelled["id"])

    assert {"debate_id": debate_id, "epoch": 1} in _events(debug, "debate_claimed")
    renewed = [e for e in _events(debug, "lease_renewed") if e["debate_id"] == debate_id]
    assert renewed
    assert all(e["epoch"] == 1 and e["ttl"] == 0.3 for e in renewed)
    released = [e for e in _events(debug, "lease_released") if e["debate_id"] == debate_id]
    assert released == [{"debate_id": debate_id, "epoch": 1, "requeue": False}]
    assert {"debate_id": cancelled["id"], "again": False} in _events(debug, "cancel_requested")

    calls = _events(debug, "agent_request")
    phases = {call["phase"] for call in calls}
    assert {"propose", "critique", "revise"} <= phases
    for call in calls:
        assert call["provider"] == "demo"
        assert isinstance(call["agent"], str)
        assert call["agent"]
        assert isinstance(call["prompt_chars"], int)
        assert call["prompt_chars"] > 0
        assert isinstance(call["seconds"], float)
        assert call["seconds"] >= 0
        if call["outcome"] == "ok":
            assert isinstance(call["answer_chars"], int)
            assert call["answer_chars"] > 0
    assert any(call["outcome"] == "ok" for call in calls)
    levels = {r.levelno for r in debug.records if r.getMessage() == "agent_request"}
    assert levels == {logging.DEBUG}


async def test_a_resumed_debate_says_so(debug: pytest.LogCaptureFixture) -> None:
    storage = new_storage()
    async with running_node(storage=storage, demo_delay=0.3) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 2})
        debate_id = created["id"]
        await seq_reached(storage, debate_id, 3)
        await node.drain(0.0)
    cut = await storage.events.last_seq(debate_id)
    assert [e["requeue"] for e in _events(debug, "lease_released")] == [True]
    async with running_node(storage=storage) as node:
        await finish(node, debate_id)
    assert _events(debug, "debate_resumed") == [{"debate_id": debate_id, "events": cut}]


async def test_agent_calls_are_not_wrapped_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="aragora"):
        async with running_node() as node:
            await finish(node, (await node.service.create({"task": TASK, "mode": "vote"}))["id"])
    assert _events(caplog, "agent_request") == []


def test_breakers_log_opening_and_closing(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    breaker = CircuitBreaker("m@https://api.test", failure_threshold=2, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="aragora"):
        for _ in range(2):
            assert breaker.admit()
            breaker.failure()
        assert _events(caplog, "circuit_open") == [
            {"breaker": "m@https://api.test", "failures": 2, "probe": False, "reset_seconds": 30.0}
        ]
        now[0] = 31.0
        assert breaker.admit()  # the half-open probe
        breaker.failure()
        assert _events(caplog, "circuit_open")[-1]["probe"] is True
        now[0] = 62.0
        assert breaker.admit()
        breaker.success()
        assert _events(caplog, "circuit_closed") == [{"breaker": "m@https://api.test"}]
        breaker.success()  # already closed: nothing more
        assert len(_events(caplog, "circuit_closed")) == 1
