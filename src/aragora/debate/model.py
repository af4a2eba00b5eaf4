"""The debate core's plain data: agent specs, participants, tasks and results."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aragora.errors import InvalidAgentSpecError, InvalidInputError

__all__ = [
    "AgentSpec",
    "DebateResult",
    "Dissent",
    "Participant",
    "Task",
    "Vote",
]

MAX_TASK_CHARS = 20_000
MAX_CONTEXT_CHARS = 100_000
_PROVIDER_RE = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """A parsed agent spec: ``provider:model[#label]``, ``openai-compatible:MODEL@URL``,
    ``demo`` or ``demo:NAME``. Parsing checks shape only; whether the provider exists
    and is configured is the agent registry's business."""

    provider: str
    model: str
    label: str | None = None
    base_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> AgentSpec:
        """Parse one spec string, raising :class:`InvalidAgentSpecError` naming it."""
        raw = text.strip() if isinstance(text, str) else ""
        if not raw:
            raise InvalidAgentSpecError(str(text), "empty agent spec")
        body, _, label = raw.partition("#")
        if "#" in raw and not label.strip():
            raise InvalidAgentSpecError(raw, "empty label after '#'")
        provider, sep, model = body.partition(":")
        provider = provider.strip().lower()
        model = model.strip()
        if not _PROVIDER_RE.match(provider):
            raise InvalidAgentSpecError(
                raw, "expected provider:model, e.g. anthropic:claude-sonnet-4-5"
            )
        if sep and not model:
            raise InvalidAgentSpecError(raw, "missing model after ':'")
        if not sep and provider != "demo":
            raise InvalidAgentSpecError(raw, "expected provider:model, e.g. openai:gpt-4o")
        base_url = None
        if provider == "openai-compatible":
            model, at, base_url = model.partition("@")
            if not at or not model or not _valid_base_url(base_url):
                raise InvalidAgentSpecError(
                    raw, "expected openai-compatible:MODEL@http://host:port/v1"
                )
        elif "://" in model:
            raise InvalidAgentSpecError(
                raw, "only openai-compatible specs carry a URL (openai-compatible:MODEL@URL)"
            )
        if any(ch.isspace() for ch in model):
            raise InvalidAgentSpecError(raw, "model names cannot contain spaces")
        return cls(provider=provider, model=model, label=label.strip() or None, base_url=base_url)

    def __str__(self) -> str:
        text = self.provider if not self.model else f"{self.provider}:{self.model}"
        if self.base_url:
            text += f"@{self.base_url}"
        if self.label:
            text += f"#{self.label}"
        return text


def _valid_base_url(url: str) -> bool:
    """An http(s) URL with a host and no whitespace."""
    if any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0


@dataclass(frozen=True, slots=True)
class Participant:
    """One agent on a panel: a unique ``name`` within the debate and where it comes from."""

    name: str
    spec: str
    provider: str
    model: str

    @property
    def is_demo(self) -> bool:
        return self.provider == "demo"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "provider": self.provider,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Participant:
        return cls(
            name=str(data["name"]),
            spec=str(data["spec"]),
            provider=str(data["provider"]),
            model=str(data["model"]),
        )


@dataclass(frozen=True, slots=True)
class Task:
    """What the panel is asked, and optional background material."""

    question: str
    context: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise InvalidInputError("task must be a non-empty string")
        if len(self.question) > MAX_TASK_CHARS:
            raise InvalidInputError(f"task is longer than {MAX_TASK_CHARS} characters")
        if not isinstance(self.context, str):
            raise InvalidInputError("context must be a string")
        if len(self.context) > MAX_CONTEXT_CHARS:
            raise InvalidInputError(f"context is longer than {MAX_CONTEXT_CHARS} characters")


@dataclass(frozen=True, slots=True)
class Vote:
    """An agent's vote for one option (the option's representative answer text)."""

    agent: str
    choice: str
    confidence: float
    reasoning: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "choice": self.choice,
            "confidence": self.confidence,
            "reasoning": self.reasoning,
        }


@dataclass(frozen=True, slots=True)
class Dissent:
    """One agent's final stance relative to the verdict, and how it got there."""

    agent: str
    final_position: str
    agrees: bool
    reasons: str
    changed_mind: bool
    changed_in_rounds: tuple[int, ...] = ()
    initial_position: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "final_position": self.final_position,
            "agrees": self.agrees,
            "reasons": self.reasons,
            "changed_mind": self.changed_mind,
            "changed_in_rounds": list(self.changed_in_rounds),
            "initial_position": self.initial_position,
        }


@dataclass(frozen=True, slots=True)
class DebateResult:
    """What a finished debate decided. ``status`` is completed, failed or cancelled;
    ``partial`` marks a result cut short (timeout, budget, cancellation) with ``stop_reason``."""

    status: str
    final_answer: str | None
    confidence: float
    consensus_reached: bool
    rule: str
    votes: tuple[Vote, ...] = ()
    positions: tuple[Dissent, ...] = ()
    rounds_used: int = 0
    partial: bool = False
    stop_reason: str | None = None
    error: str | None = None
    tie: bool = False
    judge: str | None = None
    tally: dict[str, float] = field(default_factory=dict)

    @property
    def dissent(self) -> tuple[Dissent, ...]:
        """The agents whose final position differs from the verdict (none without one)."""
        if self.final_answer is None:
            return ()
        return tuple(p for p in self.positions if not p.agrees)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "final_answer": self.final_answer,
            "confidence": self.confidence,
            "consensus_reached": self.consensus_reached,
            "rule": self.rule,
            "votes": [v.to_dict() for v in self.votes],
            "positions": [p.to_dict() for p in self.positions],
            "dissent": [p.to_dict() for p in self.dissent],
            "rounds_used": self.rounds_used,
            "partial": self.partial,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "tie": self.tie,
            "judge": self.judge,
            "tally": dict(self.tally),
        }
