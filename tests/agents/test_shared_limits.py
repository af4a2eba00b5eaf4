"""Start rates shared across replicas through the real Redis (127.0.0.1:6379): the script's
arithmetic, two "replicas" on one key, a key lost midway, and Redis unreachable, cut or
silent (calls go on at the local rate and come back to the shared bucket)."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from aragora import wiring
from aragora.agents.providers import LimitPolicy, ProviderConfig, ProviderHub
from aragora.agents.resilience.limits import StartBucket, TokenBucket
from aragora.agents.resilience.rate_signal import RateSignal
from aragora.agents.resilience.shared_limits import RedisBuckets, RedisTokenBucket, bucket_key
from aragora.debate.model import AgentSpec
from aragora.settings import Settings
from tests.tcp_proxy import TcpProxy

REDIS = "redis://127.0.0.1:6379/0"


def connect(url: str = REDIS) -> Redis:
    """A client that fails fast, as the composition root builds it."""
    return Redis.from_url(
        url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"aragora:test:{uuid.uuid4().hex}:"
    yield prefix
    client = connect()
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    client = connect()
    yield client
    await client.aclose()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(6379)
    await proxy.start()
    yield proxy
    await proxy.close()


async def redis_now(client: Redis) -> float:
    seconds, micros = await client.time()
    return seconds + micros / 1_000_000


async def tokens(client: Redis, key: str) -> float:
    return float(await client.hget(key, "tokens"))


async def starts_for(bucket: StartBucket, seconds: float, workers: int = 2) -> list[float]:
    """When each of the calls that ``workers`` callers started in ``seconds`` began."""
    started: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await bucket.take()
            started.append(time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(workers)))
    return started


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == event]


# -- the script ---------------------------------------------------------------------------


async def test_the_script_refills_caps_at_the_burst_and_computes_the_wait(
    client: Redis, prefix: str
) -> None:
    key = prefix + "bucket"
    bucket = RedisTokenBucket(client, key, rate=10.0, burst=5)

    assert await bucket.attempt() == 0.0  # no key: a full bucket
    assert await tokens(client, key) == 4.0
    assert 0 < await client.pttl(key) <= 1500  # full again after 0.5 s, plus a second

    now = await redis_now(client)
    await client.hset(key, mapping={"tokens": 0, "ts": now - 0.25})
    assert await bucket.attempt() == 0.0  # 2.5 tokens accrued in 0.25 s at 10/s
    assert 1.5 <= await tokens(client, key) < 1.6

    await client.hset(key, mapping={"tokens": 3, "ts": now - 3600})
    assert await bucket.attempt() == 0.0
    assert await tokens(client, key) == 4.0  # refilled to the burst, not beyond

    # Half a token, stamped later than Redis's clock (a clock stepped back): nothing
    # accrues, the half token is kept, and the wait is for the other half at 10/s.
    await client.hset(key, mapping={"tokens": 0.5, "ts": now + 60})
    assert await bucket.attempt() == pytest.approx(0.05, abs=1e-6)
    assert await tokens(client, key) == 0.5
    assert float(await client.hget(key, "ts")) < now + 30

    await client.hset(key, mapping={"tokens": 0, "ts": await redis_now(client)})
    assert 0.08 < await bucket.attempt() <= 0.1


async def test_a_burst_is_served_at_once(client: Redis, prefix: str) -> None:
    bucket = RedisBuckets(client, prefix=prefix).bucket("openai", "https://x/v1", 2.0, 5)
    started = time.perf_counter()
    for _ in range(5):
        await bucket.take()
    assert time.perf_counter() - started < 0.2
    assert 0 < await bucket.attempt() <= 0.5
    assert bucket.key == bucket_key("openai", "https://x/v1", prefix)
    assert bucket.key.startswith(f"{prefix}openai:")


# -- replicas -----------------------------------------------------------------------------


async def test_two_replicas_together_keep_to_one_rate(prefix: str) -> None:
    rate, burst, seconds = 20.0, 4, 1.0
    one, two = RedisBuckets(connect(), prefix=prefix), RedisBuckets(connect(), prefix=prefix)
    try:
        begin = time.perf_counter()
        a, b = await asyncio.gather(
            starts_for(one.bucket("openai", "openai", rate, burst), seconds),
            starts_for(two.bucket("openai", "openai", rate, burst), seconds),
        )
    finally:
        await one.aclose()
        await two.aclose()
    assert a
    assert b
    for count, at in enumerate(sorted(a + b), start=1):
        assert count <= rate * (at - begin) + burst + 1
    assert len(a) + len(b) >= 0.7 * rate * seconds  # they did not just stall


async def test_a_bucket_whose_key_vanishes_starts_full_again(client: Redis, prefix: str) -> None:
    rate, burst = 20.0, 4
    bucket = RedisBuckets(client, prefix=prefix).bucket("anthropic", "anthropic", rate, burst)
    assert len(await starts_for(bucket, 0.3)) <= rate * 0.3 + burst + 1
    await client.delete(bucket.key)  # as FLUSHDB would
    deleted = time.perf_counter()
    after = await starts_for(bucket, 0.3)
    assert len(after) >= burst
    assert all(n <= rate * (at - deleted) + burst + 1 for n, at in enumerate(after, start=1))
    assert await client.exists(bucket.key)
    assert bucket.shared


# -- Redis in trouble ---------------------------------------------------------------------


async def test_unreachable_redis_falls_back_to_the_local_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buckets = RedisBuckets(connect(f"redis://127.0.0.1:{closed_port()}/0"), retry_interval=0.05)
    bucket = buckets.bucket("openai", "openai", 20.0, 3)
    try:
        started = time.perf_counter()
        for _ in range(7):
            await bucket.take()
        elapsed = time.perf_counter() - started
    finally:
        await buckets.aclose()
    assert 0.18 <= elapsed < 0.6  # 3 at once, then 4 at 20/s, retrying Redis meanwhile
    assert not buckets.shared
    [warning] = records(caplog, "rate_limit_fallback")  # once per outage
    assert warning.levelno == logging.WARNING


async def test_a_lost_redis_is_left_and_rejoined(
    proxy: TcpProxy, client: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    buckets = RedisBuckets(
        connect(f"redis://127.0.0.1:{proxy.port}/0"), prefix=prefix, retry_interval=0.1
    )
    bucket = buckets.bucket("gemini", "gemini", 50.0, 5)
    try:
        await bucket.take()
        assert buckets.shared
        assert await client.exists(bucket.key)

        await proxy.cut()
        async with asyncio.timeout(1):
            for _ in range(3):
                await bucket.take()  # from the local bucket
        assert not buckets.shared

        await proxy.start()  # back on the same port
        await client.delete(bucket.key)
        async with asyncio.timeout(2):
            while not buckets.shared:
                await bucket.take()
        assert await client.exists(bucket.key)  # the shared bucket is used again
    finally:
        await buckets.aclose()
    assert len(records(caplog, "rate_limit_fallback")) == 1
    assert len(records(caplog, "rate_limit_shared")) == 1


async def test_a_silent_redis_times_out_to_the_local_bucket(
    proxy: TcpProxy, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.blackhole = True  # connections accepted, nothing answered
    buckets = RedisBuckets(
        Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", retry=Retry(NoBackoff(), 0)),
        prefix=prefix,
        timeout=0.2,
    )
    bucket = buckets.bucket("openai", "openai", 10.0, 2)
    try:
        started = time.perf_counter()
        await bucket.take()
        await bucket.take()
        elapsed = time.perf_counter() - started
    finally:
        await buckets.aclose()
    assert 0.15 < elapsed < 0.5  # one timed-out ask, then the local burst
    assert not buckets.shared
    assert len(records(caplog, "rate_limit_fallback")) == 1


# -- wiring -------------------------------------------------------------------------------


class RecordingSource:
    """A bucket source that hands out local buckets and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, float, int]] = []
        self.closed = False

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
        self.asked.append((provider, endpoint, model, rate, burst))
        return TokenBucket(rate, burst, max_rate=max_rate, fixed=fixed)

    async def aclose(self) -> None:
        self.closed = True


