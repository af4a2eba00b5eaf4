"""The leaderboard keys a rating by provider, model and name: one label on two models is
two entries, each with its ``provider`` and ``model``."""

from __future__ import annotations

from tests.runtime.support import finish, running_node


async def test_one_label_on_two_models_is_two_entries() -> None:
    async with running_node() as node:
        for model in ("skeptic", "optimist"):
            created = await node.service.create(
                {"task": "Is it safe?", "agents": [f"demo:{model}#a", "demo:pragmatist#b"]}
            )
            await finish(node, created["id"])
        board = await node.service.leaderboard(limit=10, offset=0, min_debates=0)
    rows = {(r["agent"], r["provider"], r["model"]): r for r in board["rankings"]}
    assert set(rows) == {
        ("a", "demo", "skeptic"),
        ("a", "demo", "optimist"),
        ("b", "demo", "pragmatist"),
    }
    assert board["total"] == 3
    assert rows[("b", "demo", "pragmatist")]["debates"] == 2
    for row in board["rankings"]:  # CONTRACT's fields are all there
        assert {"agent", "elo", "wins", "losses", "debates"} <= set(row)
