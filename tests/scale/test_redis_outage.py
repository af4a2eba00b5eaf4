"""Cross-replica streaming through Redis, and Redis losing everything or going away while
debates run: every WebSocket client, connected to a replica other than the one running
its debate, still gets every event exactly once and in order up to ``debate_end``; the
replicas report redis ``degraded`` while it is down and ``healthy`` once it is back,
without a restart. Redis holds nothing durable: the event log fills every gap."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from .support import (
    Creator,
    PrivateRedis,
    Replica,
    check_logs,
    fresh_database,
    jobs,
    parse_ts,
    percentile,
    replicas,
    stored_log,
    wait_for,
)

DEBATES = 4
DELIVERY_P99_MS = 100.0
BODY = {
    "task": "Should we use Postgres or MySQL?",
    "mode": "debate",
    "rounds": 5,
    "protocol": {"early_stop": False},
}


@dataclass
class Follower:
    """One WebSocket client following one debate: every frame with its receive time."""

    debate_id: str
    replica: Replica
    connected_at: float = 0.0
    frames: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    async def follow(self) -> None:
        url = f"{self.replica.ws_url}?debate_id={self.debate_id}&since=0"
        async with connect(url, open_timeout=10) as ws:
            self.connected_at = time.time()
            async for raw in ws:
                frame = orjson.loads(raw)
                self.frames.append((time.time(), frame))
                if frame["type"] == "debate_end":
                    return

    def stored(self) -> list[tuple[float, dict[str, Any]]]:
        return [(at, f) for at, f in self.frames if f.get("seq") is not None]


async def redis_state(client: httpx.AsyncClient, nodes: list[Replica]) -> set[str]:
    states = set()
    for node in nodes:
        body = (await client.get(f"{node.base_url}/api/health")).json()
        states.add(body["components"]["redis"])
    return states


async def test_streams_survive_flushdb_and_a_redis_restart(tmp_path: Path) -> None:
    with PrivateRedis(tmp_path) as redis, fresh_database() as url:
        async with (
            replicas(tmp_path, url, serve=2, demo_delay=1.0, redis_url=redis.url) as nodes,
            httpx.AsyncClient(timeout=10) as client,
        ):
            assert await redis_state(client, nodes) == {"healthy"}
            creator = Creator(nodes)
            for _ in range(DEBATES):
                await creator.create(client, BODY)
            ids = creator.created

            async def all_claimed() -> dict[str, str]:
                owners = {i: j.owner for i, j in (await jobs(url)).items() if j.owner}
                return owners if len(owners) == len(ids) else {}

            owners = await wait_for(all_claimed, within=10, what="every debate to be claimed")
            followers = []
            for debate_id in ids:
                other = next(n for n in nodes if not n.owns(owners[debate_id]))
                followers.append(Follower(debate_id, other))
            tasks = [asyncio.create_task(f.follow()) for f in followers]
            try:
                await wait_for(
                    _all_connected(followers), within=10, what="the WebSocket clients to connect"
                )
                await asyncio.sleep(2.0)
                await asyncio.to_thread(redis.command, "FLUSHDB")
                await asyncio.sleep(1.0)
                redis.kill()
                killed_at = time.time()
                progress = {i: len(e) for i, e in (await stored_log(url)).items()}
                await wait_for(
                    lambda: _states_are(client, nodes, {"degraded"}),
                    within=8,
                    what="health to show redis degraded",
                    every=0.2,
                )
                await asyncio.sleep(max(0.0, killed_at + 3.0 - time.time()))
                after = {i: len(e) for i, e in (await stored_log(url)).items()}
                assert any(after[i] > progress[i] for i in ids), "debates go on without Redis"
                redis.start()
                await wait_for(
                    lambda: _states_are(client, nodes, {"healthy"}),
                    within=10,
                    what="health to show redis healthy again",
                    every=0.2,
                )
                healthy_at = time.time()
                await asyncio.wait_for(asyncio.gather(*tasks), 60)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            logs = await check_logs(url, ids)
            for follower in followers:
                got = [(f["seq"], f["type"]) for _, f in follower.stored()]
                assert got == logs[follower.debate_id], follower.debate_id
            live_up, live_after = [], []
            for follower in followers:
                for at, frame in follower.stored():
                    stamped = parse_ts(frame["timestamp"])
                    if stamped < follower.connected_at:
                        continue  # replayed history, not a live delivery
                    latency = (at - stamped) * 1000
                    if at < killed_at:
                        live_up.append(latency)
                    elif stamped > healthy_at + 1.0:
                        live_after.append(latency)
            measured = live_up + live_after
            p99 = percentile(measured, 99)
            print(
                f"cross-replica delivery over Redis: {len(live_up)} frames before the outage "
                f"p50 {percentile(live_up, 50):.1f} ms p99 {percentile(live_up, 99):.1f} ms; "
                f"{len(live_after)} after recovery p50 {percentile(live_after, 50):.1f} ms "
                f"p99 {percentile(live_after, 99):.1f} ms; max {max(measured):.1f} ms"
            )
            assert len(live_up) >= 20
            assert live_after, "debates still streamed live after Redis came back"
            if p99 > DELIVERY_P99_MS and busy_box():
                # Everything above held; only the latency target is excused, visibly.
                pytest.xfail(
                    f"delivery p99 {p99:.0f} ms > {DELIVERY_P99_MS:.0f} ms on a box with "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
                )
            assert p99 <= DELIVERY_P99_MS


def busy_box() -> bool:
    """Whether other work crowds this machine (load average above 1.5 per CPU): the
    latency target then says more about the neighbours than about the fan-out."""
    return os.getloadavg()[0] > 1.5 * (os.cpu_count() or 1)


def _all_connected(followers: list[Follower]) -> Any:
    async def check() -> bool:
        return all(f.connected_at for f in followers)

    return check


async def _states_are(client: httpx.AsyncClient, nodes: list[Replica], wanted: set[str]) -> bool:
    return await redis_state(client, nodes) == wanted
