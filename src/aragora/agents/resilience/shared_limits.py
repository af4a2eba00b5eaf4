"""Start-rate limits shared by every replica, kept in Redis.

With Redis configured, the start-rate bucket of each provider endpoint is one token bucket
for the whole deployment: the hash ``aragora:ratelimit:{provider}:{endpoint hash}`` holds
its ``tokens`` and the time of their last refill, and one Lua script refills, takes a
token or says how long to wait, atomically and by Redis's own clock (``TIME``), so N
replicas together start at most ``rate`` calls a second in bursts of at most ``burst``
whatever their clocks say. An idle key expires once it would be full again, so a missing
key (expired, or lost to ``FLUSHDB``) simply means a full bucket. Needs Redis 5 or later.

The adaptation (:mod:`aragora.agents.resilience.adaptive`) is shared the same way: what a response
said (:meth:`RedisTokenBucket.learn`) runs a second script on the same hash, which keeps the
adapted ``rate``, its ``ceiling``, the time starts are paused ``until`` and the time of the
last ``cut``, so a 429 or a ``Retry-After`` met by one replica slows and pauses every
replica. A bucket whose rate was adapted keeps its state for :data:`ADAPTED_TTL` seconds
after the last response that changed it, then starts again from the configured rate. To
spare Redis, a replica asks only when the response can change something: a 429, a pause, an
exhausted window, a stated limit it has not seen, or an answer while the rate is below its
ceiling (it learns the rate and ceiling from every reply).

Redis trouble never stops a call: when Redis is unreachable, fails, or does not answer
within ``timeout``, the call takes a token from this process's own
:class:`~aragora.agents.resilience.limits.TokenBucket` of the same rate instead, a
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

from aragora.agents.resilience.adaptive import AdaptivePolicy
from aragora.agents.resilience.limits import TokenBucket, Wakeup
from aragora.agents.resilience.rate_signal import RateSignal
from aragora.logs import log_event

__all__ = [
    "ADAPTED_TTL",
    "BUCKET_SCRIPT",
    "KEY_PREFIX",
    "LEARN_SCRIPT",
    "RedisBuckets",
    "RedisTokenBucket",
    "bucket_key",
]

_log = logging.getLogger("aragora.agents")

Sleep = Callable[[float], Awaitable[None]]

KEY_PREFIX = "aragora:ratelimit:"
ADAPTED_TTL = 60.0
"""Seconds an adapted bucket keeps its state after the last response that changed it."""

BUCKET_SCRIPT = """
-- KEYS[1]: the bucket's hash; ARGV: rate (tokens/s), burst, idle expiry (ms).
-- Returns {1, 0, rate, ceiling} when a token was taken, else {0, microseconds until one
-- accrues (or the pause ends), rate, ceiling}; rate and ceiling in thousandths (0: the
-- configured ones).
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate', 'until', 'ceiling')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local adapted = tonumber(state[3])
local paused = tonumber(state[4]) or 0
local ceiling = tonumber(state[5]) or 0
if adapted ~= nil then
  rate = adapted
end
if rate > tonumber(ARGV[1]) then
  burst = math.max(burst, rate)  -- one second's worth once the rate has risen above it
end
local shown = {math.floor((adapted or 0) * 1000), math.floor(ceiling * 1000)}
if now < paused then
  return {0, math.ceil((paused - now) * 1000000), shown[1], shown[2]}
end
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
-- A clock that stepped back refills nothing (and creates no tokens); a pause accrues none.
tokens = math.min(burst, tokens + math.max(0, now - math.max(ts, paused)) * rate)
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
-- never shortens the longer life of an adapted bucket
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {granted, wait, shown[1], shown[2]}
"""
"""The bucket's arithmetic, run atomically inside Redis."""

