"""The queue's wake-ups through PostgreSQL's own ``LISTEN``/``NOTIFY``, for replicas that
share a database without Redis: a debate queued on one replica wakes the others' workers at
once instead of at their next poll (which stays the fallback whenever this is down).

One dedicated connection per replica listens on :data:`CHANNEL` and also sends the
replica's own notifications (its payload is the replica's origin, so a replica ignores its
own). A lost connection is reopened after ``reconnect_delay``; the workers are then woken
once, for anything queued meanwhile. Nothing here is durable: the queue is the ``jobs``
table, and a missed wake-up costs a poll interval, never a debate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from aragora.logs import log_event

__all__ = ["APPLICATION_NAME", "CHANNEL", "QueueNotifications"]

CHANNEL = "aragora_queue"
APPLICATION_NAME = "aragora-queue-notifications"
_log = logging.getLogger("aragora.runtime")


class QueueNotifications:
    """``LISTEN``/``NOTIFY`` wake-ups of the debate queue on the PostgreSQL at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        reconnect_delay: float = 1.0,
        connect_timeout: float = 5.0,
        connect: Callable[..., Any] = asyncpg.connect,
    ) -> None:
        self._url = url
        self._reconnect_delay = reconnect_delay
        self._connect_timeout = connect_timeout
        self._connect = connect
        self._origin = uuid.uuid4().hex[:12]
        self._callbacks: list[Callable[[], None]] = []
        self._conn: asyncpg.Connection | None = None
        self._listener: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._sending: asyncio.Task[None] | None = None
        self._resend = False
        self._closed = False
        self._warned = False
        self.connected = False
        """Whether the listening connection is up."""

    def on_queued(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever another replica announces a queued debate."""
        self._callbacks.append(callback)

    def start(self) -> None:
        """Open the listening connection (in the background; see the module)."""
        if self._listener is None and not self._closed:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="aragora-queue-notifications"
            )

    def announce(self) -> None:
        """Tell the other replicas a debate was queued (call it after the debate is
        committed). Never blocks; announcements made while one is being sent are sent
        once more after it, so none is lost to the coalescing."""
        if self._closed or self._conn is None:
            return
        if self._sending is not None and not self._sending.done():
            self._resend = True
            return
        self._sending = asyncio.get_running_loop().create_task(self._send())

    async def close(self) -> None:
        self._closed = True
        for task in (self._sending, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._disconnect()

    # --- internals --------------------------------------------------------------------------
    async def _send(self) -> None:
        while True:
            self._resend = False
            conn = self._conn
            if conn is None or conn.is_closed():
                return  # the listener reconnects and wakes everyone then
            try:
                await asyncio.wait_for(
                    conn.execute("SELECT pg_notify($1, $2)", CHANNEL, self._origin),
                    self._connect_timeout,
                )
            except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError) as exc:
                self._mark_lost(exc)
                return
            if not self._resend:
                return

    async def _listen(self) -> None:
        while not self._closed:
            try:
                # Held in self._conn from the moment it exists, so whatever happens next
                # (a cancelled close of this replica included) the finally closes it. The
                # driver bounds the connect itself: a connection made just as an outer
                # wait_for gave up would be lost, never closed.
                self._conn = conn = await self._connect(
                    self._url,
                    timeout=self._connect_timeout,
                    server_settings={"application_name": APPLICATION_NAME},
                )
                self._lost.clear()
                conn.add_termination_listener(lambda _conn: self._lost.set())
                await conn.add_listener(CHANNEL, self._heard)
                if self._warned:  # back after an outage
                    log_event(_log, "queue_notifications_connected", channel=CHANNEL)
                self.connected, self._warned = True, False
                self._wake()  # debates queued while this was not listening
                await self._lost.wait()
                raise ConnectionError("the listening connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._mark_lost(exc)
            finally:
                await self._disconnect()
            await asyncio.sleep(self._reconnect_delay)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload != self._origin:
            self._wake()

    def _wake(self) -> None:
        for callback in self._callbacks:
            callback()

    def _mark_lost(self, exc: BaseException) -> None:
        self._lost.set()
        self.connected = False
        if not self._warned:  # once per outage
            self._warned = True
            log_event(
                _log,
                "queue_notifications_unavailable",
                error=str(exc) or type(exc).__name__,
                level=logging.WARNING,
            )

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._connect_timeout)
        finally:
            if not conn.is_closed():
                conn.terminate()  # the polite close failed or was interrupted
