"""What the provider stack costs per call, and whether it holds 1,000 calls in flight.

Run as ``python bench/providers.py``. It reports and never gates: the exit status is 0
whatever the figures are, and the last line says whether every target was met.

The fake providers (:mod:`aragora.agents.fakes.servers`) run in a *separate process* so their work
does not share this process's event loop; they answer over real HTTP on 127.0.0.1 in each
provider's streaming format. Logging is configured as in production (INFO, JSON lines,
written to ``os.devnull``), so the ``agent_response_time`` line is part of every measured
call.

Figures and how each is measured:

1. **per-call time through the whole stack.** For each wire format (Anthropic, OpenAI,
   Gemini) one agent built by :class:`ProviderHub` exactly as in production
   (``Breaker(Dispatch(adapter))``, pooled connections, usage and cost computed, the log
   line written) calls a fake that answers at once with a short
   streamed answer: 2,000 calls one after another after 200 warm-up calls; wall time per
   call, p50/p95/p99. This includes the loopback round trip and the fake's own time.
2. **the bare exchange**: one ``stream("POST")`` on the agent's own pooled client
   (:mod:`aragora.agents.wire.http1`), reading every SSE line and nothing else, same body;
   and, for reference, **the same exchange with httpx** (the client the adapters used
   before), with the CPU each takes per call. Stack, bare and httpx calls alternate one by
   one so that drift affects them alike.
3. **stack overhead per call, p50 <= 2 ms** (target): p50 of 1 minus p50 of 2, i.e. what
   the adapter, the wrappers, the cost computation and the log line add to the HTTP
   exchange itself.
4. **wrappers alone**: the resilience wrappers (breaker, dispatch) around an in-memory agent that
   answers at once (no HTTP): p50 per call in microseconds.
5. **1,000 concurrent in-flight calls, no errors** (target). One OpenAI-format agent,
   per-endpoint limit raised to 1,000 slots and no rate limit, calls a fake that streams
   its answer over ~0.3 s (so every call is still open when the last one starts); 1,000
   calls start together with ``asyncio.gather``. Reported: errors (must be 0), the peak
   of calls holding a slot at once (sampled every millisecond from the endpoint's
   :class:`ProviderLimit`; 1,000 means all were truly in flight together, none queued),
   and the wall time of the batch.
"""

from __future__ import annotations

import os
import sys

# bench/http.py would shadow the standard library's `http` package (imported by httpx)
# when this runs as `python bench/providers.py`: drop this directory from the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from aragora.agents.fakes.servers import Answer, FakeProvider
from aragora.agents.providers import LimitPolicy, ProviderConfig, ProviderHub
from aragora.agents.resilience.breaker import Breaker, CircuitBreaker
from aragora.agents.resilience.limits import ProviderLimit
from aragora.agents.resilience.wrappers import Dispatch
from aragora.agents.wire.transport import sse_events
from aragora.debate.model import AgentSpec
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback, Usage
from aragora.logs import configure_logging

CALLS = 2_000
WARMUP = 200
CONCURRENT = 1_000
TARGET_P50_MS = 2.0
ANSWER = "ANSWER: 4\nCONFIDENCE: 0.90\nREASONING: two and two make four."
SLOW_PIECE_DELAY = 0.075  # 4 pieces: each call stays open ~0.3 s
MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o", "gemini": "gemini-2.5-flash"}
KEY = "bench-key"
REQUEST = CompletionRequest(
    system="You are Agent A, one member of a panel.",
    prompt="What is 2 + 2? Reply with ANSWER, CONFIDENCE and REASONING.",
    phase="propose",
    max_tokens=256,
    metadata={"agent": "bench"},
)


# -- the fake providers, in their own process -------------------------------------------------


def _serve(wire: str, delay: float, conn: Connection) -> None:
    async def main() -> None:
        fake = FakeProvider(wire, default=Answer(ANSWER, delay=delay), model=MODELS[wire])
        await fake.start()
        conn.send(fake.base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await fake.close()

    asyncio.run(main())


class FakeProcess:
    """A fake provider served by a child process."""

    def __init__(self, wire: str, delay: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(wire, delay, child), daemon=True)
        self._process.start()
        self.base_url: str = self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)


