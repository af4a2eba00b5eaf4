"""Inbound rate limits: one token bucket per client and limit, in this process or shared
by every replica through Redis.

A *client* is its bearer token when the request carries one (the ``Authorization``
header, or ``?token=`` on the WebSocket), else its peer address. Buckets refill at
``per_minute / 60`` tokens a second and hold at most ``per_minute`` (a minute's worth may
come at once). A request that finds its bucket empty is refused with the number of
seconds until a token accrues (``Retry-After``).

:class:`RedisLimiter` keeps the buckets in Redis with the same Lua script as the
providers' shared start rates (:data:`aragora.agents.shared_limits.BUCKET_SCRIPT`), so N
replicas together allow each client ``per_minute`` requests, not N times that. Redis
trouble never refuses a request: while Redis is unreachable, failing or slow, each replica
counts in its own :class:`LocalLimiter` (so the deployment allows up to N times the limit),
``inbound_rate_limit_fallback`` is logged once, and Redis is tried again at most every
``retry_interval`` seconds (``inbound_rate_limit_shared`` when it answers again).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError
from starlette.requests import HTTPConnection

from aragora.agents.shared_limits import BUCKET_SCRIPT
from aragora.logs import log_event
from aragora.settings import Settings

__all__ = [
    "KEY_PREFIX",
    "Limit",
    "Limiter",
    "LocalLimiter",
    "RedisLimiter",
    "client_key",
    "open_limiter",
    "peer_is_loopback",
    "retry_after_header",
]

logger = logging.getLogger("aragora.server")

KEY_PREFIX = "aragora:inbound:"
_SCRIPT_SHA = hashlib.sha1(BUCKET_SCRIPT.encode(), usedforsecurity=False).hexdigest()
_REDIS_TROUBLE = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Limit:
    """``per_minute`` requests a minute, up to a minute's worth at once, counted in the
    buckets named ``name`` (one per client)."""

    name: str
    per_minute: int

    @property
    def rate(self) -> float:
        """Tokens a second."""
        return self.per_minute / 60.0

    @property
    def burst(self) -> int:
        """Most tokens a bucket holds."""
        return self.per_minute


class Limiter(Protocol):
    """Where buckets are kept."""

    async def hit(self, client: str, limit: Limit) -> float:
        """Take one token from ``client``'s bucket of ``limit``: 0.0 when taken, else the
        seconds until one accrues (nothing taken)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class LocalLimiter:
    """Buckets in this process. At most ``max_buckets`` are kept; the least recently used
    is forgotten first (a forgotten bucket is a full one: a client seen again after that
    many others starts afresh)."""

    def __init__(
        self, *, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._max = max_buckets
        self._clock = clock

    async def hit(self, client: str, limit: Limit) -> float:
        """See :meth:`Limiter.hit`."""
        return self.take(client, limit)

    def take(self, client: str, limit: Limit) -> float:
        """:meth:`hit` without awaiting (the arithmetic is all local)."""
        key = (limit.name, client)
        now = self._clock()
        tokens, updated = self._buckets.pop(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + max(0.0, now - updated) * limit.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / limit.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return wait

    async def aclose(self) -> None:
        """Nothing to release."""


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
        if not (
            isinstance(reply, list) and len(reply) == 2 and all(isinstance(v, int) for v in reply)
        ):
            raise ResponseError(f"unexpected reply from the rate-limit script: {reply!r}")
        granted, wait_us = reply
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


def open_limiter(settings: Settings) -> Limiter:
    """The limiter ``settings`` ask for: shared through ``ARAGORA_REDIS_URL`` when set,
    else local. Connects lazily; close it with ``aclose``."""
    if settings.redis_url is None:
        return LocalLimiter()
    # Fail fast (a request must not wait on Redis), retrying once at once so a pooled
    # connection that went stale is not taken for an outage.
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=0.25,
        socket_timeout=0.25,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisLimiter(client)


def client_key(connection: HTTPConnection, *, query_token: bool = False) -> str:
    """Who a request counts against: ``t:`` and a digest of its bearer secret when it
    carries one (``?token=`` too when ``query_token``), else ``a:`` and its peer address.
    The secret is never kept, only its digest."""
    secret: str | None = None
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            secret = value.strip()
    elif query_token:
        secret = connection.query_params.get("token") or None
    if secret is not None:
        return "t:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:32]
    client = connection.client
    return "a:" + (client.host if client is not None else "unknown")


def peer_is_loopback(connection: HTTPConnection) -> bool:
    """Whether the peer address is loopback (``127.0.0.0/8``, ``::1``, or IPv4-mapped
    loopback). Says nothing about who is behind a proxy on this machine."""
    client = connection.client
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client.host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` for a wait of ``seconds``: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
