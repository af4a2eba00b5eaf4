"""A server that goes away and comes back: calls wait for it (within the connect-retry
bound) instead of spending their retries in milliseconds, give their slot back while they
wait, and a debate started during the outage completes once the server returns."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from aragora import wiring
from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.agents.fakes.servers import Behaviour, Fail, FakeProvider, FakeRequest
from aragora.agents.providers import BreakerPolicy, LimitPolicy, ProviderHub
from aragora.agents.resilience.limits import ProviderLimit
from aragora.agents.resilience.wrappers import Dispatch, RetryPolicy
from aragora.agents.wire.transport import Kind
from aragora.debate.events import EventType
from aragora.debate.model import AgentSpec, Task
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import ProviderError
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog
from aragora.settings import load_settings

from ..tcp_proxy import TcpProxy
from .support import FAST_RETRY, config_for, debater, request

REFUSED = ProviderError("fake: All connection attempts failed", kind=Kind.NETWORK, provider="f")
PATIENT = replace(FAST_RETRY, connect_base_delay=0.05, connect_max_delay=0.2, connect_retry=5.0)


class Clocked:
    """A ``sleep`` that only moves a fake clock, recording each wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def patient(llm: ScriptedLLM, time_: Clocked, **changes: Any) -> Dispatch:
    options: dict[str, Any] = {"policy": RetryPolicy(attempts=3), "timeout": 120.0}
    options.update(changes)
    return Dispatch(llm, sleep=time_.sleep, clock=time_.clock, rand=lambda: 1.0, **options)


# -- the policy, on a fake clock ----------------------------------------------------------


async def test_refused_connections_are_retried_patiently_not_three_times() -> None:
    time_ = Clocked()
    llm = ScriptedLLM([REFUSED] * 8 + ["back"])
    completion = await patient(llm, time_).complete(request())
    assert completion.text == "back"
    assert len(llm.calls) == 9  # more than the policy's 3 attempts: refusals do not count
    # exponential up to 2 s (the top of each [c/2, c] range with rand() = 1)
    assert time_.waits == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0]


async def test_patience_ends_after_the_connect_retry_bound_with_the_error() -> None:
    time_ = Clocked()
    llm = ScriptedLLM([REFUSED] * 100)
    dispatch = patient(llm, time_, policy=RetryPolicy(connect_retry=10.0))
    with pytest.raises(ProviderError) as caught:
        await dispatch.complete(request())
    assert caught.value.kind == Kind.NETWORK
    assert "All connection attempts failed (server not reachable; retried for" in str(caught.value)
    assert sum(time_.waits) == pytest.approx(10.0)  # the last attempt at the bound


async def test_patience_is_capped_by_the_calls_timeout() -> None:
    time_ = Clocked()
    llm = ScriptedLLM([REFUSED] * 100)
    with pytest.raises(ProviderError):
        await patient(llm, time_, timeout=3.0).complete(request(timeout=3.0))
    assert sum(time_.waits) == pytest.approx(3.0)


async def test_a_loading_model_503_is_waited_for_like_a_refusal() -> None:
    time_ = Clocked()
    loading = ProviderError("x: 503 unavailable_error: Loading model", kind=Kind.OVERLOADED)
    llm = ScriptedLLM([loading] * 5 + ["loaded"])
    assert (await patient(llm, time_).complete(request())).text == "loaded"


async def test_a_stream_broken_after_text_arrived_is_an_ordinary_retry() -> None:
    class Breaks:
        provider, model = "f", "m"
        calls = 0

        async def complete(
            self, req: CompletionRequest, on_token: TokenCallback | None = None
        ) -> Completion:
            self.calls += 1
            assert on_token is not None
            on_token("half an ans")
            raise ProviderError("f: connection closed mid-response", kind=Kind.NETWORK)

    time_ = Clocked()
    llm = Breaks()
    dispatch = Dispatch(llm, policy=RetryPolicy(attempts=2), sleep=time_.sleep, rand=lambda: 1.0)
    with pytest.raises(ProviderError):
        await dispatch.complete(request())
    assert llm.calls == 2  # the policy's attempts, with its own backoff
    assert time_.waits == [0.5]