# -- measurements -------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hub_config(base_urls: dict[str, str], slots: int = 16) -> ProviderConfig:
    return ProviderConfig(
        api_keys={"anthropic": KEY, "openai": KEY, "gemini": KEY},
        anthropic_base_url=base_urls.get("anthropic", "http://127.0.0.1:1"),
        openai_base_url=base_urls.get("openai", "http://127.0.0.1:1/v1"),
        gemini_base_url=base_urls.get("gemini", "http://127.0.0.1:1"),
        call_timeout=30.0,
        stall_timeout=30.0,
        limits=LimitPolicy(max_concurrency=slots, rate=None),
    )


@dataclass
class Exchanges:
    """Per-call wall times (seconds) and CPU (seconds of this process) of each way."""

    stack: list[float]
    bare: list[float]
    bare_cpu: list[float]
    httpx: list[float]
    httpx_cpu: list[float]


async def latencies(wire: str, base_url: str) -> Exchanges:
    """Per-call times through the stack, of the bare exchange on the agent's own pooled
    client, and of the same exchange with httpx; they alternate call by call so drift
    affects them alike."""
    async with ProviderHub(hub_config({wire: base_url})) as hub:
        llm = hub.build(AgentSpec.parse(f"{wire}:{MODELS[wire]}"))
        adapter: Any = llm
        while hasattr(adapter, "inner"):
            adapter = adapter.inner
        body, path, headers = (
            adapter.request_body(REQUEST),
            adapter.url(),
            adapter.request_headers(),
        )
        auth = {"x-api-key": KEY, "authorization": f"Bearer {KEY}", "x-goog-api-key": KEY}
        reference = httpx.AsyncClient(base_url=base_url, headers=auth)

        async def bare() -> None:
            async with adapter._client.stream("POST", path, json=body, headers=headers) as response:
                async for _ in sse_events(response.aiter_lines()):
                    pass

        async def with_httpx() -> None:
            async with reference.stream("POST", path, json=body, headers=headers) as response:
                assert response.status_code == 200
                async for _ in sse_events(response.aiter_lines()):
                    pass

        for _ in range(WARMUP):
            await llm.complete(REQUEST)
            await bare()
            await with_httpx()
        figures = Exchanges([], [], [], [], [])
        for _ in range(CALLS):
            started = time.perf_counter()
            completion = await llm.complete(REQUEST)
            figures.stack.append(time.perf_counter() - started)
            assert completion.text == ANSWER
            for way, walls, cpus in (
                (bare, figures.bare, figures.bare_cpu),
                (with_httpx, figures.httpx, figures.httpx_cpu),
            ):
                cpu, started = time.process_time(), time.perf_counter()
                await way()
                walls.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
        await reference.aclose()
        return figures


class Instant:
    provider = "memory"
    model = "instant"

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        return Completion(ANSWER, Usage(10, 10), self.model, self.provider)


async def wrapper_latencies() -> list[float]:
    llm = Breaker(
        Dispatch(Instant(), limit=ProviderLimit(16), timeout=30.0), CircuitBreaker("m@memory")
    )
    for _ in range(WARMUP):
        await llm.complete(REQUEST)
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await llm.complete(REQUEST)
        samples.append(time.perf_counter() - started)
    return samples


@dataclass
class Burst:
    errors: int
    peak: int
    wall: float
    first_error: str


async def concurrent_burst(base_url: str) -> Burst:
    async with ProviderHub(hub_config({"openai": base_url}, slots=CONCURRENT)) as hub:
        llm = hub.build(AgentSpec.parse(f"openai:{MODELS['openai']}"))
        [limit] = hub.limits().values()
        peak = 0
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, limit.in_flight)
                await asyncio.sleep(0.001)

        sampler = asyncio.ensure_future(sample())
        started = time.perf_counter()
        results = await asyncio.gather(
            *(llm.complete(REQUEST) for _ in range(CONCURRENT)), return_exceptions=True
        )
        wall = time.perf_counter() - started
        done.set()
        await sampler
    failures = [r for r in results if not isinstance(r, Completion) or r.text != ANSWER]
    first = repr(failures[0]) if failures else ""
    return Burst(len(failures), peak, wall, first)


