"""Retrieval: relevant past decisions in a new debate's context (with attribution), and a
warning when a verdict contradicts a past decision on the same question."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from aragora.debate.events import Event
from aragora.knowledge.retrieval import (
    ConflictCheck,
    PastDecisions,
    relevant_decisions,
    rough_tokens,
    search_queries,
)
from aragora.records.knowledge import KnowledgeItem

from .mound import Mound
from .support import knowledge_node, run_debate

WHEN = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
QUESTION = "Should we use PostgreSQL or MySQL for our new service?"


def decision(item_id: str, question: str, answer: str, **fields: Any) -> KnowledgeItem:
    fields.setdefault("tags", ("consensus",))
    return KnowledgeItem(
        id=item_id,
        kind="decision",
        title=question,
        content=f"Decision: {answer}",
        created_at=WHEN,
        updated_at=WHEN,
        source_debate_id=item_id.removeprefix("dec-"),
        confidence=0.75,
        provenance={"question": question, "answer": answer},
        **fields,
    )


async def store_with(*items: KnowledgeItem) -> Mound:
    store = Mound()
    await store.put(items)
    return store


async def test_a_past_decision_without_consensus_is_never_shown() -> None:
    # Written before no-consensus outcomes stopped being ingested, or imported from such a
    # knowledge base: a plurality or a tie is no decision to learn from.
    store = await store_with(
        decision("dec-a", QUESTION, "PostgreSQL", tags=("no-consensus",)),
        decision("dec-b", QUESTION, "SQLite"),
    )
    found = await relevant_decisions(store, QUESTION)
    assert [d.item.id for d in found] == ["dec-b"]


async def test_the_top_relevant_decisions_come_with_their_ids() -> None:
    store = await store_with(
        decision("dec-a", QUESTION, "PostgreSQL"),
        decision("dec-b", "PostgreSQL or MySQL for the billing service?", "MySQL"),
        decision("dec-c", "Should we hire a designer for our service?", "Yes"),
        decision("dec-d", "Is Redis a good cache?", "Yes"),
    )
    text, references = await PastDecisions(store)(
        "Should we use PostgreSQL or MySQL for our new analytics service?", ""
    )
    lines = text.splitlines()
    assert lines[0] == "Relevant past decisions:"
    assert lines[1].startswith(f"- [dec-a] {QUESTION} -> PostgreSQL (decided 2026-01-20")
    assert "confidence 0.75" in lines[1]
    assert [r["id"] for r in references] == ["dec-a", "dec-b"]  # dec-c: below the floor
    assert set(references[0]) == {"id", "kind", "title", "score", "debate_id", "tokens"}
    assert references[0]["debate_id"] == "a"
    assert 0.3 <= references[1]["score"] < references[0]["score"] <= 1.0
    # what each costs every prompt, the heading on the first: the whole block, no more
    assert sum(r["tokens"] for r in references) == rough_tokens(text)


async def test_at_most_three_and_nothing_when_nothing_is_relevant() -> None:
    store = await store_with(*(decision(f"dec-{n}", QUESTION, "MySQL") for n in range(5)))
    _, references = await PastDecisions(store)(QUESTION, "")
    assert len(references) == 3
    assert await PastDecisions(store)("How tall is Mount Everest?", "") == ("", [])
    assert await PastDecisions(Mound())(QUESTION, "") == ("", [])


def ending(task: str, answer: str | None, status: str = "completed") -> tuple[list[Event], Event]:
    start = Event("debate_start", "new", 1, "2026-01-21T00:00:00+00:00", data={"task": task})
    end = Event(
        "debate_end",
        "new",
        2,
        "2026-01-21T00:00:01+00:00",
        data={"result": {"status": status, "final_answer": answer}},
    )
    return [start], end


async def test_a_verdict_against_a_past_decision_on_the_same_question_warns() -> None:
    store = await store_with(
        decision("dec-old", QUESTION, "PostgreSQL"),
        decision("dec-near", "PostgreSQL or MySQL for the billing service?", "PostgreSQL"),
    )
    check = ConflictCheck(store)
    events, end = ending(QUESTION.rstrip("?"), "MySQL")
    warnings = await check("new", events, end)
    assert warnings == [
        {
            "code": "knowledge_conflict",
            "message": "the verdict 'MySQL' contradicts past decision dec-old on the same "
            "question ('PostgreSQL')",
            "item_id": "dec-old",
            "past_answer": "PostgreSQL",
            "new_answer": "MySQL",
            "similarity": 1.0,
        }
    ]  # dec-near is a related question, not the same one
    warned = [*events, Event("warning", "new", 2, end.timestamp, data=warnings[0])]
    assert await check("new", warned, end) == []  # idempotent after a crash


async def test_the_same_answer_or_no_answer_is_no_conflict() -> None:
    store = await store_with(decision("dec-old", QUESTION, "PostgreSQL"))
    check = ConflictCheck(store)
    assert await check("new", *ending(QUESTION, "postgresql.")) == []
    assert await check("new", *ending(QUESTION, None, "failed")) == []
    assert await check("old", *ending(QUESTION, "MySQL")) == []  # its own decision
    assert await check("new", *ending("Is Redis a good cache?", "MySQL")) == []


async def test_a_later_debate_sees_the_earlier_decision_and_a_conflict_is_linked() -> None:
    async with knowledge_node() as (node, storage, store):
        first, _ = await run_debate(node, storage, task=QUESTION)
        past = f"dec-{first['id']}"
        assert past in (await store.items())

        second, events = await run_debate(
            node, storage, task="Should we use PostgreSQL or MySQL for our new billing service?"
        )
        start = events[0]
        assert f"[{past}]" in start.data["context"]
        assert start.data["context"].startswith("Relevant past decisions:")
        assert [r["id"] for r in second["references"]] == [past]
        assert second["references"][0]["debate_id"] == first["id"]

        # The same question again, with a past decision that says otherwise.
        other = "Neither" if first["final_answer"] != "Neither" else "Both"
        await store.put([decision("dec-planted", QUESTION, other)])
        third, events = await run_debate(node, storage, task=QUESTION)
    conflicts = {w["item_id"]: w for w in third["warnings"] if w["code"] == "knowledge_conflict"}
    # Demo panels draw a random seed per debate, so the first debate may disagree too.
    assert set(conflicts) - {past} == {"dec-planted"}
    assert conflicts["dec-planted"]["new_answer"] == third["final_answer"]
    assert conflicts["dec-planted"]["past_answer"] == other
    assert [e.type for e in events[-2:]] == ["warning", "debate_end"]
    assert (f"dec-{third['id']}", "dec-planted", "contradicts") in (await store.edges())


def test_candidates_come_from_key_word_searches() -> None:
    assert search_queries("Should we use PostgreSQL or MySQL for our new service?") == [
        "postgresql mysql service",
        "mysql service",
        "postgresql service",
        "postgresql mysql",
        "postgresql",
        "mysql",
        "service",
    ]
    assert search_queries("Is it?") == []
    assert len(search_queries(" ".join(f"word{n}" for n in range(40)))) == 1 + 6 + 6


class BrokenIndex(Mound):
    async def search(self, query: str, *, limit: int = 10, filters: Any = None) -> Any:
        raise RuntimeError("the search index is corrupt")

    async def search_each(self, queries: Any, *, limit: int = 10, filters: Any = None) -> Any:
        raise RuntimeError("the search index is corrupt")


async def test_a_failing_search_never_stops_a_debate_from_ending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await ConflictCheck(BrokenIndex())("new", *ending(QUESTION, "MySQL")) == []
    assert "knowledge conflict check failed" in caplog.text
