"""The inbound rate limits' buckets in Redis, shared by every replica (see
:mod:`aragora.server.ratelimit`). Its own module so that a server without Redis never
imports the Redis client: :func:`aragora.server.ratelimit.open_limiter` imports this one
only when ``ARAGORA_REDIS_URL`` is set."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from aragora.agents.resilience.shared_limits import BUCKET_SCRIPT
from aragora.logs import log_event
from aragora.server.ratelimit import KEY_PREFIX, Limit, LocalLimiter

__all__ = ["RedisLimiter", "open_redis_limiter"]

logger = logging.getLogger("aragora.server")

_SCRIPT_SHA = hashlib.sha1(BUCKET_SCRIPT.encode(), usedforsecurity=False).hexdigest()
_REDIS_TROUBLE = (RedisError, OSError, TimeoutError)


class RedisLimiter:
    """Buckets in Redis, shared by every replica; :class:`LocalLimiter` ``fallback`` while
    Redis is in trouble (see the module docstring). Owns ``client``."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        fallback: LocalLimiter | None = None,
        timeout: float = 0.25,
        retry_interval: float = 1.0,
        prefix: str = KEY_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._fallback = fallback or LocalLimiter(clock=clock)
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._prefix = prefix
        self._clock = clock
        self._up = True
        self._next_try = 0.0
        self._down_since = 0.0

    @property
    def shared(self) -> bool:
        """Whether Redis answered last time (False: buckets are local for now)."""
        return self._up

    async def hit(self, client: str, limit: Limit) -> float:
        """See :meth:`Limiter.hit`."""
        if self._usable():
            try:
                async with asyncio.timeout(self._timeout):
                    wait = await self._attempt(client, limit)
            except _REDIS_TROUBLE as exc:
                self._failed(exc)
            else:
                self._answered()
                return wait
        return self._fallback.take(client, limit)

    async def _attempt(self, client: str, limit: Limit) -> float:
        digest = hashlib.sha256(client.encode("utf-8")).hexdigest()[:32]
        key = f"{self._prefix}{limit.name}:{digest}"
        # An idle bucket expires once it would be full again: a missing key is a full one.
        expiry_ms = int(limit.burst / limit.rate * 1000) + 1000
        args = (key, repr(limit.rate), limit.burst, expiry_ms)
        try:
            reply = await self._client.evalsha(_SCRIPT_SHA, 1, *args)
        except NoScriptError:  # first use, or Redis restarted: EVAL caches it again
            reply = await self._client.eval(BUCKET_SCRIPT, 1, *args)
        # The script is the agents' start bucket; its last two values (the adapted rate and
        # ceiling) mean nothing for an inbound bucket, which never adapts.
        if not (
            isinstance(reply, list) and len(reply) == 4 and all(isinstance(v, int) for v in reply)
        ):
            raise ResponseError(f"unexpected reply from the rate-limit script: {reply!r}")
        granted, wait_us = reply[0], reply[1]
        return 0.0 if granted else wait_us / 1_000_000

    def _usable(self) -> bool:
        if self._up:
            return True
        now = self._clock()
        if now < self._next_try:
            return False
        self._next_try = now + self._retry_interval  # one probe per interval
        return True

    def _failed(self, exc: BaseException) -> None:
        now = self._clock()
        self._next_try = now + self._retry_interval
        if self._up:
            self._up = False
            self._down_since = now
            log_event(
                logger,
                "inbound_rate_limit_fallback",
                logging.WARNING,
                error=exc,
                retry_interval=self._retry_interval,
            )

    def _answered(self) -> None:
        if not self._up:
            self._up = True
            seconds = round(self._clock() - self._down_since, 3)
            log_event(logger, "inbound_rate_limit_shared", seconds_local=seconds)

    async def aclose(self) -> None:
        """Close the Redis client's connections."""
        await self._client.aclose()


def open_redis_limiter(url: str) -> RedisLimiter:
    """A :class:`RedisLimiter` on the Redis at ``url``; connects lazily."""
    # Fail fast (a request must not wait on Redis), retrying once at once so a pooled
    # connection that went stale is not taken for an outage.
    client = aioredis.Redis.from_url(
        url,
        socket_connect_timeout=0.25,
        socket_timeout=0.25,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisLimiter(client)