# -- report ---------------------------------------------------------------------------------------


def table(rows: Sequence[tuple[str, ...]]) -> str:
    header = ("measure", "p50", "p95", "p99", "target", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def main() -> int:
    with open(os.devnull, "w") as sink:
        configure_logging("INFO", "json", stream=sink, secrets=[KEY])
        print(
            f"provider stack: {CALLS} sequential calls per wire format after {WARMUP} warm-up, "
            f"fakes in a child process on 127.0.0.1; Python {sys.version.split()[0]}"
        )
        rows: list[tuple[str, ...]] = []
        checks: dict[str, bool] = {}
        for wire in MODELS:
            fake = FakeProcess(wire)
            try:
                figures = asyncio.run(latencies(wire, fake.base_url))
            finally:
                fake.stop()
            stack, raw = figures.stack, figures.bare
            p50, raw50 = statistics.median(stack), statistics.median(raw)
            overhead = p50 - raw50
            ok = overhead * 1000 <= TARGET_P50_MS
            checks[f"{wire} overhead p50"] = ok
            rows.append(
                (
                    f"{wire}: call through the stack",
                    ms(p50),
                    ms(percentile(stack, 0.95)),
                    ms(percentile(stack, 0.99)),
                    "",
                    "",
                )
            )
            rows.append((f"{wire}: bare exchange", ms(raw50), ms(percentile(raw, 0.95)),
                         ms(percentile(raw, 0.99)), f"CPU {ms(statistics.mean(figures.bare_cpu))}",
                         ""))  # fmt: skip
            rows.append((f"{wire}: same exchange, httpx", ms(statistics.median(figures.httpx)),
                         ms(percentile(figures.httpx, 0.95)), ms(percentile(figures.httpx, 0.99)),
                         f"CPU {ms(statistics.mean(figures.httpx_cpu))}", ""))  # fmt: skip
            rows.append(
                (
                    f"{wire}: stack overhead (difference)",
                    ms(overhead),
                    "",
                    "",
                    f"p50 <= {TARGET_P50_MS:g} ms",
                    "met" if ok else "MISSED",
                )
            )
        wrappers = asyncio.run(wrapper_latencies())
        rows.append(
            (
                "resilience wrappers alone",
                f"{statistics.median(wrappers) * 1e6:.1f} us",
                f"{percentile(wrappers, 0.95) * 1e6:.1f} us",
                f"{percentile(wrappers, 0.99) * 1e6:.1f} us",
                "",
                "",
            )
        )
        fake = FakeProcess("openai", delay=SLOW_PIECE_DELAY)
        try:
            burst = asyncio.run(concurrent_burst(fake.base_url))
        finally:
            fake.stop()
    burst_ok = burst.errors == 0 and burst.peak == CONCURRENT
    checks[f"{CONCURRENT} in flight"] = burst_ok
    rows.append(
        (
            f"{CONCURRENT} concurrent calls",
            f"errors {burst.errors}",
            f"peak in flight {burst.peak}",
            f"wall {burst.wall:.2f} s",
            f"0 errors, {CONCURRENT} in flight",
            "met" if burst_ok else "MISSED",
        )
    )
    print(table(rows))
    if burst.first_error:
        print(f"first error: {burst.first_error}")
    missed = [name for name, ok in checks.items() if not ok]
    if missed:
        print(f"SUMMARY: {len(checks) - len(missed)} of {len(checks)} targets met; missed: "
              f"{', '.join(missed)}")  # fmt: skip
    else:
        overheads = ", ".join(
            f"{row[0].split(':')[0]} {row[1]}" for row in rows if "overhead" in row[0]
        )
        calls = ", ".join(
            f"{row[0].split(':')[0]} {row[1]}" for row in rows if row[0].endswith("the stack")
        )
        print(
            f"SUMMARY: all {len(checks)} targets met; stack overhead p50 {overheads} "
            f"(whole call p50 {calls}); {CONCURRENT} concurrent calls, {burst.errors} errors, "
            f"peak {burst.peak} in flight, {burst.wall:.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
