"""Queue wake-ups through PostgreSQL's LISTEN/NOTIFY (replicas without Redis): a debate
queued on one replica wakes the others at once, never the announcer itself, and a lost
listening connection comes back and wakes its workers for what was queued meanwhile."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable, Iterator

import pytest

from aragora.runtime.pg_notify import APPLICATION_NAME, QueueNotifications

from ..storage.support import pg_database, psql


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with pg_database("aragora_notify") as url:
        yield url


class Woken:
    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def next(self, within: float = 5.0) -> None:
        await asyncio.wait_for(self.event.wait(), within)
        self.event.clear()


async def _until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the listener task flips it
            await asyncio.sleep(0.02)


async def test_an_announcement_wakes_the_other_replicas_not_the_announcer(
    pg_url: str,
) -> None:
    mine, theirs = Woken(), Woken()
    a = QueueNotifications(pg_url)
    b = QueueNotifications(pg_url)
    a.on_queued(mine)
    b.on_queued(theirs)
    a.start()
    b.start()
    try:
        await _until(lambda: a.connected and b.connected)
        await mine.next()  # each wakes its workers once on connecting (queued meanwhile)
        await theirs.next()
        for _ in range(3):
            a.announce()
            await theirs.next()
        await asyncio.sleep(0.2)
        assert mine.count == 1  # never its own announcements
    finally:
        await a.close()
        await b.close()


async def test_a_lost_connection_comes_back_and_wakes_the_workers(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    woken = Woken()
    other = QueueNotifications(pg_url)
    listener = QueueNotifications(pg_url, reconnect_delay=0.1)
    listener.on_queued(woken)
    listener.start()
    other.start()
    try:
        await _until(lambda: listener.connected and other.connected)
        await woken.next()
        with caplog.at_level(logging.INFO, logger="aragora"):
            psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE application_name = '{APPLICATION_NAME}'"
                f" AND datname = '{pg_url.rsplit('/', 1)[1]}'"
            )
            await woken.next()  # back, and the workers look at the queue
            await _until(lambda: listener.connected and other.connected)
        assert "queue_notifications_unavailable" in caplog.text
        assert "queue_notifications_connected" in caplog.text
        other.announce()
        await woken.next()
    finally:
        await listener.close()
        await other.close()


async def test_an_unreachable_database_only_delays_wake_ups() -> None:
    notifications = QueueNotifications(
        "postgresql://nobody@127.0.0.1:1/none", reconnect_delay=0.05, connect_timeout=0.5
    )
    notifications.start()
    notifications.announce()  # not connected: nothing to do, nothing raised
    await asyncio.sleep(0.3)
    assert not notifications.connected
    await notifications.close()


async def test_a_replica_closed_while_connecting_leaves_no_connection_open(pg_url: str) -> None:
    """Closed at any moment of its start (connecting, subscribing, listening), nothing is
    left open: an unclosed driver connection would warn when collected (an error here)."""
    for pause in [n * 0.001 for n in range(30)]:
        notifications = QueueNotifications(pg_url)
        notifications.start()
        await asyncio.sleep(pause)
        await notifications.close()
    gc.collect()
    left = psql(
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE application_name = '{APPLICATION_NAME}' AND datname = '{pg_url.rsplit('/', 1)[1]}'"
    )
    assert int(left) == 0
