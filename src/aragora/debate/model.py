"""The debate core's plain data: agent specs, participants, tasks and results."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aragora.errors import InvalidAgentSpecError, InvalidInputError

__all__ = [
    "MAX_AGENT_NAME_CHARS",
    "MAX_CONTEXT_CHARS",
    "MAX_LABEL_CHARS",
    "MAX_MODEL_CHARS",
    "MAX_PROVIDER_CHARS",
    "MAX_SPEC_CHARS",
    "MAX_TASK_CHARS",
    "AgentSpec",
    "DebateResult",
    "Dissent",
    "Participant",
    "Quorum",
    "Task",
    "Vote",
    "check_name",
    "check_storable",
    "check_text",
]

# --- the limits every face and every store share ------------------------------------------
# The API, the CLI and knowledge import check these; the schema sizes its columns from them
# (aragora.storage.sql.schema), so whatever passes here fits every backend.
MAX_TASK_CHARS = 20_000
MAX_CONTEXT_CHARS = 100_000
MAX_PROVIDER_CHARS = 32
MAX_MODEL_CHARS = 150
MAX_LABEL_CHARS = 100
MAX_SPEC_CHARS = 2_000
"""A whole spec string, an ``openai-compatible`` URL included."""
MAX_AGENT_NAME_CHARS = 200
"""An agent's name in a debate (its label, else ``provider:model``, plus ``#N`` for a repeat),
as stored in the event log, the ratings and knowledge items' sources."""
_REPEAT_SUFFIX_CHARS = len("#99")
assert MAX_PROVIDER_CHARS + 1 + MAX_MODEL_CHARS + _REPEAT_SUFFIX_CHARS <= MAX_AGENT_NAME_CHARS
assert MAX_LABEL_CHARS + _REPEAT_SUFFIX_CHARS <= MAX_AGENT_NAME_CHARS

_PROVIDER_RE = re.compile(r"^[a-z][a-z0-9-]*$")
# What no backend stores: NUL (PostgreSQL refuses it in text) and lone surrogates (not
# encodable as UTF-8).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
# Text a person typed: also no other control characters (C0 but tab and line breaks, DEL,
# C1), which only corrupt terminals and logs.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A name: one line, no control characters at all.
_NOT_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _refuse(found: re.Match[str], what: str) -> InvalidInputError:
    char = found.group()
    kind = (
        "NUL characters"
        if char == "\x00"
        else "unpaired surrogate characters"
        if "\ud800" <= char <= "\udfff"
        else "control characters"
    )
    return InvalidInputError(
        f"{what} must not contain {kind} (U+{ord(char):04X} at position {found.start()})"
    )


