"""Per-endpoint request limits that queue calls instead of failing them.

A :class:`ProviderLimit` is shared by every agent of one endpoint: at most
``max_concurrency`` calls are in flight, and a token bucket lets at most ``rate`` calls
start per second (bursts up to ``burst``). A call over either limit *waits its turn*, in
arrival order (the runbook's "request queuing"); the wait has its own bound, and a call
that reaches it fails with kind ``queue_timeout`` naming the endpoint and its limit, never
with the timeout of the call itself, which starts only once the call is sent.

The start rate is a :class:`StartBucket`: this process's :class:`TokenBucket` by default
(:class:`LocalBuckets`), or one bucket for the whole deployment kept in Redis
(:mod:`aragora.agents.resilience.shared_limits`), chosen by the :class:`BucketSource` the
composition root gives the provider hub. Calls in flight are always counted per process.

Both limits adapt to what the provider says (:mod:`aragora.agents.resilience.adaptive`): each
response's headers reach :meth:`ProviderLimit.learn` (a
:class:`~aragora.agents.resilience.rate_signal.RateSignal`), which raises the start rate and
the slots while calls are answered, cuts them on a 429, and stops every start for a
``Retry-After`` or until an exhausted window resets.

The time a call waits here is its *queue time*: :class:`Dispatch
<aragora.agents.resilience.wrappers.Dispatch>` measures it around :meth:`ProviderLimit.acquire`,
returns it on the completion (``queued_seconds``) and keeps it in :data:`CALL_QUEUED` while
the call runs, so the adapter's ``agent_response_time`` log line shows it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Protocol

from aragora.agents.resilience.adaptive import AdaptivePolicy, RateState
from aragora.agents.resilience.forwarding import Wrapper
from aragora.agents.resilience.rate_signal import RateSignal
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import ProviderError

__all__ = [
    "CALL_QUEUED",
    "BucketSource",
    "Limited",
    "LocalBuckets",
    "ProviderLimit",
    "StartBucket",
    "TokenBucket",
    "Wakeup",
]

Sleep = Callable[[float], Awaitable[None]]

CALL_QUEUED: ContextVar[float] = ContextVar("aragora_call_queued", default=0.0)
"""Seconds the call running in this context waited for its endpoint's limits so far (set
by :class:`~aragora.agents.resilience.wrappers.Dispatch`, read by the adapters' logs)."""


class StartBucket(Protocol):
    """The start-rate limit of one endpoint (and model)."""

    async def take(self) -> None:
        """Return once a call may start (waiting its turn; never fails for the rate)."""
        ...

    async def learn(self, signal: RateSignal) -> None:
        """Adapt the rate to what one response said (see :mod:`.adaptive`)."""
        ...


class BucketSource(Protocol):
    """Where a provider hub gets the start bucket of each endpoint; the hub closes it."""

    def bucket(
        self,
        provider: str,
        endpoint: str,
        rate: float,
        burst: int,
        *,
        model: str = "",
        max_rate: float | None = None,
        fixed: bool = False,
    ) -> StartBucket:
        """The bucket letting ``rate`` calls a second start on ``provider``'s ``endpoint``
        (for ``model``; "" for every model), in bursts of up to ``burst``. The rate adapts
        up to ``max_rate`` (default ``rate``) or to the limit the provider states, which
        may not raise a ``fixed`` ceiling (see :mod:`aragora.agents.resilience.adaptive`)."""
        ...

    async def aclose(self) -> None:
        """Release what the buckets hold (connections); called when the hub closes."""
        ...


