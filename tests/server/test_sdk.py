"""The official client, aragora-sdk, unchanged against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aragora_sdk import AragoraAsyncClient
from aragora_sdk.exceptions import AuthenticationError, NotFoundError, ServerError
from aragora_sdk.pagination import AsyncPaginator
from aragora_sdk.websocket import stream_debate

from aragora.server.app import create_app

from .support import ADMIN, live_server, make_settings


async def test_sdk_core_calls(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")
    async with (
        live_server(create_app(settings)) as base,
        AragoraAsyncClient(base_url=base, api_key=ADMIN, max_retries=1) as client,
    ):
        health = await client.health.check()
        assert health["status"] == "healthy"

        # Three agents, two possible answers: always a decision (two could tie).
        created = await client.debates.create(
            task="Tabs or spaces for Python?", agents=["demo", "demo", "demo"]
        )
        assert created["status"] == "queued"
        debate_id = created["debate_id"]
        for _ in range(200):
            debate = await client.debates.get(debate_id)
            if debate["status"] == "completed":
                break
            await asyncio.sleep(0.02)
        assert debate["status"] == "completed"
        assert debate["final_answer"]

        listed = await client.debates.list(limit=10)
        assert listed["total"] >= 1
        assert [d async for d in AsyncPaginator(client, "/api/v1/debates", page_size=1)]

        messages = await client.debates.get_messages(debate_id)
        assert messages["messages"]
        events = await client.debates.get_events(debate_id, since=0, limit=5)
        assert len(events["events"]) == 5
        assert events["next_since"] == 5

        stats = await client.admin.get_stats()
        assert stats["total_debates"] >= 1
        agents = await client.agents.list()
        assert agents["total"] == len(agents["agents"])
        rankings = await client.leaderboard.get_rankings(limit=5)
        assert "rankings" in rankings

        with pytest.raises(NotFoundError):
            await client.debates.get("no-such-debate")

        async with AragoraAsyncClient(base_url=base, api_key="wrong", max_retries=1) as bad:
            with pytest.raises(AuthenticationError):
                await bad.debates.list()


async def test_sdk_sees_maintenance_as_a_server_error(tmp_path: Path) -> None:
    async with (
        live_server(create_app(make_settings(tmp_path))) as base,
        AragoraAsyncClient(base_url=base, api_key=ADMIN, max_retries=1) as client,
    ):
        await client.request("POST", "/api/admin/maintenance", json={"enabled": True})
        with pytest.raises(ServerError) as caught:
            await client.debates.create(task="t")
        assert caught.value.error_code == "maintenance"


async def test_sdk_stream_debate(tmp_path: Path) -> None:
    async with live_server(create_app(make_settings(tmp_path))) as base:
        async with AragoraAsyncClient(base_url=base, max_retries=1) as client:
            debate_id = (await client.debates.create(task="Stream me"))["debate_id"]
        seen = []
        async for event in stream_debate(base, debate_id=debate_id):
            seen.append(event.type)
        assert seen[0] == "connected"
        assert seen[-1] == "debate_end"
        assert "propose" in seen


async def test_sdk_list_all_cancel_and_stream_live_and_late(tmp_path: Path) -> None:
    """The rest of the SDK's core calls: ``debates.list_all``, ``debates.cancel`` and the
    async client's ``debates.stream(id)``, live and after the debate has finished."""
    settings = make_settings(tmp_path, ARAGORA_DEMO_DELAY="0.02")
    async with (
        live_server(create_app(settings)) as base,
        AragoraAsyncClient(base_url=base, api_key=ADMIN, max_retries=1) as client,
    ):
        debate_id = (await client.debates.create(task="Tea or coffee?", rounds=1))["debate_id"]
        live = [event async for event in client.debates.stream(debate_id)]
        assert live[-1].type == "debate_end"
        assert live[-1].data["result"]["status"] == "completed"
        stored = [e for e in live if e.type not in ("connected", "token")]
        assert stored[0].type == "debate_start"

        late = [event async for event in client.debates.stream(debate_id)]  # already finished
        assert [e.type for e in late if e.type not in ("connected", "token")] == [
            e.type for e in stored
        ]

        others = [
            (await client.debates.create(task=f"Question {i}?"))["debate_id"] for i in range(3)
        ]
        listed = [d["id"] async for d in client.debates.list_all(page_size=2)]
        assert set(listed) == {debate_id, *others}
        assert len(listed) == 4

        slow = make_settings(tmp_path / "slow", ARAGORA_DEMO_DELAY="5")
        async with (
            live_server(create_app(slow)) as slow_base,
            AragoraAsyncClient(base_url=slow_base, api_key=ADMIN, max_retries=1) as slow_client,
        ):
            slow_id = (await slow_client.debates.create(task="Tea or coffee?"))["debate_id"]
            cancelled = await slow_client.debates.cancel(slow_id)
            assert cancelled["status"] in ("cancelled", "cancelling")
            for _ in range(500):
                document = await slow_client.debates.get(slow_id)
                if document["status"] == "cancelled":
                    break
                await asyncio.sleep(0.02)
            assert document["status"] == "cancelled"
            ended = [event async for event in slow_client.debates.stream(slow_id)]
            if ended[-1].type == "debate_end":  # it had started: its log ends cancelled
                assert ended[-1].data["result"]["status"] == "cancelled"
