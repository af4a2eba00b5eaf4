"""What ``aragora agents`` and ``GET /api/v1/agents`` show: the configured agents and their
status, from the operator's default specs, the providers that have keys, the breakers and
each endpoint's probe (:mod:`aragora.agents.resilience.probe`).

:func:`probed_agent_statuses` probes every endpoint first (``aragora agents``: one short
request per endpoint, no tokens spent). :func:`agent_statuses` never waits: it shows each
endpoint's last probe and starts a new one in the background when that is older than the
hub's ``probe_ttl`` (the HTTP catalog, which must stay fast), so an endpoint that died is
shown ``unreachable`` from the next look on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aragora.agents.providers import (
    DEFAULT_MODELS,
    KEY_VARIABLES,
    NETWORK_PROVIDERS,
    ProviderHub,
)
from aragora.agents.registry import AgentRegistry
from aragora.agents.resilience.breaker import BreakerState, Health
from aragora.agents.resilience.probe import Probe
from aragora.agents.resilience.wrappers import FallbackChain
from aragora.debate.model import AgentSpec
from aragora.debate.ports import LLM
from aragora.errors import InvalidAgentSpecError

__all__ = ["AgentStatus", "agent_statuses", "overall_health", "probed_agent_statuses"]

_BREAKER_STATUS = {
    BreakerState.CLOSED: "ready",
    BreakerState.HALF_OPEN: "degraded",
    BreakerState.OPEN: "circuit_open",
}


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """One configured agent.

    ``status`` is ``ready``, ``degraded`` (its breaker is probing), ``circuit_open``,
    ``unreachable`` (its endpoint does not answer), ``auth_failed`` (the endpoint refuses
    the key), ``unhealthy`` (the endpoint answers 5xx) or ``not_configured``; ``detail``
    says why (e.g. ``ANTHROPIC_API_KEY is not set``, or the probe's error); ``source`` is
    ``default_agents`` (ARAGORA_DEFAULT_AGENTS) or ``api_key`` (a provider with a key,
    shown with its default model). ``endpoint`` is the base URL the agent calls, and
    ``probe`` the last probe of it (None: not probed yet)."""

    name: str
    spec: str
    provider: str
    model: str
    status: str
    source: str
    detail: str = ""
    fallbacks: tuple[str, ...] = ()
    endpoint: str = ""
    probe: Probe | None = None

    @property
    def network(self) -> bool:
        """Whether this agent calls an endpoint (not a demo, and configured)."""
        return bool(self.endpoint) and self.status != "not_configured"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``GET /api/v1/agents`` entries."""
        probe = self.probe
        return {
            "name": self.name,
            "spec": self.spec,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "source": self.source,
            "detail": self.detail,
            "fallbacks": list(self.fallbacks),
            "endpoint": self.endpoint,
            "reachable": None if probe is None else probe.reachable,
            "checked_at": None
            if probe is None or probe.checked_at is None
            else probe.checked_at.isoformat(),
            "probe_seconds": None if probe is None else round(probe.seconds, 4),
        }


def agent_statuses(
    registry: AgentRegistry, hub: ProviderHub, default_specs: Sequence[str]
) -> list[AgentStatus]:
    """The default agents, named as a debate's panel would name them (each spec checked on
    its own, as the operator's: trusted), then one entry for each provider that has a key
    and is not among them; each with its endpoint's last probe (see the module)."""
    return _rows(registry, hub, default_specs, hub.last_probe)


async def probed_agent_statuses(
    registry: AgentRegistry, hub: ProviderHub, default_specs: Sequence[str]
) -> list[AgentStatus]:
    """:func:`agent_statuses` after probing every endpoint among them (concurrently; a
    result younger than the hub's ``probe_ttl`` is reused)."""
    wanted: dict[tuple[str, str | None], None] = {}

    def note(provider: str, base_url: str | None) -> None:
        wanted[(provider, base_url)] = None

    _rows(registry, hub, default_specs, note)
    targets = list(wanted)
    results = await asyncio.gather(*(hub.probe(p, url) for p, url in targets))
    found = dict(zip(targets, results, strict=True))
    return _rows(registry, hub, default_specs, lambda p, url: found.get((p, url)))


def overall_health(rows: Sequence[AgentStatus]) -> Health:
    """``healthy`` when every network agent is ready (or there is none), ``unhealthy``
    when none is, ``degraded`` in between."""
    network = [row for row in rows if row.network]
    ready = sum(1 for row in network if row.status == "ready")
    if ready == len(network):
        return Health.HEALTHY
    return Health.UNHEALTHY if ready == 0 else Health.DEGRADED


def _rows(
    registry: AgentRegistry,
    hub: ProviderHub,
    default_specs: Sequence[str],
    probe_of: Callable[[str, str | None], Probe | None],
) -> list[AgentStatus]:
    problems: dict[int, AgentStatus] = {}
    for index, text in enumerate(default_specs):
        problem = _problem(registry, text)
        if problem is not None:
            problems[index] = problem
    working = [text for i, text in enumerate(default_specs) if i not in problems]
    panel = iter(registry.build_panel(working, trusted=True) if working else ())
    rows = []
    for index in range(len(default_specs)):
        if index in problems:
            rows.append(problems[index])
        else:
            participant, llm = next(panel)
            rows.append(
                _status(hub, participant.name, participant.spec, llm, "default_agents", probe_of)
            )
    seen = {row.provider for row in rows}
    for provider in KEY_VARIABLES:
        if provider not in seen and hub.missing_key(provider) is None:
            text = f"{provider}:{DEFAULT_MODELS[provider]}"
            llm = registry.create(text, trusted=True)
            rows.append(_status(hub, text, text, llm, "api_key", probe_of))
    return rows


def _problem(registry: AgentRegistry, text: str) -> AgentStatus | None:
    try:
        spec = AgentSpec.parse(text)
    except InvalidAgentSpecError as exc:
        return AgentStatus(text, text, "", "", "not_configured", "default_agents", exc.reason)
    try:
        registry.create(text, trusted=True)
    except InvalidAgentSpecError as exc:
        name = spec.label or text.strip()
        return AgentStatus(
            name, text, spec.provider, spec.model, "not_configured", "default_agents", exc.reason
        )
    return None


def _status(
    hub: ProviderHub,
    name: str,
    text: str,
    llm: LLM,
    source: str,
    probe_of: Callable[[str, str | None], Probe | None],
) -> AgentStatus:
    if llm.provider == "demo":
        return AgentStatus(name, text, "demo", llm.model, "ready", source, "offline demo agent")
    if llm.provider not in NETWORK_PROVIDERS:  # offline agents of another plugin
        return AgentStatus(name, text, llm.provider, llm.model, "ready", source)
    base_url = AgentSpec.parse(text).base_url
    hops = llm.hops[1:] if isinstance(llm, FallbackChain) else ()
    state = hub.breaker_state(llm.provider, llm.model, base_url)
    probe = probe_of(llm.provider, base_url)
    status, detail = _BREAKER_STATUS[state], ""
    if probe is not None:
        detail = probe.detail
        if probe.status != "ready":
            status = probe.status
    return AgentStatus(
        name,
        text,
        llm.provider,
        llm.model,
        status,
        source,
        detail,
        fallbacks=tuple(f"{hop.provider}:{hop.model}" for hop in hops),
        endpoint=hub.endpoint(llm.provider, base_url),
        probe=probe,
    )
