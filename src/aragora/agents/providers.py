"""The network providers: configuration in, registered factories and shared state out.

A :class:`ProviderHub` belongs to one process (the server's lifespan, or one CLI run). It
owns what agents of the same endpoint share: one connection pool per provider and endpoint,
one :class:`~aragora.agents.resilience.limits.ProviderLimit` per endpoint URL (its slots from
:class:`LimitPolicy`, per provider or per URL) and one start-rate bucket per endpoint and
model (from the hub's :class:`~aragora.agents.resilience.limits.BucketSource`: local, or shared by
every replica through Redis), both adapting to the rate-limit headers and 429s of every
response (:mod:`aragora.agents.resilience.adaptive`), one circuit breaker per endpoint and model
(:class:`~aragora.agents.resilience.breaker.BreakerBoard`, whose states are the agents' health), and
each endpoint's last probe (:mod:`aragora.agents.resilience.probe`). An endpoint is its base URL in
one spelling (:func:`~aragora.agents.endpoints.canonical_endpoint`): the spec's URL for
``openai-compatible``, the configured base URL for every other provider.

:meth:`ProviderHub.register` adds a factory for every provider of CONTRACT.md to a
registry; each builds the resilience stack of :mod:`aragora.agents.resilience.wrappers` around the
provider's adapter, with an OpenRouter fallback chain when that is enabled. Close the hub
(``await hub.aclose()`` or ``async with``) to close its connections, the bucket source's
among them, and stop its probes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aragora.agents.catalog import OpenRouterMap, QuirkBook
from aragora.agents.endpoints import canonical_endpoint
from aragora.agents.pricing import PriceTable
from aragora.agents.registry import AgentRegistry, ProviderFactory
from aragora.agents.resilience.breaker import Breaker, BreakerBoard, BreakerState, Health
from aragora.agents.resilience.limits import BucketSource, LocalBuckets, ProviderLimit, StartBucket
from aragora.agents.resilience.probe import Probe, ProbeCache, probe_endpoint, probe_path
from aragora.agents.resilience.rate_signal import read_rate_signal
from aragora.agents.resilience.wrappers import Dispatch, FallbackChain, RetryPolicy
from aragora.agents.wire.anthropic import AnthropicLLM, anthropic_client
from aragora.agents.wire.gemini import GeminiLLM, gemini_client
from aragora.agents.wire.http_adapter import ResponseHook
from aragora.agents.wire.openai import OpenAIChatLLM, openai_client
from aragora.agents.wire.transport import ClientPool
from aragora.debate.model import AgentSpec
from aragora.debate.ports import LLM
from aragora.errors import InvalidAgentSpecError

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MODELS",
    "KEY_VARIABLES",
    "LOCAL_LIMITS",
    "NETWORK_PROVIDERS",
    "BreakerPolicy",
    "LimitPolicy",
    "ProviderConfig",
    "ProviderHub",
]

KEY_VARIABLES: Mapping[str, str] = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "gemini": "GEMINI_API_KEY",
}
"""Providers that need a key, and the variable that holds it."""

NETWORK_PROVIDERS = (*KEY_VARIABLES, "ollama", "openai-compatible")
"""Every provider the hub builds agents for."""

DEFAULT_MODELS: Mapping[str, str] = {
    "anthropic": "claude-sonnet-4-5",
    "openai": "gpt-4o",
    "openrouter": "meta-llama/llama-3.3-70b-instruct",
    "gemini": "gemini-2.5-flash",
}
"""The model ``aragora agents`` shows for a provider that has a key."""

_FALLBACK_FROM = frozenset({"anthropic", "openai", "gemini"})
_OPENROUTER_HEADERS = {"X-Title": "Aragora"}


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Per-endpoint limits: calls in flight, and calls started per second (None: no rate
    limit beyond the providers' own 429s) with bursts up to ``burst``.

    Both adapt (:mod:`aragora.agents.resilience.adaptive`): the calls in flight between 1 and
    ``max_concurrency``; the start rate, per model, up to ``max_rate`` (None: ``rate``) or
    to the limit the provider states in its headers, unless ``fixed`` (an operator's
    setting), which the provider's limit may lower but never raise."""

    max_concurrency: int = 16
    rate: float | None = 8.0
    burst: int = 16
    max_rate: float | None = None
    fixed: bool = False

    def __post_init__(self) -> None:
        if self.max_concurrency < 1 or self.burst < 1 or (self.rate is not None and self.rate < 0):
            raise ValueError("limits need max_concurrency >= 1, burst >= 1 and rate >= 0")
        if self.max_rate is not None and (self.rate is None or self.max_rate < self.rate):
            raise ValueError("max_rate needs a rate, and may not be below it")


