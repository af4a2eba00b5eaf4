"""The WebSocket on a real uvicorn server: connect, replay, live, ping, errors, auth,
slow consumers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from aragora.server.app import create_app
from aragora.server.ws import (
    CLOSE_BAD_REQUEST,
    CLOSE_NOT_FOUND,
    CLOSE_SLOW_CONSUMER,
    CLOSE_UNAUTHORIZED,
)
from aragora.settings import Settings

from .fakes import FakeNode, event_frames
from .support import ADMIN, live_server, make_settings, next_json, wait_recorded


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    async with live_server(create_app(settings)) as url:
        yield url


def ws_url(base: str, query: str = "") -> str:
    return base.replace("http://", "ws://") + "/ws" + (f"?{query}" if query else "")


async def finished_debate(base: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        created = (await client.post("/api/v1/debates", json={"task": "Tea or coffee?"})).json()
        assert await wait_recorded(client, created["debate_id"]) == "completed"
        return str(created["debate_id"])


async def until_end(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await next_json(ws)
        frames.append(frame)
        if frame["type"] == "debate_end":
            return frames


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; the close code."""
    for _ in range(100):
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed:
            return ws.close_code
    raise AssertionError("the server did not close the connection")


async def test_replay_of_a_finished_debate(server: str) -> None:
    debate_id = await finished_debate(server)
    async with connect(ws_url(server, f"debate_id={debate_id}")) as ws:
        hello = await next_json(ws)
        assert hello["type"] == "connected"
        assert hello["seq"] is None
        assert hello["data"]["server_version"]
        frames = await until_end(ws)
        seqs = [f["seq"] for f in frames]
        assert seqs == list(range(1, len(seqs) + 1))
        assert frames[0]["type"] == "debate_start"
        assert all(set(f) >= {"type", "debate_id", "seq", "timestamp", "data"} for f in frames)
        # The connection stays usable after debate_end.
        await ws.send(orjson.dumps({"type": "ping"}).decode())
        assert (await next_json(ws))["type"] == "pong"

    async with connect(ws_url(server, f"debate_id={debate_id}&since=5")) as ws:
        await next_json(ws)
        rest = await until_end(ws)  # (read all: an unread client queue delays the close)
        assert [f["seq"] for f in rest] == seqs[5:]


