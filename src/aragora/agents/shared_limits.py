"""Start-rate limits shared by every replica, kept in Redis.

With Redis configured, the start-rate bucket of each provider endpoint is one token bucket
for the whole deployment: the hash ``aragora:ratelimit:{provider}:{endpoint hash}`` holds
its ``tokens`` and the time of their last refill, and one Lua script refills, takes a
token or says how long to wait, atomically and by Redis's own clock (``TIME``), so N
replicas together start at most ``rate`` calls a second in bursts of at most ``burst``
whatever their clocks say. An idle key expires once it would be full again, so a missing
key (expired, or lost to ``FLUSHDB``) simply means a full bucket. Needs Redis 5 or later.

Redis trouble never stops a call: when Redis is unreachable, fails, or does not answer
within ``timeout``, the call takes a token from this process's own
:class:`~aragora.agents.limits.TokenBucket` of the same rate instead, a
``rate_limit_fallback`` warning is logged once per outage, and Redis is tried again at most
every ``retry_interval`` seconds; ``rate_limit_shared`` is logged when it answers again.
During an outage each replica keeps to the rate on its own, so the deployment may start up
to N times the rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from aragora.agents.limits import TokenBucket
from aragora.logs import log_event

__all__ = ["BUCKET_SCRIPT", "KEY_PREFIX", "RedisBuckets", "RedisTokenBucket", "bucket_key"]

_log = logging.getLogger("aragora.agents")

Sleep = Callable[[float], Awaitable[None]]

KEY_PREFIX = "aragora:ratelimit:"

BUCKET_SCRIPT = """
-- KEYS[1]: the bucket's hash; ARGV: rate (tokens/s), burst, idle expiry (ms).
-- Returns {1, 0} when a token was taken, else {0, microseconds until one accrues}.
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
-- A clock that stepped back refills nothing (and creates no tokens).
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  granted = 1
else
  wait = math.ceil((1 - tokens) / rate * 1000000)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {granted, wait}
"""
"""The bucket's arithmetic, run atomically inside Redis."""

_SCRIPT_SHA = hashlib.sha1(BUCKET_SCRIPT.encode(), usedforsecurity=False).hexdigest()
# Anything Redis can do wrong (refused, reset, timed out, an error reply, a reply of the
# wrong shape) sends the call to the local bucket.
_REDIS_TROUBLE = (RedisError, OSError, TimeoutError)


def bucket_key(provider: str, endpoint: str, prefix: str = KEY_PREFIX) -> str:
    """The Redis key of ``provider``'s bucket for ``endpoint`` (hashed: URLs stay short)."""
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
    return f"{prefix}{provider}:{digest}"


class _Link:
    """Whether Redis is usable, shared by the buckets of one client: one warning per
    outage, and at most one retry every ``retry_interval`` seconds while it lasts."""

    def __init__(self, retry_interval: float, clock: Callable[[], float]) -> None:
        self._retry_interval = retry_interval
        self._clock = clock
        self.up = True
        self._down_since = 0.0
        self._next_try = 0.0

    def usable(self) -> bool:
        """Whether to ask Redis now; while down, True for one caller per interval."""
        if self.up:
            return True
        now = self._clock()
        if now < self._next_try:
            return False
        self._next_try = now + self._retry_interval  # the others stay local meanwhile
        return True

    def failed(self, key: str, exc: BaseException) -> None:
        now = self._clock()
        self._next_try = now + self._retry_interval
        if self.up:
            self.up = False
            self._down_since = now
            log_event(
                _log,
                "rate_limit_fallback",
                logging.WARNING,
                key=key,
                error=exc,
                retry_interval=self._retry_interval,
            )

    def answered(self) -> None:
        if not self.up:
            self.up = True
            down = self._clock() - self._down_since
            log_event(_log, "rate_limit_shared", seconds_local=round(down, 3))


class RedisTokenBucket:
    """One endpoint's start-rate bucket in Redis, shared by every replica (see the module).

    Local callers are served in arrival order: one at a time asks Redis and, when no token
    is left, sleeps the wait Redis computed and asks again."""

    def __init__(
        self,
        client: Redis,
        key: str,
        rate: float,
        burst: int,
        *,
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        link: _Link | None = None,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.key = key
        self._client = client
        self._rate = rate
        self._burst = burst
        # Long enough for an idle bucket to fill up again: after it, a missing key is exact.
        self._expiry_ms = int(burst / rate * 1000) + 1000
        self._timeout = timeout
        self._sleep = sleep
        self._link = link if link is not None else _Link(retry_interval, clock)
        self._local = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._lock = asyncio.Lock()  # FIFO among this process's callers

    @property
    def shared(self) -> bool:
        """Whether the last word from Redis was an answer (not an outage)."""
        return self._link.up

    async def take(self) -> None:
        """Take one token from the shared bucket, waiting until one accrues; while Redis is
        in trouble, take it from the local bucket instead."""
        async with self._lock:
            while self._link.usable():
                try:
                    async with asyncio.timeout(self._timeout):
                        wait = await self.attempt()
                except _REDIS_TROUBLE as exc:
                    self._link.failed(self.key, exc)
                    break
                self._link.answered()
                if wait <= 0:
                    return
                await self._sleep(wait)
            await self._local.take()

    async def attempt(self) -> float:
        """Run the bucket script once: 0.0 when a token was taken, else the seconds until
        one accrues. Raises what the Redis client raises (no timeout of its own)."""
        args = (self.key, repr(self._rate), self._burst, self._expiry_ms)
        try:
            reply = await self._client.evalsha(_SCRIPT_SHA, 1, *args)
        except NoScriptError:  # first use, or Redis restarted: EVAL caches it again
            reply = await self._client.eval(BUCKET_SCRIPT, 1, *args)
        if not (
            isinstance(reply, list) and len(reply) == 2 and all(isinstance(v, int) for v in reply)
        ):
            raise ResponseError(f"unexpected reply from the rate-limit script: {reply!r}")
        granted, wait_us = reply
        return 0.0 if granted else wait_us / 1_000_000


class RedisBuckets:
    """A :class:`~aragora.agents.limits.BucketSource` of :class:`RedisTokenBucket` s on one
    Redis client, which it owns (closed by :meth:`aclose`). Its buckets share one view of
    whether Redis is up, so an outage is logged once and probed at most every
    ``retry_interval`` seconds."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = KEY_PREFIX,
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._link = _Link(retry_interval, clock)

    @property
    def shared(self) -> bool:
        """Whether Redis answered last time (False during an outage: buckets are local)."""
        return self._link.up

    def bucket(self, provider: str, endpoint: str, rate: float, burst: int) -> RedisTokenBucket:
        """The deployment-wide bucket of ``provider``'s ``endpoint``."""
        return RedisTokenBucket(
            self._client,
            bucket_key(provider, endpoint, self._prefix),
            rate,
            burst,
            timeout=self._timeout,
            clock=self._clock,
            sleep=self._sleep,
            link=self._link,
        )

    async def aclose(self) -> None:
        """Close the Redis client's connections."""
        await self._client.aclose()