class Wakeup:
    """A ``sleep`` that :meth:`poke` ends early (a waiting bucket's rate went up)."""

    def __init__(self, sleep: Sleep) -> None:
        self._sleep = sleep
        self._poked: asyncio.Event | None = None

    async def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; True when poked before they were up."""
        poked = self._poked = asyncio.Event()
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        waking = asyncio.ensure_future(poked.wait())
        try:
            done, _ = await asyncio.wait((sleeping, waking), return_when=asyncio.FIRST_COMPLETED)
            return sleeping not in done
        finally:
            for task in (sleeping, waking):
                task.cancel()
            self._poked = None

    def poke(self) -> None:
        """End the sleep under way, if any."""
        if self._poked is not None:
            self._poked.set()


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; :meth:`take` waits for one.

    The rate adapts (:meth:`learn`) between ``policy.floor`` and ``max_rate`` (default
    ``rate``) or the limit the provider states (never above a ``fixed`` ceiling); once it
    has risen above ``rate`` and ``burst`` the bucket holds one second's worth of starts,
    so a wave a provider allows is not staggered by a burst sized for the starting rate."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_rate: float | None = None,
        fixed: bool = False,
        policy: AdaptivePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1 or (max_rate is not None and max_rate < rate):
            raise ValueError("a token bucket needs rate > 0, burst >= 1 and max_rate >= rate")
        ceiling = rate if max_rate is None else max_rate
        self._state = RateState(rate=rate, ceiling=ceiling, fixed=fixed, configured=ceiling)
        self._initial = rate
        self._policy = policy or AdaptivePolicy()
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()  # FIFO: waiters are served in arrival order
        self._wakeup = Wakeup(sleep)

    @property
    def rate(self) -> float:
        """Starts a second allowed now."""
        return self._state.rate

    @property
    def burst(self) -> float:
        """The most tokens held: the configured burst, or one second's worth of starts once
        the rate has risen above the configured one."""
        rate = self._state.rate
        return max(self._burst, rate) if rate > self._initial else self._burst

    @property
    def state(self) -> RateState:
        """The adaptive state (a copy)."""
        return dataclasses.replace(self._state)

    def _refill(self) -> None:
        now = self._clock()
        gained = max(0.0, now - max(self._updated, self._state.paused_until)) * self._state.rate
        self._tokens = min(self.burst, self._tokens + gained)
        self._updated = max(self._updated, now)

    async def take(self) -> None:
        """Remove one token, first waiting out any pause and until one has accumulated."""
        async with self._lock:
            pause = self._state.paused_until - self._clock()
            if pause > 0:
                await self._sleep(pause)
            self._refill()
            # A rate raised meanwhile (an answer arrived) wakes the wait to count again.
            while self._tokens < 1 and await self._wakeup.sleep(
                (1 - self._tokens) / self._state.rate
            ):
                self._refill()
            self._refill()
            self._tokens = max(0.0, self._tokens - 1)

    async def learn(self, signal: RateSignal) -> None:
        """Adapt to one response (see :mod:`aragora.agents.resilience.adaptive`); a window the
        provider says has ``remaining`` requests left caps the tokens held."""
        self._refill()
        before = self._state.rate
        self._state.learn(signal, self._clock(), self._policy)
        if self._state.rate > before:
            self._wakeup.poke()
        if signal.remaining is not None:
            self._tokens = min(self._tokens, float(signal.remaining))


class LocalBuckets:
    """A :class:`BucketSource` of this process's own :class:`TokenBucket` s."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._clock = clock
        self._sleep = sleep

    def bucket(
        self,
        provider: str,
        endpoint: str,
        rate: float,
        burst: int,
        *,
        model: str = "",
        max_rate: float | None = None,
        fixed: bool = False,
    ) -> TokenBucket:
        """A new in-process bucket (the hub keeps one per endpoint and model)."""
        return TokenBucket(
            rate, burst, max_rate=max_rate, fixed=fixed, clock=self._clock, sleep=self._sleep
        )

    async def aclose(self) -> None:
        """Nothing to release."""


