"""The event bus across replicas: Redis pub/sub, one channel per debate.

A replica delivers its own frames to its own subscribers at once (through a
:class:`~aragora.runtime.bus.LocalBus`) and publishes them to Redis for the others; a
single pub/sub connection per replica subscribes to exactly the debates that have local
subscribers, and frames a replica published itself are recognised by their origin and
not delivered twice.

The same connection carries the queue's wake-ups: :meth:`RedisBus.announce_queued`
publishes on :data:`QUEUE_CHANNEL` when a debate is queued, and every other replica calls
the callbacks given to :meth:`RedisBus.on_queued` (its workers' ``wake``), so an idle
replica claims a new debate at once rather than at its next poll, which stays the
fallback while Redis is down.

Frames leave for Redis in the order they were published, from one sender task, so a
publisher (a debate appending its events) never waits on Redis: it delivers locally and
moves on. Redis holds nothing durable here. When it is unreachable the bus reports
``degraded``, publishing is skipped (what waited to leave is dropped), every local stream
is nudged to read the log and then polls it about once a second; when Redis is back the
subscriptions are restored and streams are nudged again to close any gap. Nothing is lost
because nothing is only on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from aragora.logs import log_event
from aragora.runtime.bus import Frame, LocalBus, Subscription

__all__ = ["QUEUE_CHANNEL", "RedisBus"]

_log = logging.getLogger("aragora.runtime.bus")
CHANNEL_PREFIX = "aragora:debate:"
QUEUE_CHANNEL = "aragora:queue"
_SEPARATOR = "\x1f"  # ASCII unit separator: never in ids, types or JSON text
HEALTHY_POLL = 5.0
DEGRADED_POLL = 1.0
MAX_CONNECTIONS = 50
MAX_OUTBOX = 10_000
"""Most frames waiting for Redis; past it the oldest are dropped (a remote stream reads the
gap back from the log)."""
SEND_BATCH = 256
"""Most frames sent in one round trip (a pipeline of publishes, in order)."""


class RedisBus:
    """Fan-out through Redis pub/sub with the log as the fallback (see the module)."""

    def __init__(
        self,
        url: str,
        *,
        client_factory: Callable[[str], aioredis.Redis] | None = None,
        reconnect_delay: float = 0.5,
        timeout: float = 2.0,
    ) -> None:
        self._url = url
        factory = client_factory or _client
        self._client = factory(url)
        self._origin = uuid.uuid4().hex[:12]
        self._local = LocalBus()
        self._reconnect_delay = reconnect_delay
        self._timeout = timeout
        self._healthy = False
        self._subscribed: set[str] = set()
        self._changed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._outbox: deque[Frame] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._on_queued: list[Callable[[], None]] = []

    # --- EventBus ---------------------------------------------------------------------------
    @property
    def poll_interval(self) -> float | None:
        return HEALTHY_POLL if self._healthy else DEGRADED_POLL

    @property
    def healthy(self) -> bool:
        """Whether the pub/sub connection is up and subscribed."""
        return self._healthy

    async def publish(self, frame: Frame) -> None:
        self.publish_nowait(frame)

    def publish_nowait(self, frame: Frame) -> None:
        self._local.publish_nowait(frame)
        self._ensure_listener()
        if not self._healthy or self._closed:
            return  # streams on other replicas are polling the log meanwhile
        if len(self._outbox) >= MAX_OUTBOX:
            self._outbox.popleft()  # a remote stream sees the gap and reads the log
        self._outbox.append(frame)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(
                self._send(), name="aragora-redis-publish"
            )

    def subscribe(self, debate_id: str, *, maxsize: int) -> Subscription:
        subscription = self._local.subscribe(debate_id, maxsize=maxsize)
        self._ensure_listener()
        self._changed.set()
        return _Tracked(subscription, self._changed)

    def nudge(self, debate_id: str | None = None) -> None:
        self._local.nudge(debate_id)

    # --- the queue's wake-ups -------------------------------------------------------------
    def on_queued(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever another replica announces a queued debate."""
        self._on_queued.append(callback)
        self._ensure_listener()

    def announce_queued(self) -> None:
        """Tell the other replicas a debate was queued (best effort, never blocks: a
        replica that misses it claims the debate at its next poll)."""
        self._ensure_listener()
        if not self._healthy or len(self._pending) > 1000:
            return
        task = asyncio.get_running_loop().create_task(self._announce())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _announce(self) -> None:
        try:
            await asyncio.wait_for(self._client.publish(QUEUE_CHANNEL, self._origin), self._timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self._mark_down(exc)

    async def close(self) -> None:
        if self._sender is not None:  # what was published before the close still leaves
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._sender), self._timeout)
            self._sender.cancel()
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        for task in list(self._pending):
            task.cancel()
        await self._local.close()
        with contextlib.suppress(Exception):
            await self._client.aclose()

    async def health(self) -> str:
        """``healthy`` when Redis answers a PING, else ``degraded`` (never fatal)."""
        self._ensure_listener()
        try:
            await asyncio.wait_for(self._client.ping(), self._timeout)
        except (RedisError, OSError, TimeoutError):
            return "degraded"
        return "healthy" if self._healthy or self._listener is None else "degraded"

    # --- internals --------------------------------------------------------------------------
    def _encode(self, frame: Frame) -> str:
        seq = "" if frame.seq is None else str(frame.seq)
        return _SEPARATOR.join((self._origin, frame.debate_id, seq, frame.type, frame.text))

    async def _send(self) -> None:
        """Publish the outbox's frames in order until it is empty, what waited at once
        (up to :data:`SEND_BATCH`) in one round trip; on a failure drop what waits (the
        streams read the log while the bus is down) and mark the bus down.

        A lone debate's frames leave one by one as they come; under a burst hundreds wait
        between two round trips, and sending them one per round trip had cost a replica
        ~5 % of its CPU."""
        outbox = self._outbox
        while outbox and self._healthy:
            batch = [outbox.popleft() for _ in range(min(len(outbox), SEND_BATCH))]
            try:
                async with asyncio.timeout(self._timeout):
                    if len(batch) == 1:
                        frame = batch[0]
                        channel = CHANNEL_PREFIX + frame.debate_id
                        await self._client.publish(channel, self._encode(frame))
                        continue
                    pipe = self._client.pipeline(transaction=False)
                    for frame in batch:
                        pipe.publish(CHANNEL_PREFIX + frame.debate_id, self._encode(frame))
                    await pipe.execute()
            except (RedisError, OSError, TimeoutError) as exc:
                self._mark_down(exc)
                return

    def _ensure_listener(self) -> None:
        if self._listener is None and not self._closed:
            self._listener = asyncio.get_running_loop().create_task(
                self._listen(), name="aragora-redis-bus"
            )

    def _mark_down(self, exc: BaseException) -> None:
        self._outbox.clear()  # the streams read the log meanwhile
        if self._healthy:
            self._healthy = False
            log_event(_log, "redis_unavailable", error=str(exc), level=logging.WARNING)
            self._local.nudge()  # streams read the log now, then poll it

    async def _listen(self) -> None:
        while not self._closed:
            pubsub: Any = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                # Idle pooled connections may predate a Redis restart: one handed to this
                # subscription or to a publish would fail on first use and flap the bus.
                await self._client.connection_pool.disconnect(inuse_connections=False)
                self._subscribed = set()
                await self._sync_subscriptions(pubsub, force=True)
                if not self._healthy:
                    self._healthy = True
                    log_event(_log, "redis_connected")
                self._local.nudge()  # anything published while we were away is in the log
                for callback in self._on_queued:
                    callback()  # and debates queued meanwhile wait in the queue
                while not self._closed:
                    if not self._healthy:
                        # A publish failed (e.g. on a pooled connection Redis closed when it
                        # restarted): only a fresh subscribe may declare the bus healthy
                        # again, so reconnect rather than stay degraded for good.
                        break
                    if self._changed.is_set():
                        await self._sync_subscriptions(pubsub)
                    message = await pubsub.get_message(timeout=0.05)
                    if message is not None and message.get("type") == "message":
                        self._deliver(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError, ConnectionError) as exc:
                self._mark_down(exc)
            except Exception as exc:
                _log.exception("redis bus listener failed")
                self._mark_down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(self._reconnect_delay)

    async def _sync_subscriptions(self, pubsub: Any, *, force: bool = False) -> None:
        self._changed.clear()
        wanted = set(self._local.debates())
        added = wanted - self._subscribed
        removed = self._subscribed - wanted
        if added or force:
            channels = [CHANNEL_PREFIX + d for d in (wanted if force else added)]
            # Always hold the queue's channel: the connection is then in pub/sub mode (so
            # its loss shows) and hears of debates queued on other replicas.
            await pubsub.subscribe(QUEUE_CHANNEL, *channels)
        if removed:
            await pubsub.unsubscribe(*[CHANNEL_PREFIX + d for d in removed])
        self._subscribed = wanted
        for debate_id in added:
            self._local.nudge(debate_id)  # frames published before this took effect

    def _deliver(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
        channel = message.get("channel")
        if (channel.decode() if isinstance(channel, bytes) else channel) == QUEUE_CHANNEL:
            if text != self._origin:
                for callback in self._on_queued:
                    callback()
            return
        parts = text.split(_SEPARATOR, 4)
        if len(parts) != 5 or parts[0] == self._origin:
            return
        _origin, debate_id, seq, kind, body = parts
        self._local.publish_nowait(
            Frame(debate_id=debate_id, seq=int(seq) if seq else None, type=kind, text=body)
        )


class _Tracked:
    """A local subscription that tells the bus when it closes (to unsubscribe in Redis)."""

    __slots__ = ("_changed", "_inner")

    def __init__(self, inner: Subscription, changed: asyncio.Event) -> None:
        self._inner = inner
        self._changed = changed

    async def get(self, within: float | None = None) -> Frame | None:
        return await self._inner.get(within)

    def close(self) -> None:
        self._inner.close()
        self._changed.set()


def _client(url: str) -> aioredis.Redis:
    # A blocking pool: with hundreds of debates publishing at once, redis-py's default
    # pool raises "Too many connections" past 100, which would read as Redis being down.
    # Here a publish waits for a connection instead (bounded by the bus's own timeout).
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=None,
        socket_connect_timeout=2,
        socket_keepalive=True,
        health_check_interval=10,
    )
    return aioredis.Redis.from_pool(pool)
