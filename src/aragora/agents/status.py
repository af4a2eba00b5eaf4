"""What ``aragora agents`` and ``GET /api/v1/agents`` show: the configured agents and their
status, from the operator's default specs, the providers that have keys, and the breakers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aragora.agents.breaker import BreakerState
from aragora.agents.providers import DEFAULT_MODELS, KEY_VARIABLES, ProviderHub
from aragora.agents.registry import AgentRegistry
from aragora.agents.resilience import FallbackChain
from aragora.debate.model import AgentSpec
from aragora.debate.ports import LLM
from aragora.errors import InvalidAgentSpecError

__all__ = ["AgentStatus", "agent_statuses"]

_BREAKER_STATUS = {
    BreakerState.CLOSED: "ready",
    BreakerState.HALF_OPEN: "degraded",
    BreakerState.OPEN: "circuit_open",
}


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """One configured agent.

    ``status`` is ``ready``, ``degraded`` (its breaker is probing), ``circuit_open`` or
    ``not_configured`` (``detail`` says why, e.g. ``ANTHROPIC_API_KEY is not set``);
    ``source`` is ``default_agents`` (ARAGORA_DEFAULT_AGENTS) or ``api_key`` (a provider
    with a key, shown with its default model)."""

    name: str
    spec: str
    provider: str
    model: str
    status: str
    source: str
    detail: str = ""
    fallbacks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``GET /api/v1/agents`` entries."""
        return {
            "name": self.name,
            "spec": self.spec,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "source": self.source,
            "detail": self.detail,
            "fallbacks": list(self.fallbacks),
        }


def agent_statuses(
    registry: AgentRegistry, hub: ProviderHub, default_specs: Sequence[str]
) -> list[AgentStatus]:
    """The default agents, named as a debate's panel would name them (each spec checked on
    its own, as the operator's: trusted), then one entry for each provider that has a key
    and is not among them."""
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
            rows.append(_status(hub, participant.name, participant.spec, llm, "default_agents"))
    seen = {row.provider for row in rows}
    for provider in KEY_VARIABLES:
        if provider not in seen and hub.missing_key(provider) is None:
            text = f"{provider}:{DEFAULT_MODELS[provider]}"
            rows.append(_status(hub, text, text, registry.create(text, trusted=True), "api_key"))
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


def _status(hub: ProviderHub, name: str, text: str, llm: LLM, source: str) -> AgentStatus:
    if llm.provider == "demo":
        return AgentStatus(name, text, "demo", llm.model, "ready", source, "offline demo agent")
    state = hub.breakers.states().get(f"{llm.provider}:{llm.model}", BreakerState.CLOSED)
    hops = llm.hops[1:] if isinstance(llm, FallbackChain) else ()
    return AgentStatus(
        name,
        text,
        llm.provider,
        llm.model,
        _BREAKER_STATUS[state],
        source,
        fallbacks=tuple(f"{hop.provider}:{hop.model}" for hop in hops),
    )
