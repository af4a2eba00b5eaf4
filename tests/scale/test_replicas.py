"""Replicas sharing one PostgreSQL queue (``aragora serve`` and ``aragora worker``): every
debate runs exactly once, spread over the replicas, and a replica killed with SIGKILL
mid-debate loses nothing: its debates are resumed by another replica once their leases
expire and end exactly as an uninterrupted run of the same request would."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx

from .support import (
    Creator,
    check_logs,
    comparable,
    fresh_database,
    jobs,
    median,
    parse_ts,
    replicas,
    statuses,
    stored_log,
    stored_request,
    uninterrupted_document,
    wait_for,
)

# Distinct questions: a finished debate becomes a past decision that later debates on a
# similar question get as context, and the uninterrupted reference run has none.
TASKS = (
    "Should we use Postgres or MySQL?",
    "Is a monorepo right for a ten-person team?",
    "Should a startup use Kubernetes or a PaaS?",
    "Tabs or spaces?",
    "Should we rewrite the billing service in Rust?",
    "Is pair programming worth it for junior hires?",
)
LEASE_TTL = 3.0


async def test_three_replicas_run_every_debate_exactly_once_and_share_the_work(
    tmp_path: Path,
) -> None:
    with fresh_database() as url:
        async with (
            replicas(
                tmp_path,
                url,
                serve=2,
                workers=1,
                demo_delay=0.05,
                ARAGORA_MAX_CONCURRENT_DEBATES="4",
            ) as nodes,
            httpx.AsyncClient(timeout=10) as client,
        ):
            servers = nodes[:2]  # and one `aragora worker`, which has no HTTP
            creator = Creator(servers)
            for n in range(30):
                body = {"task": TASKS[n % len(TASKS)], "mode": "debate", "rounds": 1}
                await creator.create(client, body)
            ids = creator.created

            async def all_finished() -> bool:
                current = await statuses(url)
                return all(current[i] in ("completed", "failed", "cancelled") for i in ids)

            await wait_for(all_finished, within=60, what="30 debates to finish", every=0.2)
            await check_logs(url, ids)
            queue = await jobs(url)
            assert {(j.state, j.epoch, j.attempts) for j in queue.values()} == {("done", 1, 1)}
            claims = {
                node.name: [r["debate_id"] for r in node.events("debate_claimed")] for node in nodes
            }
            counted = Counter(i for claimed in claims.values() for i in claimed)
            assert counted == Counter(ids), "each debate claimed exactly once, by one replica"
            assert all(claims.values()), {name: len(c) for name, c in claims.items()}
            print("debates per replica:", {name: len(c) for name, c in claims.items()})
            # Any replica serves any debate's document, wherever it ran.
            for n, debate_id in enumerate(ids[:6]):
                node = servers[n % len(servers)]
                document = (await client.get(f"{node.base_url}/api/v1/debates/{debate_id}")).json()
                assert document["status"] == "completed"


async def test_a_killed_replicas_debates_resume_elsewhere_and_end_as_if_uninterrupted(
    tmp_path: Path,
) -> None:
    with fresh_database() as url:
        async with (
            replicas(tmp_path, url, serve=2, demo_delay=0.4, lease_ttl=LEASE_TTL) as nodes,
            httpx.AsyncClient(timeout=10) as client,
        ):
            victim, survivor = nodes
            # Every debate is created on the victim, which claims as each one arrives; the
            # survivor only looks for work once a second, so the victim ends up with most.
            # At 0.4 s an answer a debate lasts a few seconds: long enough to die holding
            # some, short enough that the rest fits in the lease TTL + 5 s.
            creator = Creator([victim])
            for task in TASKS:
                body = {"task": task, "mode": "debate", "rounds": 3}
                await creator.create(client, body)
            ids = creator.created

            async def victim_busy() -> list[str]:
                queue = await jobs(url)
                logs = await stored_log(url)
                mine = [
                    i
                    for i, job in queue.items()
                    if job.state == "running"
                    and victim.owns(job.owner)
                    and len(logs.get(i, [])) >= 3
                ]
                return mine if len(mine) >= 2 else []

            await wait_for(victim_busy, within=20, what="the victim to run 2 debates")
            victim.kill()
            killed_at = time.time()
            queue = await jobs(url)
            at_kill = await stored_log(url)
            orphans = [
                i
                for i, job in queue.items()
                if victim.owns(job.owner)
                and job.state == "running"
                and "debate_end" not in {kind for _, kind in at_kill.get(i, [])}
            ]
            cut = {i: len(entries) for i, entries in at_kill.items()}
            assert len(orphans) >= 2, "the victim died holding unfinished debates"

            async def orphans_done() -> bool:
                current = await statuses(url)
                return all(current[i] == "completed" for i in orphans)

            await wait_for(orphans_done, within=LEASE_TTL + 5, what="the orphans to complete")
            done_after = time.time() - killed_at

            async def all_done() -> bool:
                current = await statuses(url)
                return all(current[i] == "completed" for i in ids)

            await wait_for(all_done, within=30, what="every debate to complete")
            await check_logs(url, ids)
            queue = await jobs(url)
            resumed = []
            for debate_id in orphans:
                assert queue[debate_id].epoch == 2, queue[debate_id]
                events = (
                    await client.get(
                        f"{survivor.base_url}/api/v1/debates/{debate_id}/events",
                        params={"since": cut[debate_id], "limit": 1},
                    )
                ).json()["events"]
                resumed.append(parse_ts(events[0]["timestamp"]) - killed_at)
            claims = [r["debate_id"] for r in survivor.events("debate_claimed") if r["epoch"] == 2]
            assert sorted(claims) == sorted(orphans)
            print(
                f"{len(orphans)} debates of the killed replica: resumed {min(resumed):.2f}/"
                f"{median(resumed):.2f}/{max(resumed):.2f} s (min/median/max) after the kill, "
                f"all complete after {done_after:.2f} s (lease TTL {LEASE_TTL:.0f} s)"
            )
            assert max(resumed) <= LEASE_TTL + 5
            for debate_id in ids:
                served = (
                    await client.get(f"{survivor.base_url}/api/v1/debates/{debate_id}")
                ).json()
                task, request = await stored_request(url, debate_id)
                expected = await uninterrupted_document(tmp_path, debate_id, task, request)
                assert comparable(served) == comparable(expected), debate_id
