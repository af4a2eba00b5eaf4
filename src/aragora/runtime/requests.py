"""A debate request as accepted by ``POST /api/v1/debates``: validated once, stored with
the debate, and read back by whichever worker runs it (so every replica builds the same
panel with the same seed)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from aragora.debate.model import MAX_CONTEXT_CHARS, MAX_TASK_CHARS
from aragora.debate.protocol import DebateProtocol
from aragora.errors import InvalidInputError

__all__ = ["DebateRequest", "RequestDefaults", "parse_request"]

MAX_METADATA_BYTES = 16_384
MAX_PRIORITY = 100
_TOP_LEVEL = ("mode", "rounds", "consensus", "judge")
_KNOWN = frozenset(
    {"task", "question", "agents", "protocol", "context", "metadata", "priority", *_TOP_LEVEL}
)


@dataclass(frozen=True, slots=True)
class RequestDefaults:
    """What a request that leaves something out gets (from the operator's settings)."""

    agents: tuple[str, ...]
    agent_timeout: float
    debate_timeout: float


@dataclass(frozen=True, slots=True)
class DebateRequest:
    """A valid request. ``protocol`` is complete (defaults filled in); ``seed`` fixes the
    panel's names, the anonymised order and demo agents for every worker that runs it."""

    task: str
    agents: tuple[str, ...]
    protocol: DebateProtocol
    context: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    priority: int = 0

    def to_stored(self) -> dict[str, Any]:
        """The JSON form kept in the ``debates`` row."""
        return {
            "agents": list(self.agents),
            "protocol": self.protocol.to_dict(),
            "context": self.context,
            "metadata": dict(self.metadata),
            "seed": self.seed,
            "priority": self.priority,
        }

    @classmethod
    def from_stored(cls, task: str, stored: Mapping[str, Any]) -> DebateRequest:
        """Inverse of :meth:`to_stored`."""
        return cls(
            task=task,
            agents=tuple(str(a) for a in stored.get("agents") or ()),
            protocol=DebateProtocol.from_dict(dict(stored.get("protocol") or {})),
            context=str(stored.get("context") or ""),
            metadata=dict(stored.get("metadata") or {}),
            seed=int(stored.get("seed") or 0),
            priority=int(stored.get("priority") or 0),
        )


def parse_request(
    body: object, defaults: RequestDefaults, *, seed: int | None = None
) -> DebateRequest:
    """Validate a request body; :class:`InvalidInputError` names the first problem.

    ``priority`` (-100..100, default 0) orders the queue: higher runs first. Top-level
    ``mode``, ``rounds``, ``consensus`` and ``judge`` override the same fields of
    ``protocol``; ``question`` is accepted as another name for ``task``."""
    if not isinstance(body, Mapping):
        raise InvalidInputError("the request body must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise InvalidInputError(f"unknown field(s): {', '.join(unknown)}")
    task = body.get("task", body.get("question"))
    if not isinstance(task, str) or not task.strip():
        raise InvalidInputError("task must be a non-empty string")
    if len(task) > MAX_TASK_CHARS:
        raise InvalidInputError(f"task must be at most {MAX_TASK_CHARS} characters")
    agents = _agents(body.get("agents"), defaults.agents)
    protocol = _protocol(body, defaults)
    context = body.get("context")
    if context is None:
        context = ""
    if not isinstance(context, str):
        raise InvalidInputError("context must be a string")
    if len(context) > MAX_CONTEXT_CHARS:
        raise InvalidInputError(f"context must be at most {MAX_CONTEXT_CHARS} characters")
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError("metadata must be a JSON object")
    try:
        size = len(orjson.dumps(metadata))
    except TypeError as exc:
        raise InvalidInputError(f"metadata must be JSON: {exc}") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    priority = body.get("priority", 0)
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not -MAX_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise InvalidInputError(
            f"priority must be an integer from {-MAX_PRIORITY} to {MAX_PRIORITY}, got {priority!r}"
        )
    return DebateRequest(
        task=task.strip(),
        priority=priority,
        agents=agents,
        protocol=protocol,
        context=context,
        metadata=dict(metadata),
        seed=secrets.randbelow(2**31) if seed is None else seed,
    )


def _agents(value: object, default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInputError("agents must be a list of agent specs")
    specs = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise InvalidInputError("each agent must be a non-empty agent spec string")
        specs.append(item.strip())
    if not specs:
        return tuple(default)
    return tuple(specs)


def _protocol(body: Mapping[str, Any], defaults: RequestDefaults) -> DebateProtocol:
    given = body.get("protocol")
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidInputError("protocol must be a JSON object")
    data: dict[str, Any] = {
        "agent_timeout": defaults.agent_timeout,
        "debate_timeout": defaults.debate_timeout,
        **given,
    }
    for name in _TOP_LEVEL:
        if body.get(name) is not None:
            data[name] = body[name]
    try:
        return DebateProtocol.from_dict(data)
    except TypeError as exc:  # a field of the wrong type that the dataclass rejects
        raise InvalidInputError(f"protocol: {exc}") from None