LEARN_SCRIPT = """
-- KEYS[1]: the bucket's hash. ARGV: 1 rate, 2 ceiling (configured), 3 fixed (0/1),
-- 4 burst, 5 life of an adapted bucket (ms), 6 decrease, 7 increase, 8 floor, 9 hold (s),
-- 10 answered, 11 limited (0/1), 12 retry_after, 13 limit a minute, 14 remaining,
-- 15 reset (s; -1: not said). The arithmetic of aragora.agents.resilience.adaptive.RateState.learn.
-- Returns {rate, ceiling} in thousandths.
local burst = tonumber(ARGV[4])
local decrease, increase = tonumber(ARGV[6]), tonumber(ARGV[7])
local floor, hold = tonumber(ARGV[8]), tonumber(ARGV[9])
local answered, limited = tonumber(ARGV[10]), tonumber(ARGV[11])
local retry_after, per_minute = tonumber(ARGV[12]), tonumber(ARGV[13])
local remaining, reset = tonumber(ARGV[14]), tonumber(ARGV[15])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate', 'until', 'ceiling', 'cut')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
local rate = tonumber(state[3]) or tonumber(ARGV[1])
local paused = tonumber(state[4]) or 0
local ceiling = tonumber(state[5]) or tonumber(ARGV[2])
local cut = tonumber(state[6])
-- the tokens accrued so far at the old rate
local cap = burst
if rate > tonumber(ARGV[1]) then
  cap = math.max(burst, rate)
end
tokens = math.min(cap, tokens + math.max(0, now - math.max(ts, paused)) * rate)
if per_minute >= 0 then
  ceiling = per_minute / 60
  if tonumber(ARGV[3]) == 1 then
    ceiling = math.min(tonumber(ARGV[2]), ceiling)
  end
end
local holding = cut ~= nil and now - cut < hold
if limited == 1 then
  if not holding then
    rate = math.max(floor, rate * decrease)
    cut = now
  end
elseif answered == 1 and not holding then
  if cut == nil then
    rate = rate * 2  -- slow start until the first 429
  else
    rate = rate + increase
  end
end
rate = math.max(floor, math.min(rate, ceiling))
if retry_after >= 0 and (limited == 1 or remaining == 0) then
  paused = math.max(paused, now + retry_after)
end
if remaining == 0 and reset >= 0 then
  paused = math.max(paused, now + reset)
end
if remaining >= 0 then
  tokens = math.min(tokens, remaining)
end
local fields = {'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now),
  'rate', string.format('%.17g', rate), 'ceiling', string.format('%.17g', ceiling),
  'until', string.format('%.17g', paused)}
if cut ~= nil then
  table.insert(fields, 'cut')
  table.insert(fields, string.format('%.17g', cut))
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[5]) + math.max(0, paused - now) * 1000))
return {math.floor(rate * 1000), math.floor(ceiling * 1000)}
"""
"""The adaptation's arithmetic, run atomically inside Redis (see the module)."""

_SCRIPT_SHA = hashlib.sha1(BUCKET_SCRIPT.encode(), usedforsecurity=False).hexdigest()
_LEARN_SHA = hashlib.sha1(LEARN_SCRIPT.encode(), usedforsecurity=False).hexdigest()
# Anything Redis can do wrong (refused, reset, timed out, an error reply, a reply of the
# wrong shape) sends the call to the local bucket.
_REDIS_TROUBLE = (RedisError, OSError, TimeoutError)