async def test_the_hub_takes_start_buckets_from_its_source_and_closes_it() -> None:
    source = RecordingSource()
    config = ProviderConfig(api_keys={"openai": "sk-test"}, limits=LimitPolicy(rate=3.0, burst=7))
    async with ProviderHub(config, buckets=source) as hub:
        hub.build(AgentSpec.parse("openai:gpt-4o"))
        hub.build(AgentSpec.parse("openai:gpt-4o#again"))  # same endpoint and model
        hub.build(AgentSpec.parse("openai:gpt-4o-mini"))  # a model of its own
        hub.build(AgentSpec.parse("openai-compatible:m@http://127.0.0.1:9/v1"))
        hub.build(AgentSpec.parse("openai-compatible:m@HTTP://127.0.0.1:9/v1/"))  # the same
    assert source.asked == [
        ("openai", "https://api.openai.com/v1", "gpt-4o", 3.0, 7),
        ("openai", "https://api.openai.com/v1", "gpt-4o-mini", 3.0, 7),
        ("openai-compatible", "http://127.0.0.1:9/v1", "m", 3.0, 7),
    ]
    assert source.closed


@pytest.mark.parametrize(("redis_url", "kind"), [(REDIS, RedisTokenBucket), (None, TokenBucket)])
async def test_the_composition_root_shares_start_rates_only_with_redis(
    redis_url: str | None, kind: type[object]
) -> None:
    settings = Settings(ARAGORA_REDIS_URL=redis_url, OPENAI_API_KEY="sk-test")
    async with wiring.build_provider_hub(settings) as hub:
        hub.build(AgentSpec.parse("openai:gpt-4o"))
        [bucket] = hub.rates().values()
        assert isinstance(bucket, kind)


