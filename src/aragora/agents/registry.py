"""From agent spec strings to a panel of agents.

Providers are plugins: each one registers a factory under its name, exactly as a
third-party provider would::

    registry = AgentRegistry()
    registry.register("acme", make_acme_llm)
    panel = registry.build_panel(["acme:large#lead", "demo", "demo"])

The offline ``demo`` and ``sim`` (simulated, for evaluation: :mod:`aragora.agents.demo.sim`)
providers ship here (:func:`default_registry`); the network
providers are registered by :class:`aragora.agents.providers.ProviderHub`, which the
composition root builds from the operator's settings.

A spec that carries a URL (``openai-compatible:MODEL@URL``) is accepted only when the
caller vouches for it (``trusted=True``: the operator's CLI or configuration) or when the
URL lies under one of the registry's ``allowed_endpoints``; otherwise
:class:`InvalidAgentSpecError` is raised before any agent is built, so no connection is
ever attempted (see :mod:`aragora.agents.endpoints`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from aragora.agents.demo.personas import PERSONAS, DemoLLM, persona_for
from aragora.agents.demo.sim import AnswerKey, sim_factory
from aragora.agents.endpoints import EndpointAllowlist
from aragora.debate.model import AgentSpec, Participant
from aragora.debate.ports import LLM
from aragora.errors import ConfigurationError, InvalidAgentSpecError, InvalidInputError

__all__ = [
    "MAX_AGENTS",
    "AgentRegistry",
    "ProviderFactory",
    "build_panel",
    "default_registry",
    "demo_factory",
]

MAX_AGENTS = 12
_PROVIDER_RE = re.compile(r"^[a-z][a-z0-9-]*$")
# Providers the contract names; an unregistered one is "not available", not "unknown".
_CONTRACT_PROVIDERS = frozenset(
    {"anthropic", "openai", "openrouter", "gemini", "ollama", "openai-compatible"}
)


class ProviderFactory(Protocol):
    """Builds one agent for a parsed spec. ``seed`` is the agent's own stable seed
    (for providers that can use one). Raises :class:`InvalidAgentSpecError` when the
    spec cannot work, e.g. the provider's API key is missing."""

    def __call__(self, spec: AgentSpec, *, seed: int) -> LLM: ...


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    factory: ProviderFactory
    default_models: tuple[str, ...]