async def test_live_stream_has_no_gap(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_DEMO_DELAY="0.05")
    async with (
        live_server(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        created = (await client.post("/api/v1/debates", json={"task": "Cats or dogs?"})).json()
        async with connect(ws_url(base)) as ws:
            assert (await next_json(ws))["type"] == "connected"
            subscribe = {"type": "subscribe", "debate_id": created["debate_id"], "since": 0}
            await ws.send(orjson.dumps(subscribe).decode())
            frames = await until_end(ws)
    durable = [f["seq"] for f in frames if f["seq"] is not None]
    assert durable == list(range(1, len(durable) + 1))
    assert frames[-1]["type"] == "debate_end"


async def test_a_debate_cancelled_before_it_started_ends_its_streams(tmp_path: Path) -> None:
    """Its log holds no debate_end, yet every stream of it ends with one (seq null, the
    stored status): a subscriber waiting when it is cancelled, and one coming later. A
    client that reads until debate_end, as the SDK's stream does, would otherwise wait
    forever on a connection that stays open."""
    settings = make_settings(tmp_path, ARAGORA_DEMO_DELAY="5", ARAGORA_MAX_CONCURRENT_DEBATES="1")
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        live_server(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base, headers=headers) as client,
    ):
        busy = (await client.post("/api/v1/debates", json={"task": "Busy?"})).json()
        queued = (await client.post("/api/v1/debates", json={"task": "Queued?"})).json()
        assert queued["status"] == "queued"
        debate_id = queued["debate_id"]
        async with connect(ws_url(base, f"debate_id={debate_id}")) as early:
            assert (await next_json(early))["type"] == "connected"
            cancelled = await client.post(f"/api/v1/debates/{debate_id}/cancel")
            assert cancelled.json()["status"] == "cancelled"
            ends = [await next_json(early)]
        async with connect(ws_url(base, f"debate_id={debate_id}")) as late:
            assert (await next_json(late))["type"] == "connected"
            ends.append(await next_json(late))
        for end in ends:
            assert end["type"] == "debate_end"
            assert end["seq"] is None
            assert end["debate_id"] == debate_id
            assert end["data"]["result"]["status"] == "cancelled"
        events = (await client.get(f"/api/v1/debates/{debate_id}/events")).json()
        assert events["events"] == []  # not in the log
        await client.post(f"/api/v1/debates/{busy['debate_id']}/cancel")


async def test_ping_and_bad_frames(server: str) -> None:
    async with connect(ws_url(server)) as ws:
        assert (await next_json(ws))["type"] == "connected"
        for bad, code in (
            ("not json", "invalid_frame"),
            ("[1, 2]", "invalid_frame"),
            ('{"type": "dance"}', "unknown_frame_type"),
            ('{"type": "subscribe"}', "invalid_frame"),
            ('{"type": "subscribe", "debate_id": "x", "since": -1}', "invalid_frame"),
        ):
            await ws.send(bad)
            frame = await next_json(ws)
            assert frame["type"] == "error"
            assert frame["data"]["code"] == code
            assert frame["data"]["error"]
        await ws.send('{"type": "ping"}')
        pong = await next_json(ws)
        assert pong["type"] == "pong"
        assert pong["seq"] is None


async def test_unknown_debate_closes_4404(server: str) -> None:
    async with connect(ws_url(server, "debate_id=nope")) as ws:
        assert (await next_json(ws))["type"] == "connected"
        error = await next_json(ws)
        assert error["type"] == "error"
        assert error["data"]["code"] == "not_found"
        assert await closed_code(ws) == CLOSE_NOT_FOUND


async def test_bad_since_closes_4400(server: str) -> None:
    async with connect(ws_url(server, "debate_id=x&since=-3")) as ws:
        assert (await next_json(ws))["type"] == "connected"
        error = await next_json(ws)
        assert error["data"]["code"] == "invalid_input"
        assert await closed_code(ws) == CLOSE_BAD_REQUEST


async def test_subscribe_switches_and_unsubscribe_stops(tmp_path: Path) -> None:
    node = FakeNode(frames=event_frames("known", 3))
    app = create_app(make_settings(tmp_path), node=node)
    async with live_server(app) as base, connect(ws_url(base)) as ws:
        assert (await next_json(ws))["type"] == "connected"
        await ws.send('{"type": "subscribe", "debate_id": "known", "since": 1}')
        assert [(await next_json(ws))["seq"] for _ in range(2)] == [2, 3]
        await ws.send('{"type": "unsubscribe", "debate_id": "known"}')
        await ws.send('{"type": "subscribe", "debate_id": "known"}')
        assert [(await next_json(ws))["seq"] for _ in range(3)] == [1, 2, 3]
        await ws.send('{"type": "ping"}')
        assert (await next_json(ws))["type"] == "pong"


async def test_required_auth(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")
    async with live_server(create_app(settings)) as base:
        async with connect(ws_url(base)) as ws:
            error = await next_json(ws)
            assert error["data"]["code"] == "unauthorized"
            assert await closed_code(ws) == CLOSE_UNAUTHORIZED
        async with connect(ws_url(base, "token=wrong")) as ws:
            assert await closed_code(ws) == CLOSE_UNAUTHORIZED
        async with connect(ws_url(base, f"token={ADMIN}")) as ws:
            assert (await next_json(ws))["type"] == "connected"
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with connect(ws_url(base), additional_headers=headers) as ws:
            assert (await next_json(ws))["type"] == "connected"


async def test_slow_consumer_is_closed_4008_with_where_to_resume(tmp_path: Path) -> None:
    node = FakeNode(frames=event_frames("known", 7), slow_after=True)
    app = create_app(make_settings(tmp_path), node=node)
    async with live_server(app) as base, connect(ws_url(base, "debate_id=known&since=2")) as ws:
        assert (await next_json(ws))["type"] == "connected"
        seqs = [(await next_json(ws))["seq"] for _ in range(5)]
        assert seqs == [3, 4, 5, 6, 7]
        assert await closed_code(ws) == CLOSE_SLOW_CONSUMER
        assert ws.close_reason == "fell behind; reconnect with since=7"


async def test_connections_gauge_and_logs(server: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aragora.server.ws")
    async with httpx.AsyncClient(base_url=server) as client:
        async with connect(ws_url(server)) as ws:
            await next_json(ws)
            metrics = (await client.get("/metrics")).text
            assert "aragora_websocket_connections 1.0" in metrics
        for _ in range(100):
            metrics = (await client.get("/metrics")).text
            if "aragora_websocket_connections 0.0" in metrics:
                break
            await asyncio.sleep(0.02)
        assert "aragora_websocket_connections 0.0" in metrics
    events = [
        getattr(r, "aragora_fields", {}) for r in caplog.records if r.getMessage() == "websocket"
    ]
    assert [e.get("action") for e in events] == ["connect", "disconnect"]
    assert events[1]["reason"] == "client_closed"


async def test_many_subscribers_each_get_every_frame(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_DEMO_DELAY="0.02")
    async with (
        live_server(create_app(settings)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        created = (await client.post("/api/v1/debates", json={"task": "Tabs or spaces?"})).json()
        query = f"debate_id={created['debate_id']}"

        async def follow() -> list[int]:
            async with connect(ws_url(base, query)) as ws:
                await next_json(ws)
                return [f["seq"] for f in await until_end(ws) if f["seq"] is not None]

        results = await asyncio.gather(*(follow() for _ in range(50)))
    expected = list(range(1, len(results[0]) + 1))
    assert all(r == expected for r in results)
