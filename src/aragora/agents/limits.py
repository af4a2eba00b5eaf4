"""Per-endpoint request limits that queue calls instead of failing them.

A :class:`ProviderLimit` is shared by every agent of one endpoint: at most
``max_concurrency`` calls are in flight, and a token bucket lets at most ``rate`` calls
start per second (bursts up to ``burst``). A call over either limit *waits its turn*, in
arrival order (the runbook's "request queuing"); the wait has its own bound, and a call
that reaches it fails with kind ``queue_timeout`` naming the endpoint and its limit, never
with the timeout of the call itself, which starts only once the call is sent.

The start rate is a :class:`StartBucket`: this process's :class:`TokenBucket` by default
(:class:`LocalBuckets`), or one bucket for the whole deployment kept in Redis
(:mod:`aragora.agents.shared_limits`), chosen by the :class:`BucketSource` the composition
root gives the provider hub. Calls in flight are always counted per process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from aragora.agents.http import Kind
from aragora.agents.wrapper import Wrapper
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import ProviderError

__all__ = [
    "BucketSource",
    "Limited",
    "LocalBuckets",
    "ProviderLimit",
    "StartBucket",
    "TokenBucket",
]

Sleep = Callable[[float], Awaitable[None]]


class StartBucket(Protocol):
    """The start-rate limit of one endpoint."""

    async def take(self) -> None:
        """Return once a call may start (waiting its turn; never fails for the rate)."""
        ...


class BucketSource(Protocol):
    """Where a provider hub gets the start bucket of each endpoint; the hub closes it."""

    def bucket(self, provider: str, endpoint: str, rate: float, burst: int) -> StartBucket:
        """The bucket letting ``rate`` calls a second start on ``provider``'s ``endpoint``,
        in bursts of up to ``burst``."""
        ...

    async def aclose(self) -> None:
        """Release what the buckets hold (connections); called when the hub closes."""
        ...


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; :meth:`take` waits for one."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()  # FIFO: waiters are served in arrival order

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def take(self) -> None:
        """Remove one token, first waiting until one has accumulated."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self._rate)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1)


class LocalBuckets:
    """A :class:`BucketSource` of this process's own :class:`TokenBucket` s."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._clock = clock
        self._sleep = sleep

    def bucket(self, provider: str, endpoint: str, rate: float, burst: int) -> TokenBucket:
        """A new in-process bucket (the hub keeps one per endpoint)."""
        return TokenBucket(rate, burst, clock=self._clock, sleep=self._sleep)

    async def aclose(self) -> None:
        """Nothing to release."""


class ProviderLimit:
    """Concurrency and rate limits for one endpoint; shared by its agents.

    The start rate is ``bucket`` when given, else a local :class:`TokenBucket` of ``rate``
    and ``burst`` (no rate limit when neither is given). ``provider`` and ``endpoint`` name
    the endpoint in a ``queue_timeout`` error."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        rate: float | None = None,
        burst: int = 1,
        bucket: StartBucket | None = None,
        provider: str = "",
        endpoint: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.provider = provider
        self.endpoint = endpoint
        self._slots = asyncio.Semaphore(max_concurrency)
        self._narrowing: asyncio.Task[None] | None = None
        if bucket is None and rate:
            bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._bucket = bucket
        self.in_flight = 0
        """Calls currently holding a slot."""
        self.waiting = 0
        """Calls queued for a slot or a token."""

    @property
    def bucket(self) -> StartBucket | None:
        """The start-rate bucket (None: no rate limit)."""
        return self._bucket

    @property
    def name(self) -> str:
        """``provider endpoint``, as errors and logs show it."""
        return " ".join(part for part in (self.provider, self.endpoint) if part) or "endpoint"

    async def acquire(self, max_wait: float | None = None) -> None:
        """Wait for a slot and then for the start rate, in arrival order, at most
        ``max_wait`` seconds (None: as long as it takes); then the caller holds a slot until
        :meth:`release`. Raises a :class:`ProviderError` of kind ``queue_timeout`` naming
        the endpoint and its limit when the wait runs out (holding nothing then)."""
        self.waiting += 1
        holding = False
        try:
            async with asyncio.timeout(max_wait):
                await self._slots.acquire()
                holding = True
                if self._bucket is not None:
                    await self._bucket.take()
        except TimeoutError:
            if holding:
                self._slots.release()
            raise ProviderError(
                f"waited {max_wait:g} s for one of {self.max_concurrency} slots "
                f"on {self.name} (ARAGORA_AGENT_LIMITS sets the slots, "
                "ARAGORA_AGENT_QUEUE_TIMEOUT the wait)",
                kind=Kind.QUEUE_TIMEOUT,
                provider=self.provider,
            ) from None
        except BaseException:
            if holding:
                self._slots.release()
            raise
        finally:
            self.waiting -= 1
        self.in_flight += 1

    def release(self) -> None:
        """Give back a slot taken by :meth:`acquire`."""
        self.in_flight -= 1
        self._slots.release()

    def serialise(self) -> bool:
        """From now on let one call at a time through; True the first time.

        For an endpoint that ends a running stream as soon as another request arrives
        (llama.cpp's servers by default): more than one call in flight there only makes
        them interrupt each other. The other slots leave circulation as their holders give
        them back (a task takes them, in queue order, and keeps them)."""
        if self.max_concurrency == 1 or self._narrowing is not None:
            return False
        extra, self.max_concurrency = self.max_concurrency - 1, 1
        self._narrowing = asyncio.get_running_loop().create_task(
            self._take_out(extra), name=f"aragora-serialise {self.name}"
        )
        return True

    async def _take_out(self, count: int) -> None:
        for _ in range(count):
            await self._slots.acquire()

    @asynccontextmanager
    async def slot(self, max_wait: float | None = None) -> AsyncIterator[None]:
        """Hold one of the endpoint's slots (see :meth:`acquire`)."""
        await self.acquire(max_wait)
        try:
            yield
        finally:
            self.release()


class Limited(Wrapper):
    """Makes each call wait for a slot of its endpoint's :class:`ProviderLimit`, at most
    ``queue_timeout`` seconds (None: as long as it takes)."""

    def __init__(
        self, inner: LLM, limit: ProviderLimit, *, queue_timeout: float | None = None
    ) -> None:
        super().__init__(inner)
        self._limit = limit
        self._queue_timeout = queue_timeout

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Queue for a slot, then call the wrapped agent."""
        async with self._limit.slot(self._queue_timeout):
            return await self._inner.complete(request, on_token)
