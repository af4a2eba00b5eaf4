"""Limits that follow the provider: rate-limit headers read as each provider sends them,
AIMD on the start rate and the slots, pauses for ``Retry-After`` and exhausted windows, and
the time each call waited in our limits (``queued_seconds``, the ``queued_ms`` log field)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from aragora.agents.fakes.servers import Answer, Fail, FakeProvider, StreamError
from aragora.agents.providers import DEFAULT_LIMITS, LOCAL_LIMITS, LimitPolicy
from aragora.agents.resilience.adaptive import AdaptivePolicy
from aragora.agents.resilience.limits import ProviderLimit, TokenBucket
from aragora.agents.resilience.rate_signal import RateSignal, read_rate_signal
from aragora.debate.model import AgentSpec
from aragora.debate.ports import FakeClock

from .support import Sleeps, hub_for, logged, request

NOW = datetime(2026, 12, 5, 3, 0, 0, tzinfo=UTC)


class Ticking:
    """A ``sleep`` that moves the fake clock and records each wait."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


# -- reading the headers ------------------------------------------------------------------


def test_openai_headers() -> None:
    signal = read_rate_signal(
        200,
        {
            "x-ratelimit-limit-requests": "5000",
            "x-ratelimit-remaining-requests": "4999",
            "x-ratelimit-reset-requests": "12ms",
            "x-ratelimit-limit-tokens": "800000",
            "x-ratelimit-remaining-tokens": "799000",
            "x-ratelimit-reset-tokens": "75ms",
        },
    )
    assert signal == RateSignal(
        answered=True, limit_per_minute=5000, remaining=4999, reset=pytest.approx(0.012)
    )
    exhausted = read_rate_signal(
        429,
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "6m0s",
            "retry-after": "20",
        },
    )
    assert exhausted == RateSignal(
        limited=True, retry_after=20.0, limit_per_minute=500, remaining=0, reset=360.0
    )


def test_anthropic_headers() -> None:
    reset = (NOW + timedelta(seconds=7)).isoformat().replace("+00:00", "Z")
    signal = read_rate_signal(
        429,
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": reset,
            "retry-after": "7",
        },
        now=NOW,
    )
    assert signal == RateSignal(
        limited=True, retry_after=7.0, limit_per_minute=50, remaining=0, reset=7.0
    )


def test_retry_after_forms_and_nonsense() -> None:
    assert read_rate_signal(429, {"retry-after-ms": "250"}).retry_after == 0.25
    date = "Sat, 05 Dec 2026 03:00:30 GMT"
    assert read_rate_signal(429, {"Retry-After": date}, now=NOW).retry_after == 30.0
    nonsense = read_rate_signal(
        200,
        {
            "retry-after": "soon",
            "x-ratelimit-limit-requests": "many",
            "x-ratelimit-remaining-requests": "-3",
            "x-ratelimit-reset-requests": "later",
        },
    )
    assert nonsense == RateSignal(answered=True)
    assert not read_rate_signal(500, {}).says_anything


# -- AIMD on the start rate --------------------------------------------------------------


async def test_the_rate_rises_while_answered_and_halves_once_per_wave_of_429s() -> None:
    clock = FakeClock(monotonic=100.0)
    bucket = TokenBucket(2.0, 4, max_rate=10.0, clock=clock.monotonic, sleep=Ticking(clock))
    await bucket.learn(RateSignal(answered=True))
    assert bucket.rate == 4.0  # slow start: doubled per answered call until a 429
    await bucket.learn(RateSignal(answered=True))
    await bucket.learn(RateSignal(answered=True))
    assert bucket.rate == 10.0  # up to the ceiling, no further
    for _ in range(4):  # one wave of calls all meets the limit
        await bucket.learn(RateSignal(limited=True))
    assert bucket.rate == 5.0  # cut once
    await bucket.learn(RateSignal(answered=True))
    assert bucket.rate == 5.0  # no rise while the cut holds
    clock.advance(AdaptivePolicy().hold)
    await bucket.learn(RateSignal(answered=True))
    await bucket.learn(RateSignal(answered=True))
    assert bucket.rate == 7.0  # after a 429: +1 a second per answered call
    await bucket.learn(RateSignal(limited=True))
    assert bucket.rate == 3.5  # a later 429 cuts again
    for _ in range(200):
        clock.advance(1.0)
        await bucket.learn(RateSignal(limited=True))
    assert bucket.rate == AdaptivePolicy().floor


