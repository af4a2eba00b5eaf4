"""A debate request as accepted by ``POST /api/v1/debates``: validated once, stored with
the debate, and read back by whichever worker runs it (so every replica builds the same
panel with the same seed)."""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from aragora.debate.model import (
    MAX_AGENT_NAME_CHARS,
    MAX_CONTEXT_CHARS,
    MAX_SPEC_CHARS,
    MAX_TASK_CHARS,
    check_name,
    check_text,
)
from aragora.debate.protocol import DebateProtocol
from aragora.errors import InvalidInputError

__all__ = ["EVALUATION_KEY", "DebateRequest", "RequestDefaults", "is_evaluation", "parse_request"]

MAX_METADATA_BYTES = 16_384
EVALUATION_KEY = "evaluation"
"""The metadata key that tags an evaluation debate (``aragora eval``): its value is an
object describing the run. Such a debate draws no background from the knowledge base, is
not ingested into it, gets no receipt and is not rated (see :mod:`aragora.runtime.runner`)."""
MAX_PRIORITY = 100
_TOP_LEVEL = ("mode", "rounds", "consensus", "judge")
_KNOWN = frozenset(
    {"task", "question", "agents", "protocol", "context", "metadata", "priority", *_TOP_LEVEL}
)
# The JSON type each protocol field takes, checked before any value is used, so that the
# same rule holds at the top level and inside ``protocol``: a bool is only ``true`` or
# ``false``, an integer only a JSON integer (not a bool, not a string), a number an integer
# or a finite float. ``null`` anywhere means "the default".
_PROTOCOL_TYPES: dict[str, str] = {
    "mode": "str",
    "rounds": "int",
    "consensus": "str",
    "supermajority_threshold": "number",
    "judge": "str",
    "convergence_threshold": "number",
    "early_stop": "bool",
    "quorum": "int",
    "agent_timeout": "number",
    "debate_timeout": "number",
    "max_tokens": "int",
    "max_cost_usd": "number",
    "max_answer_tokens": "int",
}
_TYPE_NAMES = {
    "str": "a string",
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
}
# Timeouts are the operator's ceiling: a request may lower them, never raise or lift them.
_CEILINGS = {"agent_timeout": "ARAGORA_AGENT_TIMEOUT", "debate_timeout": "ARAGORA_DEBATE_TIMEOUT"}


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
    agents_from_operator: bool = False
    """The agents are the operator's ``ARAGORA_DEFAULT_AGENTS`` (the request named none), so
    they are trusted like the operator's own configuration; specs a caller supplied may
    name only the endpoints of ``ARAGORA_AGENT_ENDPOINTS``."""

    def to_stored(self) -> dict[str, Any]:
        """The JSON form kept in the ``debates`` row."""
        return {
            "agents": list(self.agents),
            "protocol": self.protocol.to_dict(),
            "context": self.context,
            "metadata": dict(self.metadata),
            "seed": self.seed,
            "priority": self.priority,
            "agents_from_operator": self.agents_from_operator,
        }

    @property
    def evaluation(self) -> bool:
        """Whether this is an evaluation debate's request (see :func:`is_evaluation`)."""
        return _evaluation(self.metadata)

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
            agents_from_operator=stored.get("agents_from_operator") is True,
        )


def is_evaluation(stored: Mapping[str, Any]) -> bool:
    """Whether a stored request (:meth:`DebateRequest.to_stored`) is an evaluation debate's."""
    return _evaluation(stored.get("metadata"))


def _evaluation(metadata: object) -> bool:
    return isinstance(metadata, Mapping) and isinstance(metadata.get(EVALUATION_KEY), Mapping)


