"""The provider hub: keys, endpoint safety, fallback wiring, pricing data, health, status."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aragora.agents.catalog import OpenRouterMap, QuirkBook
from aragora.agents.endpoints import EndpointAllowlist, canonical_endpoint
from aragora.agents.fakes.servers import Answer, Fail, FakeProvider
from aragora.agents.pricing import PriceTable
from aragora.agents.providers import BreakerPolicy, ProviderConfig, ProviderHub
from aragora.agents.registry import default_registry
from aragora.agents.resilience.breaker import Health
from aragora.agents.resilience.wrappers import FallbackChain
from aragora.agents.status import agent_statuses
from aragora.agents.wire.transport import Kind
from aragora.debate.model import AgentSpec
from aragora.errors import ConfigurationError, InvalidAgentSpecError, ProviderError

from .support import KEYS, Sleeps, hub_for, request

# -- keys and endpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY"),
        ("openai:gpt-4o", "OPENAI_API_KEY"),
        ("openrouter:meta-llama/llama-3.3-70b-instruct", "OPENROUTER_API_KEY"),
        ("gemini:gemini-2.5-flash", "GEMINI_API_KEY"),
    ],
)
def test_a_provider_without_its_key_names_the_spec_and_the_variable(
    spec: str, variable: str
) -> None:
    registry = default_registry()
    ProviderHub(ProviderConfig()).register(registry)
    with pytest.raises(InvalidAgentSpecError) as caught:
        registry.build_panel([spec, "demo"])
    assert str(caught.value) == f"agent spec {spec!r}: {variable} is not set"


def test_local_providers_need_no_key() -> None:
    registry = default_registry()
    ProviderHub(ProviderConfig()).register(registry)
    panel = registry.build_panel(
        ["ollama:llama3.2", "openai-compatible:m@http://10.1.2.3/v1"], trusted=True
    )
    assert [(p.provider, p.model) for p, _ in panel] == [
        ("ollama", "llama3.2"),
        ("openai-compatible", "m"),
    ]


async def test_an_untrusted_endpoint_outside_the_allowlist_is_refused_without_a_connection() -> (
    None
):
    async with FakeProvider("openai") as fake:
        registry = default_registry(allowed_endpoints=["http://127.0.0.1:1/v1"])
        async with hub_for(fake) as hub:
            hub.register(registry)
            spec = f"openai-compatible:local@{fake.base_url}"
            with pytest.raises(InvalidAgentSpecError) as caught:
                registry.build_panel([spec], trusted=False)
            assert "ARAGORA_AGENT_ENDPOINTS" in str(caught.value)
            assert caught.value.code == "invalid_agent_spec"  # the API's 400
            with pytest.raises(InvalidAgentSpecError):
                registry.create(spec)
            # the operator's own spec (CLI, environment) may name it
            [(_, llm)] = registry.build_panel([spec], trusted=True)
            assert (await llm.complete(request())).text
        assert len(fake.requests) == 1  # only the trusted call connected


async def test_an_allowlisted_endpoint_is_accepted_from_anyone() -> None:
    async with FakeProvider("openai", [Answer("local answer")]) as fake:
        registry = default_registry(allowed_endpoints=[f"http://127.0.0.1:{fake.port}"])
        async with hub_for(fake) as hub:
            hub.register(registry)
            [(participant, llm)] = registry.build_panel([f"openai-compatible:qwen@{fake.base_url}"])
            completion = await llm.complete(request())
    assert participant.provider == "openai-compatible"
    assert completion.text == "local answer"
    assert "authorization" not in fake.requests[0].headers  # no key goes to a custom endpoint


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://gpu.internal:8000/v1", True),
        ("HTTP://GPU.internal:8000/v1/", True),
        ("http://gpu.internal:8000/v1/deployments/a", True),
        ("http://gpu.internal:8000/v10", False),
        ("http://gpu.internal:8000/v1/../admin", False),
        ("http://gpu.internal:8000/v1/%2e%2e/admin", False),
        ("http://gpu.internal:8000/v1/%2E%2e/admin", False),
        ("http://gpu.internal:8000/v1/%252e%252e/admin", False),  # encoded twice
        ("http://gpu.internal:8000/v1%2f..%2fadmin", False),
        ("http://gpu.internal:8000/v1/./chat", False),
        ("http://gpu.internal:8000/v1/..%5cadmin", False),
        ("http://gpu.internal:8000/v1?target=http://169.254.169.254", False),
        ("http://gpu.internal:8000/v1/?", False),
        ("http://gpu.internal:8000/v1#fragment", False),
        ("http://gpu.internal:8000/v1/%61pi", True),  # decoded: /v1/api, still under /v1
        ("http://gpu.internal:8000//v1//deployments", True),
        ("http://gpu.internal:9000/v1", False),
        ("https://gpu.internal:8000/v1", False),
        ("http://user:pw@gpu.internal:8000/v1", False),
        ("http://169.254.169.254/latest", False),
        ("https://llm.example.com/v1", True),
        ("https://llm.example.com:443/anything", True),
    ],
)
def test_the_allowlist_matches_scheme_host_port_and_path_prefix(url: str, allowed: bool) -> None:
    allowlist = EndpointAllowlist(["http://gpu.internal:8000/v1", "https://llm.example.com"])
    assert allowlist.allows(url) is allowed


def test_a_malformed_allowlist_is_a_configuration_error() -> None:
    for entry in ("ftp://x", "http://x/v1?key=1", "http://x/a/../b"):
        with pytest.raises(ConfigurationError):
            default_registry(allowed_endpoints=[entry])


def test_an_encoded_climb_out_of_the_allowlist_is_refused_before_any_connection() -> None:
    registry = default_registry(allowed_endpoints=["http://127.0.0.1:8081/v1"])
    ProviderHub(ProviderConfig()).register(registry)
    for url in ("http://127.0.0.1:8081/v1/%2e%2e/admin", "http://127.0.0.1:8081/v1?x=1"):
        with pytest.raises(InvalidAgentSpecError, match="ARAGORA_AGENT_ENDPOINTS"):
            registry.build_panel([f"openai-compatible:m@{url}"])


def test_an_endpoint_has_one_spelling() -> None:
    spellings = ["HTTP://Gpu:80/v1/", "http://gpu/v1", "http://gpu:80//v1", "http://gpu/%761"]
    assert {canonical_endpoint(url) for url in spellings} == {"http://gpu/v1"}
    assert canonical_endpoint("https://[::1]:8443/v1") == "https://[::1]:8443/v1"


# -- fallback wiring --------------------------------------------------------------------------


def test_fallback_chains_follow_the_model_map(tmp_path: Path) -> None:
    mapping = tmp_path / "map.json"
    mapping.write_text(
        json.dumps(
            {
                "models": {
                    "anthropic:claude-x": ["anthropic/claude-x", "openai/gpt-4o"],
                    "openai:gpt-4o": [],
                },
                "prefixes": {"gemini": "google/"},
            }
        )
    )
    config = ProviderConfig(
        api_keys=dict(KEYS), openrouter_fallback=True, openrouter_models_file=mapping
    )
    hub = ProviderHub(config)
    chain = hub.build(AgentSpec.parse("anthropic:claude-x"))
    assert isinstance(chain, FallbackChain)
    assert [(h.provider, h.model) for h in chain.hops] == [
        ("anthropic", "claude-x"),
        ("openrouter", "anthropic/claude-x"),
        ("openrouter", "openai/gpt-4o"),
    ]
    assert not isinstance(hub.build(AgentSpec.parse("openai:gpt-4o")), FallbackChain)
    gemini = hub.build(AgentSpec.parse("gemini:gemini-9"))
    assert isinstance(gemini, FallbackChain)
    assert gemini.hops[1].model == "google/gemini-9"
    for spec in ("openrouter:x/y", "ollama:llama3.2"):
        assert not isinstance(hub.build(AgentSpec.parse(spec)), FallbackChain)


def test_no_fallback_without_an_openrouter_key() -> None:
    keys = {k: v for k, v in KEYS.items() if k != "openrouter"}
    hub = ProviderHub(ProviderConfig(api_keys=keys, openrouter_fallback=True))
    assert not hub.fallback_enabled
    assert not isinstance(hub.build(AgentSpec.parse("anthropic:claude-sonnet-4-5")), FallbackChain)


def test_the_shipped_map_covers_the_contract_examples() -> None:
    shipped = OpenRouterMap.load()
    assert shipped.targets("anthropic", "claude-sonnet-4-5") == ("anthropic/claude-sonnet-4.5",)
    assert shipped.targets("gemini", "gemini-2.5-flash") == ("google/gemini-2.5-flash",)
    assert shipped.targets("openai", "gpt-4o") == ("openai/gpt-4o",)
    assert shipped.targets("ollama", "llama3.2") == ()


# -- pricing and quirks data ----------------------------------------------------------------


def test_prices_match_snapshots_and_local_models_are_free() -> None:
    prices = PriceTable.load()
    assert prices.taken
    sonnet = prices.price("anthropic", "claude-sonnet-4-5")
    assert prices.price("anthropic", "claude-sonnet-4-5-20250929") == sonnet
    assert prices.price("openai", "gpt-4o-mini-2024-07-18") == prices.price("openai", "gpt-4o-mini")
    assert prices.price("ollama", "anything") is not None
    assert prices.price("openai", "unknown-model") is None
    assert prices.usage("openai", "unknown-model", 10, 10).cost_usd == 0.0
    assert prices.usage("openrouter", "x/y", 10, 10, reported_cost=0.25).cost_usd == 0.25


def test_bad_data_files_are_configuration_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for load in (PriceTable.load, QuirkBook.load, OpenRouterMap.load):
        with pytest.raises(ConfigurationError, match=r"broken\.json"):
            load(broken)
    negative = tmp_path / "negative.json"
    negative.write_text(json.dumps({"models": {"a:b": {"input": -1, "output": 1}}}))
    with pytest.raises(ConfigurationError):
        PriceTable.load(negative)


def test_quirks_later_rules_override_earlier_ones() -> None:
    quirks = QuirkBook.load()
    assert quirks.for_model("openai", "o4-mini").temperature is False
    assert quirks.for_model("openai", "gpt-5-chat-latest").temperature is True
    assert quirks.for_model("anthropic", "claude-sonnet-4-5").temperature is True
    assert quirks.for_model("gemini", "gemini-2.5-flash").thinking_budget == 0


# -- through the hub --------------------------------------------------------------------------


async def test_openrouter_reported_cost_wins_over_the_price_table() -> None:
    routed = Answer("routed", input_tokens=10, output_tokens=10, cost=0.0042)
    async with FakeProvider("openai") as openai_fake, FakeProvider("openai", [routed]) as router:
        hub = hub_for(openai_fake, router)
        async with hub:
            llm = hub.build(AgentSpec.parse("openrouter:meta-llama/llama-3.3-70b-instruct"))
            completion = await llm.complete(request())
    assert completion.usage.cost_usd == 0.0042
    assert router.requests[0].body["usage"] == {"include": True}
    assert completion.provider == "openrouter"


async def test_breakers_drive_health_and_status() -> None:
    async with FakeProvider("anthropic", default=Fail(500)) as fake:
        hub = hub_for(fake, breaker=BreakerPolicy(failure_threshold=2))
        async with hub:
            registry = default_registry()
            hub.register(registry)
            llm = registry.create("anthropic:claude-sonnet-4-5")
            assert hub.health() is Health.HEALTHY
            for _ in range(2):  # a call counts once, after its 3 attempts
                with pytest.raises(ProviderError) as caught:
                    await llm.complete(request())
                assert caught.value.kind == Kind.SERVER_ERROR
            assert hub.health() is Health.UNHEALTHY
            with pytest.raises(ProviderError) as caught:
                await llm.complete(request())
            assert caught.value.kind == Kind.CIRCUIT_OPEN
            assert "claude-sonnet-4-5@http://127.0.0.1:" in str(caught.value)  # the breaker
            rows = agent_statuses(registry, hub, ["anthropic:claude-sonnet-4-5#lead", "demo"])
    assert len(fake.requests) == 6
    by_name = {row.name: row for row in rows}
    assert by_name["lead"].status == "circuit_open"
    assert by_name["demo:pragmatist"].status == "ready"  # named as on a panel
    assert {row.provider for row in rows} >= {"anthropic", "openai", "gemini", "openrouter"}


def test_status_reports_missing_keys_and_bad_specs() -> None:
    hub = ProviderHub(ProviderConfig())
    registry = default_registry()
    hub.register(registry)
    rows = agent_statuses(registry, hub, ["gemini:gemini-2.5-flash", "nope", "demo:skeptic"])
    assert [(r.name, r.status, r.detail) for r in rows] == [
        ("gemini:gemini-2.5-flash", "not_configured", "GEMINI_API_KEY is not set"),
        ("nope", "not_configured", "expected provider:model, e.g. openai:gpt-4o"),
        ("demo:skeptic", "ready", "offline demo agent"),
    ]
    assert rows[0].to_dict()["provider"] == "gemini"


async def test_api_keys_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeProvider("anthropic", [Fail(429, retry_after="0"), Fail(401)]) as fake:
        hub = hub_for(fake)
        async with hub:
            with pytest.raises(ProviderError):
                await hub.build(AgentSpec.parse("anthropic:claude-sonnet-4-5")).complete(request())
    assert caplog.records
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for key in KEYS.values():
        assert key not in text


async def test_the_hub_waits_as_long_as_retry_after_says_then_succeeds() -> None:
    sleeps = Sleeps()
    async with FakeProvider("anthropic", [Fail(429, retry_after="2"), Answer("fine")]) as fake:
        hub = hub_for(fake, sleeps=sleeps)
        async with hub:
            completion = await hub.build(AgentSpec.parse("anthropic:claude-sonnet-4-5")).complete(
                request()
            )
    assert completion.text == "fine"
    assert sleeps.calls == [2.0]
    assert len(fake.requests) == 2