async def test_the_stated_limit_is_the_ceiling_unless_the_operator_fixed_one() -> None:
    clock = FakeClock(monotonic=100.0)
    learned = TokenBucket(8.0, 16, clock=clock.monotonic, sleep=Ticking(clock))
    fixed = TokenBucket(8.0, 16, fixed=True, clock=clock.monotonic, sleep=Ticking(clock))
    for bucket in (learned, fixed):
        for _ in range(4):
            await bucket.learn(RateSignal(answered=True, limit_per_minute=6000))
    assert learned.rate == 100.0  # 6,000 a minute, reached in four answers
    assert fixed.rate == 8.0  # the operator's word
    await fixed.learn(RateSignal(answered=True, limit_per_minute=60))
    assert fixed.rate == 1.0  # a lower stated limit still counts


async def test_retry_after_and_an_exhausted_window_pause_the_starts() -> None:
    clock = FakeClock(monotonic=100.0)
    sleep = Ticking(clock)
    bucket = TokenBucket(100.0, 10, clock=clock.monotonic, sleep=sleep)
    await bucket.learn(RateSignal(limited=True, retry_after=2.0))
    await bucket.take()
    assert sleep.calls == [2.0]  # the pause, then a token left from before it
    sleep.calls.clear()
    await bucket.learn(RateSignal(answered=True, remaining=0, reset=0.75))
    await bucket.take()  # the window had no request left: none until it resets
    assert sleep.calls[0] == pytest.approx(0.75)
    sleep.calls.clear()
    clock.advance(10)
    await bucket.learn(RateSignal(answered=True, remaining=1))
    await bucket.take()
    await bucket.take()  # one token left, said the provider: the second waits
    assert len(sleep.calls) == 1


# -- AIMD on the slots --------------------------------------------------------------------


async def test_a_429_halves_the_slots_and_answers_give_them_back() -> None:
    clock = FakeClock(monotonic=100.0)
    limit = ProviderLimit(8, clock=clock.monotonic, sleep=Ticking(clock))
    await limit.learn(RateSignal(limited=True))
    await limit.learn(RateSignal(limited=True))  # the same wave
    assert limit.concurrency == 4
    for _ in range(4):
        await limit.acquire()
    with pytest.raises(Exception, match="one of 4 slots"):
        await limit.acquire(0.01)
    clock.advance(AdaptivePolicy().hold)
    await limit.learn(RateSignal(answered=True))
    assert limit.concurrency == 5
    await limit.acquire(0.01)  # the slot given back is free at once
    for _ in range(10):
        await limit.learn(RateSignal(answered=True))
    assert limit.concurrency == 8  # never above the configured slots
    for _ in range(5):
        limit.release()
    assert limit.in_flight == 0


# -- through a fake provider ---------------------------------------------------------------

OPENAI_HEADERS = (
    ("x-ratelimit-limit-requests", "6000"),
    ("x-ratelimit-remaining-requests", "5999"),
    ("x-ratelimit-reset-requests", "10ms"),
)


async def test_the_hub_learns_from_a_429_with_retry_after_and_from_answers() -> None:
    sleeps = Sleeps()
    script = [
        Fail(429, "rate_limit_exceeded", "Rate limit reached for requests", retry_after="3"),
        *([Answer("ANSWER: 4\nCONFIDENCE: 0.9", headers=OPENAI_HEADERS)] * 40),
    ]
    async with FakeProvider("openai", script) as fake:
        hub = hub_for(fake, sleeps=sleeps, limits=DEFAULT_LIMITS["openai"])
        async with hub:
            agent = hub.build(AgentSpec.parse("openai:gpt-4o"))
            first = await agent.complete(request())
            [bucket] = hub.rates().values()
            limit = hub.limits()[hub.endpoint("openai")]
            assert isinstance(bucket, TokenBucket)
            assert first.text.startswith("ANSWER: 4")
            assert 3.0 in sleeps.calls  # the retry waited what the provider asked
            # the 429 cut the rate, the answer told the limit: 6,000 a minute
            assert bucket.state.ceiling == 100.0
            assert bucket.state.rate == 4.0  # 8 halved; the cut holds a second
            assert limit.concurrency == 32
            await asyncio.sleep(AdaptivePolicy().hold)
            for _ in range(30):
                await agent.complete(request())
            assert bucket.state.rate == 34.0  # +1 a second per answer since the hold
            assert limit.concurrency == 62


