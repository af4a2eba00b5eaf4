"""Evaluation debates (metadata ``evaluation``): no background from the knowledge base, not
ingested into it, no receipt, not rated; an ordinary debate on the same node gets all four."""

from __future__ import annotations

from typing import Any

from aragora.runtime.debate_request import EVALUATION_KEY, is_evaluation
from aragora.runtime.node import Node
from tests.runtime.support import finish, running_node, wait_until

TASK = "Should a five-person startup run PostgreSQL or SQLite?"


async def _run(node: Node, metadata: dict[str, Any]) -> dict[str, Any]:
    body = {"task": TASK, "agents": ["demo", "demo", "demo"], "mode": "vote"}
    created = await node.service.create({**body, "metadata": metadata}, seed=7)
    debate_id = str(created["debate_id"])
    await finish(node, debate_id)

    async def stored() -> bool:
        record = await node.storage.debates.get(debate_id, primary=True)
        return record.status == "completed"

    await wait_until(stored)
    return dict(await node.service.get(debate_id))


def test_the_tag_is_an_object_under_the_evaluation_key() -> None:
    assert is_evaluation({"metadata": {EVALUATION_KEY: {"run": "x"}}})
    assert not is_evaluation({"metadata": {EVALUATION_KEY: "yes"}})
    assert not is_evaluation({"metadata": {}})
    assert not is_evaluation({})


async def test_evaluation_debates_leave_knowledge_and_ratings_alone() -> None:
    async with running_node() as node:
        ordinary = await _run(node, {})
        assert ordinary["knowledge_items"]
        assert ordinary.get("receipt")
        ratings = await node.storage.ratings.leaderboard()
        assert ratings
        items = await node.storage.knowledge.count()

        evaluated = await _run(node, {EVALUATION_KEY: {"suite": "test", "question": "q1"}})
        assert evaluated["status"] == "completed"
        assert evaluated["references"] == []  # the ordinary debate's decision was not offered
        assert not evaluated.get("knowledge_items")
        assert not evaluated.get("receipt")
        assert await node.storage.knowledge.count() == items
        assert await node.storage.ratings.leaderboard() == ratings

        again = await _run(node, {})  # an ordinary debate is offered the first one's decision
        assert again["references"]


async def test_simulated_agents_are_accepted_by_the_service() -> None:
    async with running_node() as node:
        body = {"task": "What is 3+4*5?", "agents": ["sim:1", "sim:1", "sim:1"], "mode": "vote"}
        created = await node.service.create(body, seed=1)
        await finish(node, str(created["debate_id"]))
        document = await node.service.get(str(created["debate_id"]))
        assert document["final_answer"] == "23"  # plain arithmetic: solved without a key
        assert [a["provider"] for a in document["agents"]] == ["sim"] * 3
        assert all("[simulated 1]" in m["content"] for m in document["messages"])
