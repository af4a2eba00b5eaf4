"""The time agent calls wait in our own limits, seen where a user and an operator look: each
call's event (``queued_ms``), the debate document (per message, per agent, in total) and the
``aragora_agent_queue_seconds`` histogram."""

from __future__ import annotations

import dataclasses
import statistics
import uuid
from typing import Any

import pytest
from prometheus_client import generate_latest

from aragora import wiring
from aragora.agents.fakes.servers import FakeProvider, FakeRequest
from aragora.agents.providers import LimitPolicy, ProviderHub
from aragora.debate.events import EventType
from aragora.debate.model import Task
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog
from aragora.server.metrics import Metrics
from aragora.settings import load_settings

from .support import debater, hub_for

CALLS = {EventType.PROPOSE, EventType.CRITIQUE, EventType.REVISION, EventType.VOTE}


async def run_debate(hub: ProviderHub, specs: list[str]) -> tuple[dict[str, Any], list[Any]]:
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
    panel = wiring.build_panel(specs, settings, seed=7, trusted=True, hub=hub)
    setup = DebateSetup(
        debate_id=str(uuid.uuid4()),
        task=Task("What is 2 + 2?"),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=1, agent_timeout=10.0),
        panel=tuple(participant for participant, _ in panel),
        seed=7,
    )
    log = MemoryEventLog()
    engine = wiring.build_engine(settings, sink=log)
    await engine.start(setup, {p.name: llm for p, llm in panel})
    events = log.events(setup.debate_id)
    return debate_document(setup.debate_id, events), events


def slow(script: Any, delay: float) -> Any:
    def respond(request: FakeRequest) -> Any:
        return dataclasses.replace(script(request), delay=delay)

    return respond


async def test_a_one_slot_endpoint_shows_its_queue_in_events_document_and_metrics() -> None:
    async with FakeProvider("openai", slow(debater(), 0.01)) as fake:
        specs = [f"openai-compatible:m@{fake.base_url}#{name}" for name in ("a", "b", "c")]
        hub = hub_for(fake, limits=LimitPolicy(max_concurrency=1, rate=None))
        async with hub:
            document, events = await run_debate(hub, specs)
    assert document["status"] == "completed", document["error"]
    calls = [e for e in events if e.type in CALLS and not e.data.get("derived")]
    assert calls
    assert all(isinstance(e.data["queued_ms"], float) for e in calls)
    # three agents on one slot: in each wave, two wait for the calls before them
    assert sum(e.data["queued_ms"] > 5 for e in calls) >= len(calls) // 2
    total = round(sum(e.data["queued_ms"] for e in calls), 1)
    assert document["queued_ms"] == total
    per_agent = {
        agent: entry["queued_ms"] for agent, entry in document["cost"]["per_agent"].items()
    }
    assert round(sum(per_agent.values()), 1) == total
    assert all("queued_ms" in m for m in document["messages"])

    metrics = Metrics()
    for event in events:
        metrics.observe_event(event)
    text = generate_latest(metrics.registry).decode()
    labels = '{model="m",provider="openai-compatible"}'
    assert f"aragora_agent_queue_seconds_count{labels} {len(calls)}.0" in text
    queued_sum = next(
        line for line in text.splitlines() if line.startswith("aragora_agent_queue_seconds_sum")
    )
    assert float(queued_sum.split()[-1]) * 1000 == pytest.approx(total, abs=0.5)


async def test_a_local_endpoint_with_its_default_limits_queues_no_call() -> None:
    async with FakeProvider("openai", debater()) as fake:
        specs = [f"openai-compatible:m@{fake.base_url}#{name}" for name in ("a", "b", "c")]
        async with hub_for(fake, limits=None) as hub:
            document, events = await run_debate(hub, specs)
    assert document["status"] == "completed", document["error"]
    calls = [e for e in events if e.type in CALLS and not e.data.get("derived")]
    # nothing to wait for: the limiter hands every call its slot without a pause (what is
    # left is a loaded machine's scheduler between two clock reads)
    assert statistics.median(e.data["queued_ms"] for e in calls) <= 1.0
    assert all(e.data["queued_ms"] <= 50.0 for e in calls)
