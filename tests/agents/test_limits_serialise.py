"""An endpoint that interrupts a stream whenever another request arrives (llama-cpp-python's
server, by default) is served one call at a time once it is seen doing so."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aragora.agents.fakes.servers import Answer, FakeProvider
from aragora.agents.registry import AgentRegistry
from aragora.agents.resilience.limits import ProviderLimit

from .support import hub_for, request


async def test_a_panel_on_an_interrupting_one_slot_server_all_gets_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Sent at once, the panel's calls would be cut by the server, all but the last, and the
    # cut-off streams would become "empty replies" (or failed calls).
    script = [
        Answer(f"ANSWER: {n}\nCONFIDENCE: 0.9\nREASONING: counted", delay=0.02) for n in range(12)
    ]
    async with FakeProvider.llama_cpp(script) as fake, hub_for(fake) as hub:
        registry = AgentRegistry()
        hub.register(registry)
        spec = f"openai-compatible:gemma@{fake.base_url}"
        agents = [registry.create(f"{spec}#a{i}", trusted=True) for i in range(3)]
        with caplog.at_level(logging.WARNING, logger="aragora.agents"):
            answers = await asyncio.gather(
                *(agent.complete(request(timeout=5.0)) for agent in agents)
            )
    assert all(a.text.startswith("ANSWER: ") for a in answers)
    assert fake.interrupted >= 1  # it did cut a stream off before we learned
    serialised = [r for r in caplog.records if r.getMessage() == "endpoint_serialised"]
    assert len(serialised) == 1
    assert len({a.text for a in answers}) == 3


async def test_serialising_takes_the_other_slots_out_as_they_come_back() -> None:
    limit = ProviderLimit(3)
    await limit.acquire()
    await limit.acquire()
    assert limit.serialise() is True
    assert limit.serialise() is False  # once
    assert limit.max_concurrency == 1
    limit.release()
    limit.release()
    await asyncio.sleep(0)
    await limit.acquire(0.5)
    with pytest.raises(Exception, match="one of 1 slots"):
        await limit.acquire(0.05)
    limit.release()