class AgentRegistry:
    """Provider name -> factory, and the rules that turn spec strings into a panel."""

    def __init__(self, *, allowed_endpoints: Sequence[str] = ()) -> None:
        self._entries: dict[str, _Entry] = {}
        try:
            self._allowed = EndpointAllowlist(allowed_endpoints)
        except ValueError as exc:
            raise ConfigurationError(f"allowed agent endpoints: {exc}") from exc

    def register(
        self,
        provider: str,
        factory: ProviderFactory,
        *,
        default_models: Sequence[str] = (),
        replace: bool = False,
    ) -> None:
        """Make ``provider`` available. ``default_models`` are handed out in turn to specs
        that name no model (only ``demo`` may omit one). Registering a name twice is an
        error unless ``replace`` is true."""
        if not _PROVIDER_RE.match(provider):
            raise ConfigurationError(f"invalid provider name {provider!r}")
        if provider in self._entries and not replace:
            raise ConfigurationError(f"provider {provider!r} is already registered")
        self._entries[provider] = _Entry(factory, tuple(default_models))

    @property
    def providers(self) -> tuple[str, ...]:
        """Registered provider names, sorted."""
        return tuple(sorted(self._entries))

    def create(self, spec: str, *, seed: int = 0, trusted: bool = False) -> LLM:
        """One agent for one spec string (a spec without a model gets the first default)."""
        parsed = AgentSpec.parse(spec)
        entry = self._entry(spec, parsed)
        self._check_endpoint(spec, parsed, trusted)
        if not parsed.model:
            parsed = dataclasses.replace(parsed, model=self._defaults(spec, entry)[0])
        return entry.factory(parsed, seed=seed)

    def build_panel(
        self, specs: Sequence[str], *, seed: int = 0, trusted: bool = False
    ) -> list[tuple[Participant, LLM]]:
        """The panel for ``specs``, in order, as (participant, agent) pairs.

        Names are unique: a ``#label`` is the name; otherwise ``provider:model`` (plain
        ``demo`` specs get the default models, i.e. personas, in turn, skipping ones the
        panel names explicitly); repeats get ``#2``, ``#3``. The same specs and seed always
        give the same panel. Raises :class:`InvalidInputError` for an empty or oversized
        list and :class:`InvalidAgentSpecError` naming the first bad spec, including one
        naming an endpoint that is neither ``trusted`` nor allowed.
        """
        if isinstance(specs, str):
            raise InvalidInputError("agents must be a list of agent specs, not a single string")
        texts = list(specs)
        if not texts:
            raise InvalidInputError("at least one agent is required")
        if len(texts) > MAX_AGENTS:
            raise InvalidInputError(f"at most {MAX_AGENTS} agents per debate, got {len(texts)}")
        parsed = [AgentSpec.parse(text) for text in texts]
        entries = [self._entry(text, spec) for text, spec in zip(texts, parsed, strict=True)]
        for text, spec in zip(texts, parsed, strict=True):
            self._check_endpoint(text, spec, trusted)
        resolved = self._fill_models(texts, parsed, entries)
        names = _unique_names(resolved)
        panel: list[tuple[Participant, LLM]] = []
        copies: Counter[tuple[str, str]] = Counter()
        for text, spec, entry, name in zip(texts, resolved, entries, names, strict=True):
            # the panel shares one seed; a repeated provider:model gets its own so it differs
            key = (spec.provider, spec.model.casefold())
            llm = entry.factory(spec, seed=seed + copies[key])
            copies[key] += 1
            if not isinstance(llm, LLM):
                raise ConfigurationError(f"provider {spec.provider!r} built {llm!r}, not an LLM")
            participant = Participant(
                name=name, spec=text.strip(), provider=spec.provider, model=llm.model
            )
            panel.append((participant, llm))
        return panel

    def _entry(self, text: str, spec: AgentSpec) -> _Entry:
        entry = self._entries.get(spec.provider)
        if entry is not None:
            return entry
        available = ", ".join(self.providers) or "none"
        problem = "is not available" if spec.provider in _CONTRACT_PROVIDERS else "is unknown"
        raise InvalidAgentSpecError(
            text.strip(), f"provider {spec.provider!r} {problem}; available providers: {available}"
        )

    def _check_endpoint(self, text: str, spec: AgentSpec, trusted: bool) -> None:
        if spec.base_url is None or trusted or self._allowed.allows(spec.base_url):
            return
        raise InvalidAgentSpecError(
            text.strip(),
            f"endpoint {spec.base_url} is not in the operator's allowed agent endpoints "
            "(ARAGORA_AGENT_ENDPOINTS)",
        )

    def _defaults(self, text: str, entry: _Entry) -> tuple[str, ...]:
        if not entry.default_models:
            raise InvalidAgentSpecError(text.strip(), "expected provider:model")
        return entry.default_models

    def _fill_models(
        self, texts: Sequence[str], specs: Sequence[AgentSpec], entries: Sequence[_Entry]
    ) -> list[AgentSpec]:
        named = {(s.provider, s.model.casefold()) for s in specs if s.model}
        handed_out: Counter[str] = Counter()
        resolved = []
        for text, spec, entry in zip(texts, specs, entries, strict=True):
            if not spec.model:
                defaults = self._defaults(text, entry)
                unused = [m for m in defaults if (spec.provider, m.casefold()) not in named]
                turn = unused or list(defaults)
                model = turn[handed_out[spec.provider] % len(turn)]
                handed_out[spec.provider] += 1
                spec = dataclasses.replace(spec, model=model)
            resolved.append(spec)
        return resolved


def _unique_names(specs: Sequence[AgentSpec]) -> list[str]:
    """Labels first (so an explicit label keeps its name), then the rest in order."""
    names: list[str | None] = [None] * len(specs)
    taken: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.label and spec.label.casefold() not in taken:
            names[i] = spec.label
            taken.add(spec.label.casefold())
    for i, spec in enumerate(specs):
        if names[i] is None:
            base = spec.label or f"{spec.provider}:{spec.model}"
            name, copy = base, 1
            while name.casefold() in taken:
                copy += 1
                name = f"{base}#{copy}"
            names[i] = name
            taken.add(name.casefold())
    return [name for name in names if name is not None]


def demo_factory(*, delay: float = 0.0) -> ProviderFactory:
    """The ``demo`` provider: ``demo:NAME`` plays :func:`persona_for` NAME; a NAME that is
    not a persona also varies the seed, so differently named agents think differently."""

    def make(spec: AgentSpec, *, seed: int) -> LLM:
        persona = persona_for(spec.model)
        if spec.model.casefold() != persona:
            seed += int.from_bytes(hashlib.sha256(spec.model.encode()).digest()[:4], "big")
        return DemoLLM(persona, seed=seed, delay=delay)

    return make


def default_registry(
    *,
    demo_delay: float = 0.0,
    allowed_endpoints: Sequence[str] = (),
    answer_key: AnswerKey | None = None,
) -> AgentRegistry:
    """A registry with the providers that need no configuration: ``demo``, and ``sim``
    (simulated agents answering from ``answer_key``, see :mod:`aragora.agents.demo.sim`)."""
    registry = AgentRegistry(allowed_endpoints=allowed_endpoints)
    registry.register("demo", demo_factory(delay=demo_delay), default_models=PERSONAS)
    registry.register("sim", sim_factory(answer_key))
    return registry


def build_panel(
    specs: Sequence[str], *, demo_delay: float = 0.0, seed: int = 0, trusted: bool = False
) -> list[tuple[Participant, LLM]]:
    """The panel for ``specs`` from :func:`default_registry` (see
    :meth:`AgentRegistry.build_panel` for the naming and error rules)."""
    return default_registry(demo_delay=demo_delay).build_panel(specs, seed=seed, trusted=trusted)
