"""``aragora agents`` and ``GET /api/v1/agents`` probe each endpoint (a read that spends no
tokens), so an endpoint that is down is not shown ``ready``."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from types import TracebackType

import pytest

from aragora import wiring
from aragora.agents.fakes.servers import Answer, FakeProvider
from aragora.agents.providers import LimitPolicy
from aragora.agents.registry import default_registry
from aragora.agents.resilience.probe import ProbeCache, probe_path
from aragora.agents.status import agent_statuses, overall_health, probed_agent_statuses
from aragora.cli.main import main
from aragora.debate.model import AgentSpec
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage

from .support import hub_for, request


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Canned:
    """A loopback HTTP server answering every request with one status and JSON body."""

    def __init__(self, status: int, body: dict[str, object]) -> None:
        self.status = status
        self.body = json.dumps(body).encode()
        self.paths: list[str] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Canned:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        self.paths.append(line.decode().split(" ")[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        await asyncio.sleep(0.05)  # slow enough that concurrent probes overlap
        head = f"HTTP/1.1 {self.status} X\r\ncontent-length: {len(self.body)}\r\n\r\n"
        writer.write(head.encode() + self.body)
        await writer.drain()
        writer.close()


async def test_a_dead_endpoint_is_unreachable_and_a_live_one_ready() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with FakeProvider("openai") as live, hub_for(live, api_keys={}) as hub:
        registry = default_registry()
        hub.register(registry)
        specs = [
            f"openai-compatible:m@{dead}#down",
            f"openai-compatible:m@{live.base_url}#up",
            "demo",
        ]
        rows = {row.name: row for row in await probed_agent_statuses(registry, hub, specs)}
        assert [r.path for r in live.requests if r.method == "GET"] == ["/v1/models"]
    down = rows["down"]
    assert down.status == "unreachable"
    assert down.endpoint == dead
    assert down.detail.startswith(f"cannot reach {dead}: ConnectError")
    entry = down.to_dict()
    assert (entry["reachable"], entry["endpoint"]) == (False, dead)
    assert datetime.fromisoformat(entry["checked_at"]).tzinfo is UTC
    up = rows["up"]
    assert (up.status, up.to_dict()["reachable"]) == ("ready", True)
    assert up.detail == ""  # the fake lists its models (GET /v1/models): nothing to report
    assert rows["demo:pragmatist"].status == "ready"
    assert overall_health(list(rows.values())).value == "degraded"


@pytest.mark.parametrize(
    ("status", "shown", "said"),
    [
        (401, "auth_failed", "401 Incorrect API key provided"),
        (503, "unhealthy", "503 Loading model"),
        (200, "ready", ""),
    ],
)
async def test_what_an_endpoint_answers_becomes_the_status(
    status: int, shown: str, said: str
) -> None:
    message = "Loading model" if status == 503 else "Incorrect API key provided"
    async with (
        Canned(status, {"error": {"message": message}}) as server,
        hub_for(api_keys={}) as hub,
    ):
        registry = default_registry()
        hub.register(registry)
        [row] = await probed_agent_statuses(
            registry, hub, [f"openai-compatible:m@{server.base_url}"]
        )
    assert row.status == shown
    assert said in row.detail
    assert server.paths == ["/v1/models"]


def test_each_provider_is_probed_with_a_read_that_spends_no_tokens() -> None:
    assert probe_path("anthropic") == "/v1/models"
    assert probe_path("gemini") == "/v1beta/models"
    assert probe_path("openrouter") == "key"  # its model list needs no key
    for provider in ("openai", "ollama", "openai-compatible"):
        assert probe_path(provider) == "models"  # under the /v1 base URL


async def test_the_catalog_never_waits_and_shows_the_last_probe() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    async with hub_for(api_keys={}) as hub:
        registry = default_registry()
        hub.register(registry)
        specs = [f"openai-compatible:m@{dead}"]
        [first] = agent_statuses(registry, hub, specs)  # starts a probe, does not wait
        assert first.probe is None
        assert first.status == "ready"
        for _ in range(100):
            await asyncio.sleep(0.01)
            [row] = agent_statuses(registry, hub, specs)
            if row.probe is not None:
                break
    assert row.status == "unreachable"


async def test_concurrent_looks_share_one_probe_and_reuse_it_for_the_ttl() -> None:
    async with Canned(200, {"data": []}) as server, hub_for(api_keys={}) as hub:
        registry = default_registry()
        hub.register(registry)
        specs = [f"openai-compatible:m@{server.base_url}"]
        await asyncio.gather(*(probed_agent_statuses(registry, hub, specs) for _ in range(5)))
        await probed_agent_statuses(registry, hub, specs)
    assert server.paths == ["/v1/models"]


async def test_a_cache_closed_with_probes_running_cancels_them() -> None:
    cache = ProbeCache()
    started = asyncio.Event()

    async def forever() -> object:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    cache.refresh("http://x/v1", forever)  # type: ignore[arg-type]
    await started.wait()
    await cache.aclose()
    assert cache.last("http://x/v1") is None


async def test_the_http_catalog_probes_the_default_agents_in_the_background() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = load_settings(
        {"ARAGORA_DEFAULT_AGENTS": f"openai-compatible:m@{dead},demo", "ARAGORA_DEMO_DELAY": "0"}
    )
    node = await wiring.open_node(settings, storage=memory_storage(now=lambda: datetime.now(UTC)))
    try:
        for _ in range(100):  # the probe started when the node was built
            listing = await node.service.agents()
            if listing["agents"][0]["reachable"] is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        await node.close()
    first = listing["agents"][0]
    assert (first["status"], first["reachable"], first["endpoint"]) == ("unreachable", False, dead)
    assert listing["total"] == 2


@pytest.fixture
def dead_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("ARAGORA_DEFAULT_AGENTS", f"openai-compatible:local@{dead},demo")
    return dead


def test_aragora_agents_shows_a_dead_endpoint_as_unreachable(
    dead_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("openai-compatible:local")]
    assert "unreachable" in line
    assert f"cannot reach {dead_endpoint}" in line
    assert "agents: unhealthy" in out
    assert main(["agents", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    entry = listing["agents"][0]
    assert {k: entry[k] for k in ("name", "provider", "model", "status")} == {
        "name": "openai-compatible:local",
        "provider": "openai-compatible",
        "model": "local",
        "status": "unreachable",
    }
    assert (entry["endpoint"], entry["reachable"]) == (dead_endpoint, False)
    assert listing["health"] == "unhealthy"


async def test_a_one_slot_endpoint_busy_answering_still_probes_ready() -> None:
    async with FakeProvider("openai", lambda _: Answer("slow", delay=0.2)) as server:
        hub = hub_for(
            server, api_keys={}, limits=LimitPolicy(max_concurrency=1, rate=None), probe_timeout=0.3
        )
        async with hub:
            llm = hub.build(AgentSpec.parse(f"openai-compatible:m@{server.base_url}"))
            busy = asyncio.ensure_future(llm.complete(request()))
            await asyncio.sleep(0.1)  # the only slot, and its connection, are taken
            probe = await hub.probe("openai-compatible", server.base_url)
            assert not busy.done()
            await busy
    assert probe.status == "ready"