class _Slots:
    """A FIFO semaphore whose capacity can change while calls hold or wait for slots."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.used < self.capacity and not self._waiters:
            self.used += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as the caller gave up: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, capacity: int) -> None:
        """From now on at most ``capacity`` slots are held (calls holding more keep them
        until they give them back)."""
        self.capacity = capacity
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.used < self.capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.used += 1
                waiter.set_result(None)


class ProviderLimit:
    """Concurrency and rate limits for one endpoint; shared by its agents.

    The start rate is the bucket a call brings to :meth:`acquire` (one per model), else
    ``bucket`` when given, else a local :class:`TokenBucket` of ``rate`` and ``burst`` (no
    rate limit when neither is given). ``provider`` and ``endpoint`` name the endpoint in a
    ``queue_timeout`` error. With ``adaptive`` (the default), the slots in use follow the
    provider too: halved on a 429 (at least one), one more per answered call, up to
    ``max_concurrency``."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        rate: float | None = None,
        burst: int = 1,
        bucket: StartBucket | None = None,
        provider: str = "",
        endpoint: str = "",
        adaptive: AdaptivePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.max_concurrency = max_concurrency
        self.provider = provider
        self.endpoint = endpoint
        self._slots = _Slots(max_concurrency)
        self._serialised = False
        if bucket is None and rate:
            bucket = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._bucket = bucket
        self._adaptive = adaptive if adaptive is not None else AdaptivePolicy()
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self._cut_at = -math.inf
        self.in_flight = 0
        """Calls currently holding a slot."""
        self.waiting = 0
        """Calls queued for a slot or a token."""

    @property
    def bucket(self) -> StartBucket | None:
        """The start-rate bucket of calls that bring none (None: no rate limit)."""
        return self._bucket

    @property
    def concurrency(self) -> int:
        """Slots in use now (at most :attr:`max_concurrency`; fewer after 429s)."""
        return self._slots.capacity

    @property
    def name(self) -> str:
        """``provider endpoint``, as errors and logs show it."""
        return " ".join(part for part in (self.provider, self.endpoint) if part) or "endpoint"

    async def acquire(
        self, max_wait: float | None = None, bucket: StartBucket | None = None
    ) -> None:
        """Wait for a slot, then out any pause, then for the start rate (``bucket``, else
        the endpoint's), in arrival order, at most ``max_wait`` seconds (None: as long as
        it takes); then the caller holds a slot until :meth:`release`. Raises a
        :class:`ProviderError` of kind ``queue_timeout`` naming the endpoint and its limit
        when the wait runs out (holding nothing then)."""
        self.waiting += 1
        holding = False
        rate = bucket if bucket is not None else self._bucket
        try:
            async with asyncio.timeout(max_wait):
                await self._slots.acquire()
                holding = True
                pause = self._paused_until - self._clock()
                if pause > 0:
                    await self._sleep(pause)
                if rate is not None:
                    await rate.take()
        except TimeoutError:
            if holding:
                self._slots.release()
            raise ProviderError(
                f"waited {max_wait:g} s for one of {self.concurrency} slots "
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

    async def learn(self, signal: RateSignal, bucket: StartBucket | None = None) -> None:
        """Adapt to what one response said: the slots (see the class), a pause of every
        start for ``Retry-After`` or until an exhausted window resets, and the start rate
        of ``bucket`` (else the endpoint's)."""
        now = self._clock()
        holding = now - self._cut_at < self._adaptive.hold
        slots = self._slots.capacity
        if signal.limited and not holding:
            self._cut_at = now
            slots = max(1, int(slots * self._adaptive.decrease))
        elif signal.answered and not holding and not self._serialised:
            slots = min(self.max_concurrency, slots + 1)
        if slots != self._slots.capacity:
            self._slots.resize(slots)
        pause = None
        if signal.retry_after is not None and (signal.limited or signal.remaining == 0):
            pause = signal.retry_after
        if signal.remaining == 0 and signal.reset is not None:
            pause = max(pause or 0.0, signal.reset)
        if pause is not None:
            self._paused_until = max(self._paused_until, now + pause)
        rate = bucket if bucket is not None else self._bucket
        if rate is not None:
            await rate.learn(signal)

    def serialise(self) -> bool:
        """From now on let one call at a time through; True the first time.

        For an endpoint that ends a running stream as soon as another request arrives
        (llama.cpp's servers by default): more than one call in flight there only makes
        them interrupt each other. Calls holding the other slots keep them until they
        give them back; no new call gets one."""
        if self.max_concurrency == 1 or self._serialised:
            return False
        self._serialised = True
        self.max_concurrency = 1
        self._slots.resize(1)
        return True

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
