"""Ingest: a finished debate's decision, claims and dissent as items, written once."""

from __future__ import annotations

import json
from typing import Any

from aragora.debate.events import Event
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.knowledge.ingest import (
    KnowledgeIngest,
    decided_debate,
    dissent_id,
    knowledge_of_debate,
)
from aragora.runtime.document import debate_document
from tests.debate.helpers import panel, run, stance

from .mound import Mound
from .support import knowledge_node, run_debate

DOCUMENT: dict[str, Any] = {
    "id": "d1",
    "task": "Should we use Postgres or MySQL?",
    "status": "completed",
    "mode": "debate",
    "consensus_rule": "majority",
    "consensus_reached": True,
    "final_answer": "Postgres",
    "confidence": 0.8,
    "rounds_used": 2,
    "completed_at": "2026-01-20T12:00:05.000001+00:00",
    "started_at": "2026-01-20T12:00:00+00:00",
    "agents": [{"name": "a:x"}, {"name": "b"}, {"name": "c"}],
    "votes": [
        {"agent": "a:x", "choice": "Postgres", "confidence": 0.9, "reasoning": "r1"},
        {"agent": "b", "choice": "postgres.", "confidence": 0.7, "reasoning": "r2"},
        {"agent": "c", "choice": "MySQL", "confidence": 0.6, "reasoning": "r3"},
    ],
    "positions": [
        {"agent": "a:x", "final_position": "Postgres", "agrees": True, "reasons": "JSONB"},
        {"agent": "b", "final_position": "postgres.", "agrees": True, "reasons": "extensions"},
        {"agent": "c", "final_position": "MySQL", "agrees": False, "reasons": "we know it"},
    ],
    "dissent": [
        {
            "agent": "c",
            "final_position": "MySQL",
            "agrees": False,
            "reasons": "we know it",
            "changed_mind": False,
        },
    ],
}


def test_a_debate_gives_a_decision_claims_and_dissent() -> None:
    knowledge = knowledge_of_debate(DOCUMENT)
    by_id = {item.id: item for item in knowledge.items}
    assert list(by_id) == ["dec-d1", "clm-d1-1", "clm-d1-2", "dis-d1-c"]
    decision = by_id["dec-d1"]
    assert decision.kind == "decision"
    assert decision.title == DOCUMENT["task"]
    assert decision.content.startswith("Decision: Postgres\n\nReasons:\n- a:x: JSONB\n- b: ")
    assert decision.confidence == 0.8
    assert set(decision.tags) == {"mode:debate", "consensus:majority", "consensus"}
    assert decision.provenance["agents"] == ["a:x", "b", "c"]
    assert decision.provenance["rounds"] == 2
    assert decision.created_at.isoformat() == "2026-01-20T12:00:05.000001+00:00"
    assert by_id["clm-d1-1"].provenance["held_by"] == ["a:x", "b"]  # same answer, one claim
    assert by_id["clm-d1-1"].confidence == 0.8
    assert by_id["dis-d1-c"].source_agent == "c"
    assert {(k.source_id, k.kind, k.target_id) for k in knowledge.links} == {
        ("clm-d1-1", "supports", "dec-d1"),
        ("clm-d1-2", "contradicts", "dec-d1"),
        ("dis-d1-c", "contradicts", "dec-d1"),
    }


def test_only_completed_debates_with_an_answer_count() -> None:
    for change in ({"status": "failed"}, {"final_answer": None}, {"status": "cancelled"}):
        assert knowledge_of_debate({**DOCUMENT, **change}).items == ()


def test_dissent_ids_are_slugs_and_stay_distinct() -> None:
    assert dissent_id("d1", "openai:gpt-4o#Critic") == "dis-d1-openai-gpt-4o-critic"
    document = {
        **DOCUMENT,
        "dissent": [
            {"agent": "x:y", "final_position": "A", "reasons": ""},
            {"agent": "x-y", "final_position": "B", "reasons": ""},
        ],
    }
    ids = [i.id for i in knowledge_of_debate(document).items if i.kind == "dissent"]
    assert ids == ["dis-d1-x-y", "dis-d1-x-y-2"]


async def test_ingesting_twice_changes_nothing() -> None:
    store = Mound()
    ingest = KnowledgeIngest(store)
    first = await ingest("d1", [], DOCUMENT)
    assert first == {"knowledge_items": ["dec-d1", "clm-d1-1", "clm-d1-2", "dis-d1-c"]}
    snapshot = (await store.items(), await store.edges())
    assert await ingest("d1", [], DOCUMENT) == first
    assert (await store.items(), await store.edges()) == snapshot
    assert await store.put(knowledge_of_debate(DOCUMENT).items) == 0


async def test_a_conflict_warning_links_the_new_decision_to_the_past_one() -> None:
    store = Mound()
    await KnowledgeIngest(store)("d0", [], {**DOCUMENT, "id": "d0", "final_answer": "MySQL"})
    warning = Event(
        "warning",
        "d1",
        9,
        "2026-01-20T12:00:05+00:00",
        data={"code": "knowledge_conflict", "item_id": "dec-d0"},
    )
    gone = Event(
        "warning",
        "d1",
        10,
        "2026-01-20T12:00:05+00:00",
        data={"code": "knowledge_conflict", "item_id": "dec-deleted"},
    )
    await KnowledgeIngest(store)("d1", [warning, gone], DOCUMENT)
    assert ("dec-d1", "dec-d0", "contradicts") in (await store.edges())
    assert not [k for k in (await store.edges()) if k[1] == "dec-deleted"]


async def test_a_real_debate_is_ingested_once_with_its_document_naming_the_items() -> None:
    async with knowledge_node() as (node, storage, store):
        document, _ = await run_debate(node, storage, task="Should we use Postgres or MySQL?")
    assert document["status"] == "completed"
    decision = (await store.items())[f"dec-{document['id']}"]
    assert document["final_answer"] in decision.content
    assert document["knowledge_items"][0] == decision.id
    assert set(document["knowledge_items"]) == set(await store.items())
    assert decision.created_at.isoformat() == document["completed_at"]


async def test_a_real_debates_document_reads_back_as_its_result_says() -> None:
    agents = panel(stance(["PostgreSQL", "PostgreSQL"]), stance("SQLite"), stance("PostgreSQL"))
    protocol = DebateProtocol(mode=Mode.DEBATE, rounds=2, early_stop=False)
    result, events = await run(agents, protocol)
    document = debate_document("d-1", events)
    debate = decided_debate(json.loads(json.dumps(document)))  # as stored
    assert debate is not None
    assert debate.final_answer == result["final_answer"] == "PostgreSQL"
    assert [(p.agent, p.position, p.agrees) for p in debate.positions] == [
        (p["agent"], p["final_position"], p["agrees"]) for p in result["positions"]
    ]
    assert [d.agent for d in debate.dissent] == ["a2"]
    assert debate.confidence_of("a1") == result["votes"][0]["confidence"]
    stored = knowledge_of_debate(json.loads(json.dumps(document)), events)
    built = knowledge_of_debate(document, events)
    assert (stored.items, stored.links) == (built.items, built.links)
    assert [i.kind for i in built.items] == ["decision", "claim", "claim", "dissent"]


def test_an_older_document_without_votes_positions_or_dissent_gives_its_decision() -> None:
    older = {k: v for k, v in DOCUMENT.items() if k not in ("votes", "positions", "dissent")}
    debate = decided_debate(older)
    assert debate is not None
    assert (debate.positions, debate.dissent, debate.confidence_of("a:x")) == ((), (), None)
    assert [i.id for i in knowledge_of_debate(older).items] == ["dec-d1"]