async def test_an_anthropic_window_with_nothing_left_pauses_every_call() -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    headers = (
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", reset),
    )
    sleeps = Sleeps()
    async with FakeProvider("anthropic", [Answer("ANSWER: 4", headers=headers)]) as fake:
        hub = hub_for(fake, sleeps=sleeps, limits=DEFAULT_LIMITS["anthropic"])
        async with hub:
            agent = hub.build(AgentSpec.parse("anthropic:claude-sonnet-4-5"))
            await agent.complete(request())
            assert sleeps.calls == []
            await agent.complete(request())
    # the endpoint's pause and the bucket's (the same one: this sleep does not move the
    # clock), then a token at 50 a minute, since the provider said none was left
    assert [round(wait) for wait in sleeps.calls] == [5, 5, 1]
    assert sleeps.calls[2] == pytest.approx(60 / 50)


# -- queue time ----------------------------------------------------------------------------


async def test_queue_time_is_on_the_completion_and_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = Answer("ANSWER: 4\nCONFIDENCE: 0.9", delay=0.05)
    async with FakeProvider("openai", default=answer) as fake:
        one_slot = LimitPolicy(max_concurrency=1, rate=None)
        async with hub_for(fake, limits=one_slot) as hub:
            agents = [hub.build(AgentSpec.parse(f"openai:gpt-4o#{n}")) for n in range(2)]
            with caplog.at_level(logging.INFO, logger="aragora.agents"):
                first, second = await asyncio.gather(*(a.complete(request()) for a in agents))
    waits = sorted([first.queued_seconds, second.queued_seconds])
    assert waits[0] < 0.05  # the first found the slot free
    assert waits[1] >= 0.1  # the second waited for the whole first call
    queued_ms = sorted(f["queued_ms"] for f in logged(caplog.records, "agent_response_time"))
    assert queued_ms[1] == pytest.approx(waits[1] * 1000, abs=0.1)


async def test_local_endpoints_start_a_wave_without_waiting() -> None:
    async with FakeProvider("openai", default=Answer("ANSWER: 4\nCONFIDENCE: 0.9")) as fake:
        spec = f"openai-compatible:gemma@{fake.base_url}"
        async with hub_for(fake, limits=None) as hub:
            agents = [hub.build(AgentSpec.parse(f"{spec}#{n}")) for n in range(3)]
            answers = await asyncio.gather(*(a.complete(request()) for a in agents))
            assert hub.rates() == {}  # no start rate on a server of one's own
            [limit] = hub.limits().values()
            assert limit.max_concurrency == LOCAL_LIMITS.max_concurrency
            # a wave of three is handed its slots without the limiter ever suspending it
            for _ in range(3):
                acquiring = limit.acquire(1.0)
                with pytest.raises(StopIteration):
                    acquiring.send(None)
            for _ in range(3):
                limit.release()
    assert all(a.queued_seconds < 0.05 for a in answers)  # (a loaded machine's scheduler)


async def test_a_risen_rate_holds_a_seconds_worth_of_starts() -> None:
    clock = FakeClock(monotonic=100.0)
    sleep = Ticking(clock)
    bucket = TokenBucket(8.0, 16, clock=clock.monotonic, sleep=sleep)
    for _ in range(4):
        await bucket.learn(RateSignal(answered=True, limit_per_minute=6000))
    assert bucket.burst == 100.0  # 16 at 8/s; a second's worth at 100/s
    clock.advance(1.0)
    for _ in range(60):  # a wave of 60 calls the provider allows
        await bucket.take()
    assert sleep.calls == []


async def test_a_raised_rate_wakes_the_call_waiting_for_a_token() -> None:
    bucket = TokenBucket(1.0, 1, max_rate=100.0)
    await bucket.take()  # the burst spent: the next token is a second away at 1/s
    waiting = asyncio.create_task(bucket.take())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    for _ in range(7):  # answers arrive: the rate doubles to 100/s
        await bucket.learn(RateSignal(answered=True))
    async with asyncio.timeout(0.5):  # not the second it would have slept at 1/s
        await waiting


async def test_a_429_inside_a_stream_cuts_the_rate_too() -> None:
    script = [
        StreamError("rate_limit_error", "Number of requests has exceeded your rate limit", 429),
        Answer("ANSWER: 4\nCONFIDENCE: 0.9"),
    ]
    async with FakeProvider("anthropic", script) as fake:
        hub = hub_for(fake, sleeps=Sleeps(), limits=DEFAULT_LIMITS["anthropic"])
        async with hub:
            agent = hub.build(AgentSpec.parse("anthropic:claude-sonnet-4-5"))
            answer = await agent.complete(request())
            [bucket] = hub.rates().values()
            assert isinstance(bucket, TokenBucket)
            limit = hub.limits()[hub.endpoint("anthropic")]
    assert answer.text.startswith("ANSWER: 4")
    assert bucket.rate == 0.4  # 0.8 halved; the answer right after it is within the hold
    assert limit.concurrency == 32
