"""Panels as models: ``aragora/auto``, ``aragora/debate``, ``aragora/vote`` (the mode of that
name on ``ARAGORA_DEFAULT_AGENTS``) and the operator's ``ARAGORA_PANELS``, each
``aragora/NAME``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aragora.errors import ConfigurationError, InvalidInputError, NotFoundError
from aragora.runtime.debate_request import RequestDefaults, parse_request
from aragora.settings import BUILT_IN_PANELS, PanelConfig, Settings

__all__ = ["MODEL_PREFIX", "Panel", "Panels"]

MODEL_PREFIX = "aragora/"
_BUILT_IN_DESCRIPTIONS = {
    "auto": "Independent answers; a debate only where the agents disagree.",
    "debate": "Propose, critique, revise and vote.",
    "vote": "Independent answers, decided by majority.",
}


@dataclass(frozen=True, slots=True)
class Panel:
    """How the debates of one model run; ``None`` fields take the debate defaults."""

    name: str
    description: str
    agents: tuple[str, ...] | None = None
    mode: str | None = None
    rounds: int | None = None
    consensus: str | None = None

    @property
    def model(self) -> str:
        """The model name that picks this panel."""
        return MODEL_PREFIX + self.name

    def body(self, task: str, context: str) -> dict[str, Any]:
        """The ``POST /api/v1/debates`` body of a debate on ``task`` by this panel."""
        body: dict[str, Any] = {"task": task, "context": context}
        if self.agents is not None:
            body["agents"] = list(self.agents)
        for name in ("mode", "rounds", "consensus"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


class Panels:
    """The models this server offers, by name."""

    def __init__(self, panels: Sequence[Panel], *, default_agents: Sequence[str], created: int):
        self._panels = {panel.model: panel for panel in panels}
        self._default_agents = tuple(default_agents)
        self._created = created

    @classmethod
    def from_settings(cls, settings: Settings, *, created: int) -> Panels:
        """The built-in panels and ``ARAGORA_PANELS``, each checked as a debate request
        would be: :class:`ConfigurationError` names the first panel that cannot run."""
        panels = [
            Panel(name=name, description=_BUILT_IN_DESCRIPTIONS[name], mode=name)
            for name in BUILT_IN_PANELS
        ]
        panels += [_configured(name, config) for name, config in settings.panels.items()]
        defaults = RequestDefaults(
            agents=tuple(settings.default_agents),
            agent_timeout=settings.agent_timeout,
            debate_timeout=settings.debate_timeout,
        )
        for panel in panels:
            try:
                parse_request(panel.body("check", ""), defaults, seed=0)
            except InvalidInputError as exc:
                raise ConfigurationError(f"ARAGORA_PANELS: panel {panel.name!r}: {exc}") from exc
        return cls(panels, default_agents=settings.default_agents, created=created)

    def resolve(self, model: str) -> Panel:
        """The panel ``model`` names; :class:`NotFoundError` (``model_not_found``) listing
        the models there are."""
        panel = self._panels.get(model)
        if panel is None:
            known = ", ".join(self._panels)
            raise NotFoundError(
                f"the model {model!r} does not exist; the models are {known}",
                code="model_not_found",
            )
        return panel

    def describe(self, panel: Panel) -> dict[str, Any]:
        """The model object of ``GET /v1/models`` (with the panel under ``aragora``)."""
        return {
            "id": panel.model,
            "object": "model",
            "created": self._created,
            "owned_by": "aragora",
            "aragora": {
                "description": panel.description,
                "agents": list(panel.agents or self._default_agents),
                "mode": panel.mode or "auto",
                "rounds": panel.rounds,
                "consensus": panel.consensus,
            },
        }

    def listing(self) -> dict[str, Any]:
        """The body of ``GET /v1/models``."""
        return {"object": "list", "data": [self.describe(p) for p in self._panels.values()]}


def _configured(name: str, config: PanelConfig) -> Panel:
    return Panel(
        name=name,
        description=config.description or f"Operator panel {name!r}.",
        agents=tuple(spec.strip() for spec in config.agents) if config.agents else None,
        mode=config.mode,
        rounds=config.rounds,
        consensus=config.consensus,
    )
