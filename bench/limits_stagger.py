"""How much our own provider limits stagger the calls of one debate wave.

Run as ``python -P bench/limits_stagger.py [--debates N ...] [--repeats R]`` (``-P``: this
folder's ``http.py`` must not shadow the standard library's). It reports and never gates
(exit status 0 whatever the figures are); the last line says whether the target was met.

The workload: ``N`` debates at once (by default 1, then 10), each a panel of 3 agents on one
shared endpoint (a fake OpenAI-wire server on 127.0.0.1 that answers at once), ``debate``
mode, 1 round: 4 waves of 3 calls each (propose, critique, revise, vote), run ``R`` times
(default 3) after a warm-up. A wave's *stagger* is the time from its first call to its
last, measured twice: as the calls arrive at the server (``FakeRequest.received_at``: our
limits plus the HTTP client and the event loop) and as the time each waited in our limits
(the events' ``queued_ms``; the wave's stagger is its largest minus its smallest). Each
debate's task carries its number, so the server's requests are told apart by debate, and a
debate's waves are its requests in arrival order, three at a time (the engine starts a wave
only once the one before it has ended). Medians and maxima are over every wave of every
run; on a shared machine the maxima are mostly the scheduler's.

Configurations, all with the limits a fresh install has unless said:

- ``local``: ``openai-compatible:m@URL`` (no start rate, 256 in flight);
- ``openai, tier 1``: ``openai:gpt-4o`` at the fake, whose answers state no limit (8/s,
  bursts of 16: the published tier-1 limit of 500 a minute, which does require a stagger
  once more than 16 calls start at once);
- ``openai, states 10,000/min``: the same, the fake answering with OpenAI's headers for a
  tier-5 organisation (``x-ratelimit-limit-requests: 10000``): the rate rises to it;
- ``openai, raised by setting``: ``ARAGORA_AGENT_LIMITS=openai=64:200:200``;
- ``before (16:8:16 everywhere)``: the defaults this replaced, for comparison.

Target: a median queued stagger of at most 5 ms where no provider limit requires more
(``local`` and the raised setting; the provider stating 10,000 a minute is shown too, whose
first wave meets the tier-1 default before any header has arrived).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aragora import wiring
from aragora.agents.fakes.servers import Answer, Behaviour, FakeProvider, FakeRequest
from aragora.agents.providers import LimitPolicy, ProviderConfig, ProviderHub
from aragora.agents.resilience.wrappers import RetryPolicy
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.events import Event, EventType
from aragora.debate.model import Task
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.runtime.eventlog import MemoryEventLog
from aragora.settings import load_settings

TARGET_MS = 5.0
CALLS = {EventType.PROPOSE, EventType.CRITIQUE, EventType.REVISION, EventType.VOTE}
TIER5 = (
    ("x-ratelimit-limit-requests", "10000"),
    ("x-ratelimit-remaining-requests", "9999"),
    ("x-ratelimit-reset-requests", "6ms"),
)


def debater(headers: tuple[tuple[str, str], ...]) -> Any:
    def respond(request: FakeRequest) -> Behaviour:
        prompt = request.prompt
        if "candidate answers" in prompt:
            text = format_vote(1, 0.9, "option 1 is right")
        elif "CRITIQUE:" in prompt:
            text = format_critique("sound reasoning", 0.8)
        else:
            text = format_answer("4", 0.9, "2 + 2 = 4")
        return Answer(text, headers=headers)

    return respond


async def run(
    label: str, debates: int, *, spec: str, limits: LimitPolicy | None, states_limit: bool
) -> dict[str, Any]:
    async with FakeProvider("openai", debater(TIER5 if states_limit else ())) as fake:
        config = ProviderConfig(
            api_keys={"openai": "sk-bench"},
            openai_base_url=fake.base_url,
            retry=RetryPolicy(attempts=1),
            limits=limits,
        )
        settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
        async with ProviderHub(config) as hub:
            specs = [spec.format(url=fake.base_url, name=n) for n in ("a", "b", "c")]

            async def one(number: int) -> list[Event]:
                panel = wiring.build_panel(specs, settings, seed=7, trusted=True, hub=hub)
                setup = DebateSetup(
                    debate_id=str(uuid.uuid4()),
                    task=Task(f"What is 2 + 2? (debate {number})"),
                    protocol=DebateProtocol(mode=Mode.DEBATE, rounds=1, agent_timeout=60.0),
                    panel=tuple(p for p, _ in panel),
                    seed=7,
                )
                log = MemoryEventLog()
                engine = wiring.build_engine(settings, sink=log)
                await engine.start(setup, {p.name: llm for p, llm in panel})
                return log.events(setup.debate_id)

            started = time.perf_counter()
            logs = await asyncio.gather(*(one(n) for n in range(debates)))
            wall = time.perf_counter() - started
        arrivals = _arrival_staggers(fake.requests, debates)
        queued = _queue_staggers(logs)
    return {"arrival": arrivals, "queued": queued, "wall_s": wall}


def _arrival_staggers(requests: Sequence[FakeRequest], debates: int) -> list[float]:
    by_debate: dict[int, list[float]] = defaultdict(list)
    for request in requests:
        for number in range(debates):
            if f"(debate {number})" in request.prompt:
                by_debate[number].append(request.received_at)
                break
    staggers = []
    for times in by_debate.values():
        times.sort()
        for start in range(0, len(times) - len(times) % 3, 3):
            wave = times[start : start + 3]
            staggers.append((wave[-1] - wave[0]) * 1000)
    return staggers


def _queue_staggers(logs: Sequence[Sequence[Event]]) -> list[float]:
    staggers = []
    for events in logs:
        waves: dict[tuple[object, object], list[float]] = defaultdict(list)
        for event in events:
            if event.type in CALLS and not event.data.get("derived"):
                waves[(event.type, event.round)].append(float(event.data["queued_ms"]))
        staggers += [max(w) - min(w) for w in waves.values()]
    return staggers


async def main(debate_counts: Sequence[int], repeats: int) -> bool:
    configurations: list[tuple[str, dict[str, Any], bool]] = [
        ("local", {"spec": "openai-compatible:m@{url}#{name}", "limits": None}, False),
        ("openai, tier 1", {"spec": "openai:gpt-4o#{name}", "limits": None}, False),
        ("openai, states 10,000/min", {"spec": "openai:gpt-4o#{name}", "limits": None}, True),
        (
            "openai, raised by setting",
            {
                "spec": "openai:gpt-4o#{name}",
                "limits": LimitPolicy(max_concurrency=64, rate=200.0, burst=200, fixed=True),
            },
            False,
        ),
        (
            "before (16:8:16 everywhere)",
            {"spec": "openai:gpt-4o#{name}", "limits": LimitPolicy(16, 8.0, 16, fixed=True)},
            False,
        ),
    ]
    await run("warm-up", 1, spec="openai:gpt-4o#{name}", limits=None, states_limit=False)
    met = True
    print(
        f"{'configuration':28} {'debates':>7} {'arrival median/max':>20}"
        f" {'queued median/max':>19} {'wall':>7}"
    )
    for debates in debate_counts:
        for label, options, states in configurations:
            rows = [
                await run(label, debates, states_limit=states, **options) for _ in range(repeats)
            ]
            arrival = [x for row in rows for x in row["arrival"]]
            queued = [x for row in rows for x in row["queued"]]
            wall = statistics.median(row["wall_s"] for row in rows)
            print(
                f"{label:28} {debates:7d} {statistics.median(arrival):8.2f} /{max(arrival):8.2f} ms"
                f" {statistics.median(queued):7.2f} /{max(queued):8.2f} ms {wall:6.2f}s"
            )
            if label in ("local", "openai, raised by setting"):
                met = met and statistics.median(queued) <= TARGET_MS
    return met


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debates", type=int, nargs="*", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ok = asyncio.run(main(args.debates, args.repeats))
    print(f"targets met: {'yes' if ok else 'no'} (median queued stagger <= {TARGET_MS:g} ms)")
