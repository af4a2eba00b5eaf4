"""PostgreSQL restarting under running debates, as replicas see it: every connection is
dropped (and every backend terminated), new ones are refused for two seconds, then the
database is back on the same address. Every debate still completes exactly once, with a
contiguous log and one ``debate_end``; nothing is lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.storage.support import psql
from tests.tcp_proxy import TcpProxy

from .support import (
    Creator,
    check_logs,
    database_name,
    fresh_database,
    jobs,
    replicas,
    statuses,
    stored_log,
    wait_for,
)

DEBATES = 8
OUTAGE_SECONDS = 2.0
BODY = {"task": "Should we use Postgres or MySQL?", "mode": "debate", "rounds": 3}


async def test_debates_survive_a_database_restart(tmp_path: Path) -> None:
    with fresh_database() as direct:
        parts = urlsplit(direct)
        proxy = TcpProxy(parts.port or 5432)
        await proxy.start()
        proxied = f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{proxy.port}{parts.path}"
        try:
            async with (
                replicas(tmp_path, proxied, serve=2, demo_delay=0.3) as nodes,
                httpx.AsyncClient(timeout=10) as client,
            ):
                creator = Creator(nodes)
                for _ in range(DEBATES):
                    await creator.create(client, BODY)
                ids = creator.created

                async def mid_debate() -> bool:
                    logs = await stored_log(direct)
                    return sum(len(logs.get(i, [])) >= 3 for i in ids) >= DEBATES // 2

                await wait_for(mid_debate, within=15, what="debates to be under way")
                await proxy.cut()
                cut_at = time.monotonic()
                terminate = (
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    f"WHERE datname = '{database_name(direct)}' AND pid <> pg_backend_pid()"
                )
                await asyncio.to_thread(psql, terminate)
                before = await statuses(direct)
                await asyncio.sleep(max(0.0, cut_at + OUTAGE_SECONDS - time.monotonic()))
                await proxy.start()
                back_at = time.monotonic()

                async def all_finished() -> bool:
                    current = await statuses(direct)
                    return all(current[i] in ("completed", "failed", "cancelled") for i in ids)

                await wait_for(all_finished, within=45, what="every debate to finish", every=0.2)
                finished_after = time.monotonic() - back_at
                await check_logs(direct, ids)
                queue = await jobs(direct)
                assert {j.state for j in queue.values()} == {"done"}
                interrupted = [i for i in ids if before[i] not in ("completed",)]
                epochs = sorted(queue[i].epoch for i in interrupted)
                print(
                    f"{len(interrupted)} debates unfinished at the cut; all {DEBATES} complete "
                    f"{finished_after:.1f} s after the database came back; "
                    f"lease epochs of the interrupted: {epochs}"
                )
                for node in nodes:
                    health = (await client.get(f"{node.base_url}/api/health")).json()
                    assert health["components"]["database"] == "healthy"
        finally:
            await proxy.close()
