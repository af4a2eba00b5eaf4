"""Inbound rate limits: one token bucket per client and limit, in this process or shared
by every replica through Redis.

A *client* is its bearer token when the request carries one (the ``Authorization``
header, or ``?token=`` on the WebSocket), else its peer address. Buckets refill at
``per_minute / 60`` tokens a second and hold at most ``per_minute`` (a minute's worth may
come at once). A request that finds its bucket empty is refused with the number of
seconds until a token accrues (``Retry-After``).

:class:`~aragora.server.redis_limiter.RedisLimiter` keeps the buckets in Redis with the
same Lua script as the providers' shared start rates
(:data:`aragora.agents.resilience.shared_limits.BUCKET_SCRIPT`), so N replicas together allow each
client ``per_minute`` requests, not N times that. Redis trouble never refuses a request:
while Redis is unreachable, failing or slow, each replica counts in its own
:class:`LocalLimiter` (so the deployment allows up to N times the limit),
``inbound_rate_limit_fallback`` is logged once, and Redis is tried again at most every
``retry_interval`` seconds (``inbound_rate_limit_shared`` when it answers again).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from starlette.requests import HTTPConnection

from aragora.settings import Settings

__all__ = [
    "KEY_PREFIX",
    "Limit",
    "Limiter",
    "LocalLimiter",
    "client_key",
    "open_limiter",
    "peer_is_loopback",
    "retry_after_header",
]

KEY_PREFIX = "aragora:inbound:"


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


def open_limiter(settings: Settings) -> Limiter:
    """The limiter ``settings`` ask for: shared through ``ARAGORA_REDIS_URL`` when set,
    else local. Connects lazily; close it with ``aclose``."""
    if settings.redis_url is None:
        return LocalLimiter()
    # Imported here: a server without Redis does not pay for loading the client.
    from aragora.server.redis_limiter import open_redis_limiter

    return open_redis_limiter(settings.redis_url)


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