LOCAL_LIMITS = LimitPolicy(max_concurrency=256, rate=None, burst=16)
"""A server of one's own (``ollama``, ``openai-compatible``): no start rate (nobody bills
or throttles it per minute), and up to 256 calls in flight, the sequences vLLM batches by
default (``--max-num-seqs``): such servers schedule and queue their own requests (Ollama
queues up to 512, llama.cpp's server queues what its slots cannot take), so a lower cap
here would only move their queue into ours. A one-slot server that interrupts streams is
served one call at a time once it does, and a 429 halves the calls in flight."""

DEFAULT_LIMITS: Mapping[str, LimitPolicy] = {
    # Tier 1 allows gpt-4o 500 requests a minute (8.3/s); every response states the
    # organisation's real limit (x-ratelimit-limit-requests), which the rate then rises to.
    "openai": LimitPolicy(max_concurrency=64, rate=8.0, burst=16),
    # Tier 1 allows 50 requests a minute (Tier 2: 1,000; Tier 4: 4,000); every response
    # states the limit (anthropic-ratelimit-requests-limit), which the rate rises to.
    "anthropic": LimitPolicy(max_concurrency=64, rate=0.8, burst=8),
    # Tier 1 (billing on) allows Gemini 2.5 Pro 150 requests a minute and 2.5 Flash 1,000;
    # Gemini states no limit in headers, so the rate probes up to Flash's while no 429 comes.
    "gemini": LimitPolicy(max_concurrency=64, rate=2.5, burst=8, max_rate=16.0),
    # OpenRouter does not limit paid models per minute beyond its DDoS protection (free
    # ``:free`` variants: 20 a minute, which their 429s teach the limiter).
    "openrouter": LimitPolicy(max_concurrency=64, rate=20.0, burst=20),
    "ollama": LOCAL_LIMITS,
    "openai-compatible": LOCAL_LIMITS,
}
"""Each provider's limits when ``ARAGORA_AGENT_LIMITS`` says nothing of it (see README,
"Provider limits", for the published tier limits behind them)."""


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Consecutive failures that open a breaker, and seconds before its half-open probe."""

    failure_threshold: int = 5
    reset_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Everything the providers need from the operator (built by the composition root)."""

    api_keys: Mapping[str, str] = field(default_factory=dict)
    """Provider name -> API key, for the providers of :data:`KEY_VARIABLES` that have one."""
    anthropic_base_url: str = "https://api.anthropic.com"
    openai_base_url: str = "https://api.openai.com/v1"
    openrouter_base_url: str = "https://openrouter.ai/api/v1"
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    ollama_host: str = "http://127.0.0.1:11434"
    call_timeout: float = 120.0
    """Seconds a call may take once sent, retries included, when its request sets no
    lower ``timeout``."""
    queue_timeout: float = 600.0
    """Seconds a call may wait for a slot of its endpoint before failing as
    ``queue_timeout``."""
    stall_timeout: float = 60.0
    """Seconds a stream may go without sending anything."""
    openrouter_fallback: bool = False
    fallback_hop_timeout: float | None = None
    """Seconds a hop that has a fallback may take in total before the next hop gets the
    call (None: only the hop's own failures move the call on)."""
    openrouter_models_file: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: LimitPolicy | None = None
    """The limits of an endpoint that :attr:`endpoint_limits` does not name (None: its
    provider's :data:`DEFAULT_LIMITS`)."""
    endpoint_limits: Mapping[str, LimitPolicy] = field(default_factory=dict)
    """Limits by endpoint URL (any spelling of it) or by provider name; a URL wins."""
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    probe_timeout: float = 3.0
    """Seconds a probe of an endpoint may take (``aragora agents``)."""
    probe_ttl: float = 30.0
    """Seconds a probe's result is reused."""

    def limit_for(self, provider: str, endpoint: str) -> LimitPolicy:
        """The limits of ``provider``'s ``endpoint``: its URL's, else the provider's, else
        the default."""
        wanted = canonical_endpoint(endpoint)
        for key, policy in self.endpoint_limits.items():
            if "://" in key and canonical_endpoint(key) == wanted:
                return policy
        named = self.endpoint_limits.get(provider)
        if named is not None:
            return named
        if self.limits is not None:
            return self.limits
        return DEFAULT_LIMITS.get(provider, LOCAL_LIMITS)


