"""The network providers: configuration in, registered factories and shared state out.

A :class:`ProviderHub` belongs to one process (the server's lifespan, or one CLI run). It
owns what agents of the same provider share: one connection pool per endpoint, one
:class:`~aragora.agents.limits.ProviderLimit` per endpoint (whose start rate comes from the
hub's :class:`~aragora.agents.limits.BucketSource`: local, or shared by every replica
through Redis), and one circuit breaker per
``provider:model`` (:class:`~aragora.agents.breaker.BreakerBoard`, whose states are the
agents' health). :meth:`ProviderHub.register` adds a factory for every provider of
CONTRACT.md to a registry; each builds the resilience stack of
:mod:`aragora.agents.resilience` around the provider's adapter, with an OpenRouter
fallback chain when that is enabled. Close the hub (``await hub.aclose()`` or
``async with``) to close its connections, the bucket source's among them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from aragora.agents.anthropic import AnthropicLLM, anthropic_client
from aragora.agents.breaker import Breaker, BreakerBoard, Health
from aragora.agents.catalog import OpenRouterMap, QuirkBook
from aragora.agents.gemini import GeminiLLM, gemini_client
from aragora.agents.http import ClientPool
from aragora.agents.limits import BucketSource, Limited, LocalBuckets, ProviderLimit
from aragora.agents.openai import OpenAIChatLLM, openai_client
from aragora.agents.pricing import PriceTable
from aragora.agents.registry import AgentRegistry, ProviderFactory
from aragora.agents.resilience import AttemptTimeout, FallbackChain, Retry, RetryPolicy
from aragora.debate.model import AgentSpec
from aragora.debate.ports import LLM
from aragora.errors import InvalidAgentSpecError

__all__ = [
    "DEFAULT_MODELS",
    "KEY_VARIABLES",
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
    limit beyond the providers' own 429s) with bursts up to ``burst``."""

    max_concurrency: int = 16
    rate: float | None = 8.0
    burst: int = 16


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
    attempt_timeout: float = 120.0
    """Seconds one HTTP attempt may take, start to end of its stream."""
    stall_timeout: float = 60.0
    """Seconds a stream may go without sending anything."""
    openrouter_fallback: bool = False
    fallback_hop_timeout: float | None = None
    """Seconds a hop that has a fallback may take in total before the next hop gets the
    call (None: only the hop's own failures move the call on)."""
    openrouter_models_file: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    limits: LimitPolicy = field(default_factory=LimitPolicy)
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)


class ProviderHub:
    """Builds network agents and owns their shared clients, limits and breakers.

    ``sleep``, ``rand`` and ``clock`` drive retries, local token buckets and breakers
    (tests pass fast or fake ones). ``buckets`` makes each endpoint's start-rate bucket
    (default: :class:`~aragora.agents.limits.LocalBuckets`, per process); the hub owns it
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
        self._limits: dict[tuple[str, str], ProviderLimit] = {}
        self._buckets = buckets if buckets is not None else LocalBuckets(clock=clock, sleep=sleep)
        self._secrets = tuple(key for key in config.api_keys.values() if key)

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
        for provider in (*KEY_VARIABLES, "ollama", "openai-compatible"):
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
        """The request limit of each endpoint in use (``provider endpoint``), whose
        ``in_flight`` and ``waiting`` counts show the load and the queue."""
        return {
            f"{provider} {endpoint}": limit for (provider, endpoint), limit in self._limits.items()
        }

    def health(self) -> Health:
        """The agents' health for the health endpoint, from the circuit breakers."""
        return self.breakers.health()

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
        adapter = self._adapter(spec.provider, spec.model, spec.base_url)
        primary = self._stack(adapter, spec.base_url)
        if not self.fallback_enabled or spec.provider not in _FALLBACK_FROM:
            return primary
        targets = self.openrouter_map.targets(spec.provider, spec.model)
        if not targets:
            return primary
        hops = [primary, *(self._stack(self._adapter("openrouter", t, None)) for t in targets)]
        return FallbackChain(hops, hop_timeout=self.config.fallback_hop_timeout)

    # -- assembly --------------------------------------------------------------------------

    def _stack(self, adapter: LLM, endpoint: str | None = None) -> LLM:
        config = self.config
        limit = self._limit(adapter.provider, endpoint or adapter.provider)
        breaker = self.breakers.get(adapter.provider, adapter.model)
        guarded = Breaker(Limited(AttemptTimeout(adapter, config.attempt_timeout), limit), breaker)
        return Retry(guarded, config.retry, sleep=self._sleep, rand=self._rand)

    def _adapter(self, provider: str, model: str, base_url: str | None) -> LLM:
        config = self.config
        quirks = self.quirks.for_model(provider, model)
        key = config.api_keys.get(provider)
        adapter: type[AnthropicLLM | GeminiLLM | OpenAIChatLLM]
        if provider == "anthropic":
            adapter, url = AnthropicLLM, config.anthropic_base_url
        elif provider == "gemini":
            adapter, url = GeminiLLM, config.gemini_base_url
        else:
            adapter = OpenAIChatLLM
            url = {
                "openai": config.openai_base_url,
                "openrouter": config.openrouter_base_url,
                "ollama": config.ollama_host.rstrip("/") + "/v1",
            }.get(provider) or (base_url or "")
        return adapter(
            provider=provider,
            model=model,
            client=self._client(provider, url, key),
            prices=self.prices,
            quirks=quirks,
            secrets=self._secrets,
        )

    def _client(self, provider: str, base_url: str, key: str | None) -> ClientPool:
        slot = (provider, base_url)
        client = self._clients.get(slot)
        if client is None:
            stall = self.config.stall_timeout
            size = max(self.config.limits.max_concurrency, 1)
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
        slot = (provider, endpoint)
        limit = self._limits.get(slot)
        if limit is None:
            policy = self.config.limits
            bucket = None
            if policy.rate:
                bucket = self._buckets.bucket(provider, endpoint, policy.rate, policy.burst)
            limit = ProviderLimit(policy.max_concurrency, bucket=bucket)
            self._limits[slot] = limit
        return limit