# -- adaptation shared by the replicas -----------------------------------------------------


async def test_a_429_met_by_one_replica_slows_and_pauses_the_other(prefix: str) -> None:
    one, other = connect(), connect()  # two replicas, two connections
    try:
        source_a = RedisBuckets(one, prefix=prefix)
        source_b = RedisBuckets(other, prefix=prefix)
        a = source_a.bucket("openai", "https://x/v1", 8.0, 16, model="gpt-4o")
        b = source_b.bucket("openai", "https://x/v1", 8.0, 16, model="gpt-4o")
        mini = source_b.bucket("openai", "https://x/v1", 8.0, 16, model="gpt-4o-mini")
        assert await b.attempt() == 0.0

        await a.learn(RateSignal(limited=True, retry_after=0.4))
        assert a.rate == 4.0  # the shared rate, halved
        wait = await b.attempt()  # the other replica meets the pause Redis keeps
        assert 0.3 < wait <= 0.4
        assert b.rate == 4.0  # and learns the halved rate from the reply
        assert await mini.attempt() == 0.0  # another model has limits of its own

        # The provider states its limit on an answer: one replica learns it for all.
        await asyncio.sleep(1.0)  # past the cut's hold
        await a.learn(RateSignal(answered=True, limit_per_minute=6000, remaining=5999))
        assert (a.rate, a.ceiling) == (5.0, 100.0)
        assert 0 < await client_ttl(one, a.key) <= 61_000  # an adapted bucket lives a minute
        await asyncio.sleep(0.45)
        assert await b.attempt() == 0.0
        assert (b.rate, b.ceiling) == (5.0, 100.0)
    finally:
        await one.aclose()
        await other.aclose()


async def client_ttl(client: Redis, key: str) -> int:
    return int(await client.pttl(key))


async def test_the_script_adapts_as_the_local_bucket_does(client: Redis, prefix: str) -> None:
    shared = RedisTokenBucket(client, prefix + "same", 2.0, 4, max_rate=10.0)
    local = TokenBucket(2.0, 4, max_rate=10.0)
    signals = [
        *([RateSignal(answered=True)] * 3),  # slow start: 4, 8, 10
        RateSignal(limited=True, retry_after=0.0),  # 5
        RateSignal(limited=True),  # same wave: no second cut
        RateSignal(answered=True, limit_per_minute=120),  # held, but the ceiling drops to 2
    ]
    for signal in signals:
        await shared.learn(signal)
        await local.learn(signal)
        assert shared.rate == pytest.approx(local.rate, abs=1e-3)
    assert (shared.rate, shared.ceiling) == (2.0, 2.0)
    assert local.state.ceiling == 2.0
    fixed = RedisTokenBucket(client, prefix + "fixed", 4.0, 4, fixed=True)
    await fixed.learn(RateSignal(answered=True, limit_per_minute=6000))
    assert (fixed.rate, fixed.ceiling) == (4.0, 4.0)  # the operator's ceiling holds


async def test_learning_while_redis_is_down_stays_local(caplog: pytest.LogCaptureFixture) -> None:
    client = connect(f"redis://127.0.0.1:{closed_port()}/0")
    bucket = RedisTokenBucket(client, "aragora:test:down", 8.0, 16, retry_interval=60.0)
    try:
        with caplog.at_level(logging.WARNING, logger="aragora.agents"):
            await bucket.learn(RateSignal(limited=True, retry_after=0.0))
            await bucket.learn(RateSignal(limited=True, retry_after=0.0))
    finally:
        await client.aclose()
    assert not bucket.shared
    assert len(records(caplog, "rate_limit_fallback")) == 1
    assert bucket.rate == 4.0  # the local fallback learned it