def parse_request(
    body: object, defaults: RequestDefaults, *, seed: int | None = None
) -> DebateRequest:
    """Validate a request body; :class:`InvalidInputError` names the first problem.

    ``priority`` (-100..100, default 0) orders the queue: higher runs first. Top-level
    ``mode``, ``rounds``, ``consensus`` and ``judge`` override the same fields of
    ``protocol`` and follow the same rules; ``null`` for any of them (and for any other
    optional field) means the default. ``question`` is accepted as another name for
    ``task``. Text must be storable on every backend and free of control characters but
    tabs and line breaks; timeouts may only be lowered below the operator's."""
    if not isinstance(body, Mapping):
        raise InvalidInputError("the request body must be a JSON object")
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise InvalidInputError(f"unknown field(s): {', '.join(unknown)}")
    task_field = "task" if body.get("task") is not None else "question"
    task = body.get(task_field)
    if not isinstance(task, str) or not task.strip():
        raise InvalidInputError("task must be a non-empty string")
    check_text(task, task_field, max_chars=MAX_TASK_CHARS)
    agents = _agents(body.get("agents"))
    protocol = _protocol(body, defaults)
    context = body.get("context")
    if context is None:
        context = ""
    if not isinstance(context, str):
        raise InvalidInputError("context must be a string")
    check_text(context, "context", max_chars=MAX_CONTEXT_CHARS)
    metadata = _metadata(body.get("metadata"))
    priority = body.get("priority")
    if priority is None:
        priority = 0
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
        agents=agents or tuple(defaults.agents),
        agents_from_operator=not agents,
        protocol=protocol,
        context=context,
        metadata=metadata,
        seed=secrets.randbelow(2**31) if seed is None else seed,
    )


def _agents(value: object) -> tuple[str, ...]:
    """The caller's specs (empty: none given, so the operator's defaults apply)."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInputError("agents must be a list of agent specs")
    specs = []
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise InvalidInputError("each agent must be a non-empty agent spec string")
        check_name(item, f"agents[{position}]", max_chars=MAX_SPEC_CHARS)
        specs.append(item.strip())
    return tuple(specs)


def _metadata(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError("metadata must be a JSON object")
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise InvalidInputError(f"metadata must be JSON: {exc}") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata must be at most {MAX_METADATA_BYTES} bytes as JSON")
    _check_json_text(value, "metadata")
    return dict(value)


def _check_json_text(value: object, where: str) -> None:
    """Every string (keys too) is text :func:`check_text` accepts and every number finite:
    PostgreSQL's JSON refuses NaN, and NUL must not reach a text column either."""
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(str(key), f"a key of {where}")
            _check_json_text(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check_json_text(item, f"{where}[{position}]")


def _protocol(body: Mapping[str, Any], defaults: RequestDefaults) -> DebateProtocol:
    given = body.get("protocol")
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidInputError("protocol must be a JSON object")
    unknown = sorted(set(given) - set(_PROTOCOL_TYPES))
    if unknown:
        raise InvalidInputError(f"unknown protocol field(s): {', '.join(map(str, unknown))}")
    chosen: dict[str, Any] = {}
    for name, value in given.items():
        if value is not None:
            chosen[name] = _typed(f"protocol.{name}", value, _PROTOCOL_TYPES[name])
    for name in _TOP_LEVEL:
        value = body.get(name)
        if value is not None:
            chosen[name] = _typed(name, value, _PROTOCOL_TYPES[name])
    if "judge" in chosen:
        check_name(chosen["judge"], "judge", max_chars=MAX_AGENT_NAME_CHARS)
    ceilings = {"agent_timeout": defaults.agent_timeout, "debate_timeout": defaults.debate_timeout}
    for name, ceiling in ceilings.items():
        value = chosen.get(name)
        if value is not None and value > ceiling:
            raise InvalidInputError(
                f"protocol.{name} may only lower the operator's limit of {ceiling:g} seconds "
                f"({_CEILINGS[name]}), got {value!r}"
            )
    return DebateProtocol.from_dict({**ceilings, **chosen})


def _typed(where: str, value: object, kind: str) -> object:
    """``value`` if it is of the JSON type ``kind``; else :class:`InvalidInputError`."""
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise InvalidInputError(f"{where} must be {_TYPE_NAMES[kind]}, got {value!r}"[:300])
    return value