def check_storable(value: str, what: str) -> str:
    """``value`` if every backend can store it (no NUL, no lone surrogate); else
    :class:`InvalidInputError` naming ``what`` and the character."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise _refuse(found, what)
    return value


def check_text(value: str, what: str, *, max_chars: int | None = None) -> str:
    """``value`` if it is storable text of at most ``max_chars`` with no control characters
    but tabs and line breaks; else :class:`InvalidInputError` naming ``what``."""
    found = _NOT_TEXT.search(value)
    if found is not None:
        raise _refuse(found, what)
    if max_chars is not None and len(value) > max_chars:
        raise InvalidInputError(f"{what} must be at most {max_chars} characters")
    return value


def check_name(value: str, what: str, *, max_chars: int) -> str:
    """``value`` if it is a one-line name of at most ``max_chars`` with no control
    characters; else :class:`InvalidInputError` naming ``what``."""
    found = _NOT_NAME.search(value)
    if found is not None:
        raise _refuse(found, what)
    if len(value) > max_chars:
        raise InvalidInputError(f"{what} must be at most {max_chars} characters")
    return value


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
        shown = raw[:80] + "…" if len(raw) > 80 else raw  # a spec of any size, named readably
        try:
            check_name(raw, "an agent spec", max_chars=MAX_SPEC_CHARS)
        except InvalidInputError as exc:
            raise InvalidAgentSpecError(shown, exc.message.removeprefix("an agent spec ")) from None
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
        for part, value, limit in (
            ("provider", provider, MAX_PROVIDER_CHARS),
            ("model", model, MAX_MODEL_CHARS),
            ("label", label.strip(), MAX_LABEL_CHARS),
        ):
            if len(value) > limit:
                raise InvalidAgentSpecError(
                    shown, f"the {part} must be at most {limit} characters, got {len(value)}"
                )
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
        check_text(self.question, "task")
        if not isinstance(self.context, str):
            raise InvalidInputError("context must be a string")
        if len(self.context) > MAX_CONTEXT_CHARS:
            raise InvalidInputError(f"context is longer than {MAX_CONTEXT_CHARS} characters")
        # Context may carry retrieved knowledge (model output), so only what no backend
        # stores is refused here; the faces hold a person's own context to check_text.
        check_storable(self.context, "context")


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vote:
        """The inverse of :meth:`to_dict` (values kept as stored)."""
        return cls(data["agent"], data["choice"], data["confidence"], data["reasoning"])


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dissent:
        """The inverse of :meth:`to_dict` (values kept as stored)."""
        return cls(
            agent=data["agent"],
            final_position=data["final_position"],
            agrees=data["agrees"],
            reasons=data["reasons"],
            changed_mind=data["changed_mind"],
            changed_in_rounds=tuple(data.get("changed_in_rounds") or ()),
            initial_position=data.get("initial_position", ""),
        )


@dataclass(frozen=True, slots=True)
class Quorum:
    """How many valid answers a verdict had, of the panel, against how many it needed."""

    valid_answers: int
    panel: int
    needed: int

    def to_wire(self) -> dict[str, Any]:
        return {"valid_answers": self.valid_answers, "panel": self.panel, "needed": self.needed}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Quorum:
        return cls(data["valid_answers"], data["panel"], data["needed"])


@dataclass(frozen=True, slots=True)
class DebateResult:
    """What a finished debate decided: the ``result`` of its ``debate_end`` event.

    ``status`` is completed, failed or cancelled; ``partial`` marks a result cut short
    (timeout, budget, cancellation) with ``stop_reason``. ``outcome`` names how the verdict
    came about (see the ``consensus`` event) and ``outcome_reason`` why there is no decision
    (or no consensus); ``quorum`` counts the valid answers. Results logged before those
    three existed read back with them ``None`` (and no abstentions)."""

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
    failed_agents: dict[str, str] = field(default_factory=dict)
    abstained_agents: dict[str, str] = field(default_factory=dict)
    """Agents that gave no valid answer at all, with the reason."""
    outcome: str | None = None
    outcome_reason: str | None = None
    quorum: Quorum | None = None

    @property
    def dissent(self) -> tuple[Dissent, ...]:
        """The agents whose final position differs from the verdict (none without one)."""
        if self.final_answer is None:
            return ()
        return tuple(p for p in self.positions if not p.agrees)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready form stored in the ``debate_end`` event (key order included)."""
        data: dict[str, Any] = {
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
            "failed_agents": dict(self.failed_agents),
            "abstained_agents": dict(self.abstained_agents),
            "outcome": self.outcome,
            "outcome_reason": self.outcome_reason,
        }
        if self.quorum is not None:
            data["quorum"] = self.quorum.to_wire()
        return data

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DebateResult:
        """Read a stored result back, values as stored; keys that older versions did not
        write take their defaults (``dissent`` is derived from ``positions``)."""
        quorum = data.get("quorum")
        return cls(
            status=data["status"],
            final_answer=data.get("final_answer"),
            confidence=data.get("confidence", 0.0),
            consensus_reached=data.get("consensus_reached", False),
            rule=data.get("rule", ""),
            votes=tuple(Vote.from_dict(v) for v in data.get("votes") or ()),
            positions=tuple(Dissent.from_dict(p) for p in data.get("positions") or ()),
            rounds_used=data.get("rounds_used", 0),
            partial=data.get("partial", False),
            stop_reason=data.get("stop_reason"),
            error=data.get("error"),
            tie=data.get("tie", False),
            judge=data.get("judge"),
            tally=dict(data.get("tally") or {}),
            failed_agents=dict(data.get("failed_agents") or {}),
            abstained_agents=dict(data.get("abstained_agents") or {}),
            outcome=data.get("outcome"),
            outcome_reason=data.get("outcome_reason"),
            quorum=Quorum.from_wire(quorum) if quorum else None,
        )
