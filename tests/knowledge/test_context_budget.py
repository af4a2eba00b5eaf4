"""Past decisions enter a debate only when relevant, within a token budget, and the debate
document says which ones and what they cost; a question unrelated to anything stored costs
exactly what it costs with an empty knowledge base."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from aragora import wiring
from aragora.agents.tokens import estimate_text_tokens
from aragora.debate.events import Event
from aragora.errors import ConfigurationError
from aragora.knowledge.retrieval import HEADING, PastDecisions
from aragora.records.debates import Storage
from aragora.records.knowledge import KnowledgeItem
from aragora.runtime.node import Node
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage

from .mound import Mound

WHEN = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
SEED = 1234

# Decisions a team might have taken, none of them about the questions asked below.
UNRELATED = [
    ("Should we use PostgreSQL or MySQL for the billing service?", "PostgreSQL"),
    ("Should the product catalogue be cached in Redis?", "Yes, with a five minute expiry"),
    ("Which cloud region should host the EU customers?", "eu-west-1"),
    ("Should our team adopt Rust for the backend?", "No, stay with Go"),
    ("Should we hire a second designer this quarter?", "Yes"),
    ("Is Kafka worth running for fewer than ten services?", "No"),
]
UNRELATED_QUESTION = "Should we hire a plumber for the office kitchen this quarter?"
# (it shares words with a stored decision, "hire" and "quarter": a search finds it, the
# threshold keeps it out)
RELATED_QUESTION = "Should the EU customers be hosted in an EU cloud region?"


def decision(n: int, question: str, answer: str) -> KnowledgeItem:
    return KnowledgeItem(
        id=f"dec-{n}",
        kind="decision",
        title=question,
        content=f"Decision: {answer}\nBecause the panel agreed.",
        tags=("consensus",),
        confidence=0.8,
        source_debate_id=f"past-{n}",
        provenance={"question": question, "answer": answer},
        created_at=WHEN,
        updated_at=WHEN,
    )


@asynccontextmanager
async def node_with(
    decisions: list[tuple[str, str]], env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[Node, Storage]]:
    storage = memory_storage(now=lambda: datetime.now(UTC))
    await Mound(storage.knowledge, storage.knowledge_index).put(
        [decision(n, q, a) for n, (q, a) in enumerate(decisions)]
    )
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0", **(env or {})})
    node = await wiring.open_node(settings, storage=storage)
    node.start()
    try:
        yield node, storage
    finally:
        await node.close()


async def debate(node: Node, storage: Storage, task: str) -> tuple[dict[str, Any], list[Event]]:
    created = await node.service.create({"task": task, "mode": "debate", "rounds": 1}, seed=SEED)
    async for _ in node.service.stream(created["id"], 0):
        pass
    async with asyncio.timeout(10):
        while (await storage.debates.get(created["id"])).document is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return await node.service.get(created["id"]), await storage.events.read(created["id"])


async def test_an_unrelated_question_costs_what_it_costs_with_no_knowledge() -> None:
    async with node_with([]) as (node, storage):
        empty, _ = await debate(node, storage, UNRELATED_QUESTION)
    async with node_with(UNRELATED) as (node, storage):
        stored, events = await debate(node, storage, UNRELATED_QUESTION)
    assert stored["references"] == []
    assert stored["knowledge_tokens"] == 0
    assert events[0].data["context"] == ""
    assert stored["cost"]["input_tokens"] > 0
    assert stored["cost"]["input_tokens"] == empty["cost"]["input_tokens"]
    assert [m["content"] for m in stored["messages"]] == [m["content"] for m in empty["messages"]]


async def test_a_related_question_gets_its_decision_and_the_document_says_what_it_cost() -> None:
    async with node_with([]) as (node, storage):
        empty, _ = await debate(node, storage, RELATED_QUESTION)
    async with node_with(UNRELATED) as (node, storage):
        stored, events = await debate(node, storage, RELATED_QUESTION)
    [reference] = stored["references"]
    assert reference["id"] == "dec-2"  # the cloud region decision, and only it
    assert reference["score"] >= 0.3
    context = events[0].data["context"]
    assert context.startswith(HEADING)
    assert "[dec-2]" in context
    # the calibrated estimate the composition root passes, adding up to the whole block
    assert reference["tokens"] == estimate_text_tokens(context)
    assert stored["knowledge_tokens"] == reference["tokens"] <= 800
    assert stored["cost"]["input_tokens"] > empty["cost"]["input_tokens"]


async def test_the_budget_and_the_threshold_come_from_the_settings() -> None:
    many = [(f"Should the EU customers be hosted in region {n}?", f"Region {n}") for n in range(3)]
    async with node_with(many, {"ARAGORA_KNOWLEDGE_CONTEXT_TOKENS": "60"}) as (node, storage):
        stored, events = await debate(node, storage, RELATED_QUESTION)
    assert 1 <= len(stored["references"]) < 3  # three would not fit in 60 tokens
    assert stored["knowledge_tokens"] == estimate_text_tokens(events[0].data["context"]) <= 60
    async with node_with(many, {"ARAGORA_KNOWLEDGE_CONTEXT_TOKENS": "0"}) as (node, storage):
        stored, _ = await debate(node, storage, RELATED_QUESTION)
    assert stored["references"] == []
    async with node_with(UNRELATED, {"ARAGORA_KNOWLEDGE_RELEVANCE": "0.95"}) as (node, storage):
        stored, _ = await debate(node, storage, RELATED_QUESTION)
    assert stored["references"] == []  # related, but not that close
    with pytest.raises(ConfigurationError, match="ARAGORA_KNOWLEDGE_RELEVANCE"):
        load_settings({"ARAGORA_KNOWLEDGE_RELEVANCE": "1.5"})


async def test_a_decision_too_long_for_what_is_left_is_skipped_for_a_shorter_one() -> None:
    store = Mound()
    await store.put(
        [
            decision(0, RELATED_QUESTION, "Yes. " + "Because of the data residency rules. " * 40),
            decision(1, "Should EU customers be hosted in an EU region?", "Yes"),
        ]
    )
    text, references = await PastDecisions(
        store.index, budget_tokens=80, count_tokens=estimate_text_tokens
    )(RELATED_QUESTION, "")
    assert [r["id"] for r in references] == ["dec-1"]
    assert references[0]["tokens"] == estimate_text_tokens(text) <= 80
    with pytest.raises(ValueError, match="budget_tokens"):
        PastDecisions(store.index, budget_tokens=-1)