def bucket_key(provider: str, endpoint: str, prefix: str = KEY_PREFIX, *, model: str = "") -> str:
    """The Redis key of ``provider``'s bucket for ``endpoint`` and ``model`` (hashed: URLs
    stay short; no model: the endpoint's own bucket, as before models had their own)."""
    name = endpoint if not model else f"{endpoint}\x00{model}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
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
        max_rate: float | None = None,
        fixed: bool = False,
        policy: AdaptivePolicy | None = None,
        timeout: float = 0.5,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        link: _Link | None = None,
    ) -> None:
        if rate <= 0 or burst < 1 or (max_rate is not None and max_rate < rate):
            raise ValueError("a token bucket needs rate > 0, burst >= 1 and max_rate >= rate")
        self.key = key
        self._client = client
        self._rate = rate
        self._ceiling = rate if max_rate is None else max_rate
        self._fixed = fixed
        self._policy = policy or AdaptivePolicy()
        self._burst = burst
        # Long enough for an idle bucket to fill up again: after it, a missing key is exact.
        self._expiry_ms = int(burst / rate * 1000) + 1000
        self._timeout = timeout
        self._sleep = sleep
        self._link = link if link is not None else _Link(retry_interval, clock)
        self._local = TokenBucket(
            rate, burst, max_rate=max_rate, fixed=fixed, policy=policy, clock=clock, sleep=sleep
        )
        self._lock = asyncio.Lock()  # FIFO among this process's callers
        self._wakeup = Wakeup(sleep)
        self._shared_rate = rate
        self._shared_ceiling = self._ceiling
        self._stated: int | None = None

    @property
    def rate(self) -> float:
        """Starts a second: the shared rate as Redis last reported it, the local bucket's
        during an outage."""
        return self._shared_rate if self._link.up else self._local.rate

    @property
    def ceiling(self) -> float:
        """The most the rate may rise to (as :attr:`rate`, shared or local)."""
        return self._shared_ceiling if self._link.up else self._local.state.ceiling

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
                await self._wakeup.sleep(wait)  # a rate raised meanwhile asks again at once
            await self._local.take()

    async def attempt(self) -> float:
        """Run the bucket script once: 0.0 when a token was taken, else the seconds until
        one accrues. Raises what the Redis client raises (no timeout of its own)."""
        args = (self.key, repr(self._rate), self._burst, self._expiry_ms)
        granted, wait_us, rate, ceiling = await self._run(_SCRIPT_SHA, BUCKET_SCRIPT, args, 4)
        self._view(rate, ceiling)
        return 0.0 if granted else wait_us / 1_000_000

    async def learn(self, signal: RateSignal) -> None:
        """Adapt the shared rate to one response (see the module: Redis is asked only when
        the response can change something); the local fallback bucket learns it too. Redis
        trouble is the same outage as for :meth:`take`."""
        await self._local.learn(signal)
        if not self._worth_asking(signal) or not self._link.usable():
            return
        policy = self._policy
        args = (
            self.key,
            repr(self._rate),
            repr(self._ceiling),
            int(self._fixed),
            self._burst,
            int(max(ADAPTED_TTL * 1000, self._expiry_ms)),
            repr(policy.decrease),
            repr(policy.increase),
            repr(policy.floor),
            repr(policy.hold),
            int(signal.answered),
            int(signal.limited),
            _said(signal.retry_after),
            _said(signal.limit_per_minute),
            _said(signal.remaining),
            _said(signal.reset),
        )
        try:
            async with asyncio.timeout(self._timeout):
                rate, ceiling = await self._run(_LEARN_SHA, LEARN_SCRIPT, args, 2)
        except _REDIS_TROUBLE as exc:
            self._link.failed(self.key, exc)
            return
        self._link.answered()
        self._stated = signal.limit_per_minute or self._stated
        before = self._shared_rate
        self._view(rate, ceiling)
        if self._shared_rate > before:
            self._wakeup.poke()

    def _worth_asking(self, signal: RateSignal) -> bool:
        if signal.limited or signal.remaining == 0:
            return True
        if signal.limit_per_minute is not None and signal.limit_per_minute != self._stated:
            return True
        if signal.remaining is not None and signal.remaining < self._burst:
            return True
        return signal.answered and self.rate < self.ceiling

    def _view(self, rate_milli: int, ceiling_milli: int) -> None:
        self._shared_rate = rate_milli / 1000 if rate_milli > 0 else self._rate
        self._shared_ceiling = ceiling_milli / 1000 if ceiling_milli > 0 else self._ceiling

    async def _run(self, sha: str, script: str, args: tuple[object, ...], size: int) -> list[int]:
        try:
            reply = await self._client.evalsha(sha, 1, *args)  # type: ignore[arg-type]
        except NoScriptError:  # first use, or Redis restarted: EVAL caches it again
            reply = await self._client.eval(script, 1, *args)  # type: ignore[arg-type]
        if not (
            isinstance(reply, list)
            and len(reply) == size
            and all(isinstance(v, int) for v in reply)
        ):
            raise ResponseError(f"unexpected reply from the rate-limit script: {reply!r}")
        return reply


def _said(value: float | None) -> str:
    """A signal's value for the script (-1: not said)."""
    return "-1" if value is None else repr(float(value))


class RedisBuckets:
    """A :class:`~aragora.agents.resilience.limits.BucketSource` of :class:`RedisTokenBucket` s on
    one Redis client, which it owns (closed by :meth:`aclose`). Its buckets share one view of
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
    ) -> RedisTokenBucket:
        """The deployment-wide bucket of ``provider``'s ``endpoint`` (for ``model``)."""
        return RedisTokenBucket(
            self._client,
            bucket_key(provider, endpoint, self._prefix, model=model),
            rate,
            burst,
            max_rate=max_rate,
            fixed=fixed,
            timeout=self._timeout,
            clock=self._clock,
            sleep=self._sleep,
            link=self._link,
        )

    async def aclose(self) -> None:
        """Close the Redis client's connections."""
        await self._client.aclose()