async def test_a_waiting_call_gives_its_slot_back_only_when_nothing_was_sent() -> None:
    limit = ProviderLimit(1)
    held: list[tuple[str, int]] = []
    kinds = iter([Kind.NETWORK, Kind.SERVER_ERROR])

    async def sleep(_: float) -> None:
        held.append((last, limit.in_flight))

    last = ""

    def respond(_: CompletionRequest) -> str | ProviderError:
        nonlocal last
        kind = next(kinds, None)
        if kind is None:
            return "ok"
        last = kind
        return ProviderError("fail", kind=kind)

    dispatch = Dispatch(ScriptedLLM(respond), limit=limit, sleep=sleep, rand=lambda: 0.0)
    assert (await dispatch.complete(request())).text == "ok"
    # refused: the slot is free for others while it waits; a server error: it keeps its turn
    assert held == [(Kind.NETWORK, 0), (Kind.SERVER_ERROR, 1)]
    assert (limit.in_flight, limit.waiting) == (0, 0)


# -- over real HTTP -------------------------------------------------------------------------


def real_time_hub(*fakes: FakeProvider, **changes: Any) -> ProviderHub:
    """A hub over ``fakes`` whose backoffs really wait (a restart takes real time)."""
    return ProviderHub(config_for(*fakes, **changes), sleep=asyncio.sleep)


def recording(script: Callable[[FakeRequest], Behaviour], arrivals: list[float]) -> Any:
    def respond(req: FakeRequest) -> Behaviour:
        arrivals.append(time.perf_counter())
        return script(req)

    return respond


async def test_a_debate_started_while_the_server_is_down_completes_when_it_returns() -> None:
    arrivals: list[float] = []
    async with FakeProvider("openai", recording(debater(), arrivals)) as server:
        proxy = TcpProxy(server.port)
        await proxy.start()
        url = f"http://127.0.0.1:{proxy.port}/v1"
        await proxy.cut()  # the server is down: connections are refused
        hub = real_time_hub(
            server,
            retry=PATIENT,
            endpoint_limits={url: LimitPolicy(max_concurrency=1, rate=None)},  # one at a time
            breaker=BreakerPolicy(failure_threshold=2, reset_timeout=30.0),
        )
        async with hub:
            specs = [f"openai-compatible:m@{url}#{name}" for name in ("a", "b", "c")]
            debate = asyncio.ensure_future(run_debate(hub, specs))
            await asyncio.sleep(1.0)
            assert not debate.done()
            await proxy.start()  # the same port again
            restarted = time.perf_counter()
            document, log = await debate
            states = hub.breakers.states()
        await proxy.close()
    assert document["status"] == "completed", document["error"]
    events = log.events(document["id"])
    assert not [e for e in events if e.type == EventType.AGENT_ERROR]
    assert set(states.values()) == {"closed"}  # no call ever met an open breaker
    first = min(arrivals) - restarted
    assert 0 <= first < 1.0  # the waiting calls noticed within their backoff (<= 0.2 s)


async def test_a_server_that_stays_down_fails_calls_after_the_bound_not_at_once() -> None:
    async with FakeProvider("openai") as server:
        proxy = TcpProxy(server.port)
        await proxy.start()
        url = f"http://127.0.0.1:{proxy.port}/v1"
        await proxy.cut()
        hub = real_time_hub(server, retry=replace(PATIENT, connect_retry=0.6))
        async with hub:
            llm = hub.build(AgentSpec.parse(f"openai-compatible:m@{url}"))
            started = time.perf_counter()
            with pytest.raises(ProviderError) as caught:
                await llm.complete(request())
            waited = time.perf_counter() - started
    assert caught.value.kind == Kind.NETWORK
    assert "server not reachable; retried for" in str(caught.value)
    assert 0.6 <= waited < 2.0


async def test_llama_cpp_loading_its_model_is_waited_for_over_http() -> None:
    loading = Fail(503, error_type="unavailable_error", message="Loading model")
    async with (
        FakeProvider("openai", [loading, loading, loading, loading]) as server,
        real_time_hub(server, retry=PATIENT) as hub,
    ):
        llm = hub.build(AgentSpec.parse(f"openai-compatible:m@{server.base_url}"))
        completion = await llm.complete(request())
    assert completion.text
    assert len(server.requests) == 5


async def run_debate(hub: Any, specs: list[str]) -> tuple[dict[str, Any], MemoryEventLog]:
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
    panel = wiring.build_panel(specs, settings, seed=7, trusted=True, hub=hub)
    setup = DebateSetup(
        debate_id=str(uuid.uuid4()),
        task=Task("What is 2 + 2?"),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=1, agent_timeout=10.0),
        panel=tuple(participant for participant, _ in panel),
        seed=7,
    )
    log = MemoryEventLog()
    engine = wiring.build_engine(settings, sink=log)
    await engine.start(setup, {p.name: llm for p, llm in panel})
    return debate_document(setup.debate_id, log.events(setup.debate_id)), log