class ProviderHub:
    """Builds network agents and owns their shared clients, limits and breakers.

    ``sleep``, ``rand`` and ``clock`` drive retries, local token buckets and breakers
    (tests pass fast or fake ones). ``buckets`` makes each endpoint's start-rate bucket
    (default: :class:`~aragora.agents.resilience.limits.LocalBuckets`, per process); the hub owns it
    and closes it in :meth:`aclose`."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        prices: PriceTable | None = None,
        quirks: QuirkBook | None = None,
        openrouter_map: OpenRouterMap | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        buckets: BucketSource | None = None,
    ) -> None:
        self.config = config
        self.prices = prices or PriceTable.load()
        self.quirks = quirks or QuirkBook.load()
        self.openrouter_map = openrouter_map or OpenRouterMap.load(config.openrouter_models_file)
        self.breakers = BreakerBoard(
            failure_threshold=config.breaker.failure_threshold,
            reset_timeout=config.breaker.reset_timeout,
            clock=clock,
        )
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self._clients: dict[tuple[str, str], ClientPool] = {}
        self._limits: dict[str, ProviderLimit] = {}
        self._rates: dict[tuple[str, str], StartBucket | None] = {}
        self._buckets = buckets if buckets is not None else LocalBuckets(clock=clock, sleep=sleep)
        self._secrets = tuple(key for key in config.api_keys.values() if key)
        self.probes = ProbeCache(ttl=config.probe_ttl, clock=clock)
        """Each endpoint's last probe (see :meth:`probe`)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> ProviderHub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection and the bucket source (the hub may build clients
        again afterwards)."""
        await self.probes.aclose()
        clients = list(self._clients.values())
        self._clients.clear()
        try:
            for client in clients:
                await client.aclose()
        finally:
            await self._buckets.aclose()

    # -- registry --------------------------------------------------------------------------

    def register(self, registry: AgentRegistry) -> None:
        """Register every network provider of CONTRACT.md on ``registry``."""
        for provider in NETWORK_PROVIDERS:
            registry.register(provider, self.factory(provider), replace=True)

    def factory(self, provider: str) -> ProviderFactory:
        """The factory of one provider: a spec in, the full resilience stack out."""

        def make(spec: AgentSpec, *, seed: int) -> LLM:
            return self.build(spec)

        return make

    @property
    def fallback_enabled(self) -> bool:
        """Whether calls may fall back to OpenRouter (enabled, and it has a key)."""
        return self.config.openrouter_fallback and "openrouter" in self.config.api_keys

    def limits(self) -> dict[str, ProviderLimit]:
        """The request limit of each endpoint in use (by canonical URL), whose
        ``in_flight`` and ``waiting`` counts show the load and the queue."""
        return dict(self._limits)

    def rates(self) -> dict[tuple[str, str], StartBucket]:
        """The start-rate bucket of each (endpoint, model) in use that has a rate limit."""
        return {key: bucket for key, bucket in self._rates.items() if bucket is not None}

    def health(self) -> Health:
        """The agents' health for the health endpoint, from the circuit breakers."""
        return self.breakers.health()

    def endpoint(self, provider: str, base_url: str | None = None) -> str:
        """The endpoint (canonical base URL) a ``provider`` agent talks to; ``base_url`` is
        the spec's own URL (``openai-compatible``)."""
        return canonical_endpoint(self._url(provider, base_url))

    def breaker_state(self, provider: str, model: str, base_url: str | None = None) -> BreakerState:
        """The breaker state of ``model`` at ``provider``'s endpoint."""
        return self.breakers.state(self.endpoint(provider, base_url), model)

    async def probe(self, provider: str, base_url: str | None = None) -> Probe:
        """Whether ``provider``'s endpoint answers (see :mod:`aragora.agents.resilience.probe`):
        the last result when younger than ``probe_ttl``, else a new probe."""
        endpoint = self.endpoint(provider, base_url)
        return await self.probes.check(endpoint, self._prober(provider, base_url, endpoint))

    def last_probe(self, provider: str, base_url: str | None = None) -> Probe | None:
        """The last probe of ``provider``'s endpoint, however old; when it is older than
        ``probe_ttl`` (or missing) a new one starts in the background, if an event loop
        runs, so the next look is current without this one waiting."""
        endpoint = self.endpoint(provider, base_url)
        self.probes.refresh(endpoint, self._prober(provider, base_url, endpoint))
        return self.probes.last(endpoint)

    def _prober(
        self, provider: str, base_url: str | None, endpoint: str
    ) -> Callable[[], Awaitable[Probe]]:
        def run() -> Awaitable[Probe]:
            url = self._url(provider, base_url)
            connections = self.config.limit_for(provider, endpoint).max_concurrency
            client = self._client(provider, url, self.config.api_keys.get(provider), connections)
            return probe_endpoint(
                client,
                probe_path(provider),
                endpoint=endpoint,
                within=self.config.probe_timeout,
                secrets=self._secrets,
            )

        return run

    def missing_key(self, provider: str) -> str | None:
        """The variable to set when ``provider`` needs a key it does not have."""
        variable = KEY_VARIABLES.get(provider)
        if variable is None or self.config.api_keys.get(provider):
            return None
        return variable

    def build(self, spec: AgentSpec) -> LLM:
        """The agent for ``spec`` (provider and model set). Raises
        :class:`InvalidAgentSpecError` naming the spec when its key is not set."""
        variable = self.missing_key(spec.provider)
        if variable is not None:
            raise InvalidAgentSpecError(str(spec), f"{variable} is not set")
        primary = self._stack(spec.provider, spec.model, spec.base_url)
        if not self.fallback_enabled or spec.provider not in _FALLBACK_FROM:
            return primary
        targets = self.openrouter_map.targets(spec.provider, spec.model)
        if not targets:
            return primary
        hops = [primary, *(self._stack("openrouter", target, None) for target in targets)]
        return FallbackChain(hops, hop_timeout=self.config.fallback_hop_timeout)

    # -- assembly --------------------------------------------------------------------------

    def _stack(self, provider: str, model: str, base_url: str | None) -> LLM:
        config = self.config
        endpoint = self.endpoint(provider, base_url)
        limit = self._limit(provider, endpoint)
        bucket = self._bucket(provider, endpoint, model)

        async def learn(status: int, headers: Mapping[str, str]) -> None:
            signal = read_rate_signal(status, headers)
            if signal.says_anything:
                await limit.learn(signal, bucket)

        adapter = self._adapter(provider, model, base_url, limit.max_concurrency, learn)
        dispatch = Dispatch(
            adapter,
            limit=limit,
            bucket=bucket,
            policy=config.retry,
            timeout=config.call_timeout,
            queue_timeout=config.queue_timeout,
            sleep=self._sleep,
            rand=self._rand,
            clock=self._clock,
        )
        breaker = self.breakers.get(endpoint, model)
        return Breaker(dispatch, breaker, wait=config.call_timeout)

    def _url(self, provider: str, base_url: str | None) -> str:
        """The base URL ``provider``'s client is built with (as configured)."""
        config = self.config
        return {
            "anthropic": config.anthropic_base_url,
            "gemini": config.gemini_base_url,
            "openai": config.openai_base_url,
            "openrouter": config.openrouter_base_url,
            "ollama": config.ollama_host.rstrip("/") + "/v1",
        }.get(provider) or (base_url or "")

    def _adapter(
        self,
        provider: str,
        model: str,
        base_url: str | None,
        connections: int,
        on_response: ResponseHook,
    ) -> LLM:
        config = self.config
        quirks = self.quirks.for_model(provider, model)
        key = config.api_keys.get(provider)
        url = self._url(provider, base_url)
        adapter: type[AnthropicLLM | GeminiLLM | OpenAIChatLLM]
        if provider == "anthropic":
            adapter = AnthropicLLM
        elif provider == "gemini":
            adapter = GeminiLLM
        else:
            adapter = OpenAIChatLLM
        return adapter(
            provider=provider,
            model=model,
            client=self._client(provider, url, key, connections),
            prices=self.prices,
            quirks=quirks,
            secrets=self._secrets,
            on_response=on_response,
        )

    def _client(
        self, provider: str, base_url: str, key: str | None, connections: int
    ) -> ClientPool:
        slot = (provider, base_url)
        client = self._clients.get(slot)
        if client is None:
            stall = self.config.stall_timeout
            # One connection beyond the endpoint's slots (the limiter, not the pool, bounds
            # calls): a probe of a one-slot server that is busy answering must not wait for
            # the pool and be taken for an endpoint that does not answer.
            size = max(connections, 1) + 1
            if provider == "anthropic" and key:
                client = anthropic_client(base_url, key, stall_timeout=stall, max_connections=size)
            elif provider == "gemini" and key:
                client = gemini_client(base_url, key, stall_timeout=stall, max_connections=size)
            else:
                client = openai_client(
                    base_url,
                    key,
                    stall_timeout=stall,
                    max_connections=size,
                    extra_headers=_OPENROUTER_HEADERS if provider == "openrouter" else None,
                )
            self._clients[slot] = client
        return client

    def _limit(self, provider: str, endpoint: str) -> ProviderLimit:
        # One limit per endpoint URL, whichever provider names it: a one-slot server stays
        # one slot when an ``ollama:`` and an ``openai-compatible:`` spec both reach it.
        limit = self._limits.get(endpoint)
        if limit is None:
            policy = self.config.limit_for(provider, endpoint)
            limit = ProviderLimit(
                policy.max_concurrency,
                provider=provider,
                endpoint=endpoint,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._limits[endpoint] = limit
        return limit

    def _bucket(self, provider: str, endpoint: str, model: str) -> StartBucket | None:
        # One start rate per endpoint and model: providers limit each model on its own.
        key = (endpoint, model)
        if key not in self._rates:
            policy = self.config.limit_for(provider, endpoint)
            bucket = None
            if policy.rate:
                bucket = self._buckets.bucket(
                    provider,
                    endpoint,
                    policy.rate,
                    policy.burst,
                    model=model,
                    max_rate=policy.max_rate,
                    fixed=policy.fixed,
                )
            self._rates[key] = bucket
        return self._rates[key]
