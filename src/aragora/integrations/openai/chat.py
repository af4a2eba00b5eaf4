"""Chat completions over debates: the request's messages as a task and its context, and a
settled debate as OpenAI's ``chat.completion`` or its ``chat.completion.chunk`` stream.

The last ``user`` message is the task; every other message, in order and labelled by role,
is the context. The answer is the verdict. A debate that decided nothing answers so in
words, with ``finish_reason`` ``"no_decision"``, never with a made-up verdict. Either way
the extension field ``aragora`` carries the debate id, the outcome, the dissent, the cost
and the receipt; ``usage`` counts every token of the whole debate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aragora.errors import InvalidInputError
from aragora.integrations.outcome import Outcome, no_decision_text

__all__ = [
    "EXTENSION",
    "NO_DECISION",
    "ChatRequest",
    "answer_of",
    "chunk",
    "completion",
    "completion_id",
    "parse_chat",
    "usage_of",
    "verdict_pieces",
]

EXTENSION = "aragora"
"""The field of a completion (and of its last chunk) that describes the debate."""
NO_DECISION = "no_decision"
"""The ``finish_reason`` of a debate that ended without a decision."""
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_PIECE = re.compile(r"\s*\S+\s*")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A valid chat completion request."""

    model: str
    task: str
    context: str
    stream: bool
    include_usage: bool


def parse_chat(body: Mapping[str, Any]) -> ChatRequest:
    """Validate a chat completion body; :class:`InvalidInputError` names the problem.
    Sampling parameters (temperature, top_p, max_tokens, ...) are accepted and ignored:
    the panel's protocol decides how its agents answer."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError("model must name a panel, e.g. 'aragora/auto'", code="model")
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidInputError("n must be 1: a panel gives one verdict")
    messages = body.get("messages")
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise InvalidInputError("messages must be a non-empty list of messages")
    turns = [_turn(index, message) for index, message in enumerate(messages)]
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        raise InvalidInputError("messages must include a user message: its text is the task")
    task = turns[last_user][1]
    if not task.strip():
        raise InvalidInputError(f"messages[{last_user}]: the task (the last user message) is empty")
    context = "\n\n".join(
        f"{role.capitalize()}: {text}" for i, (role, text) in enumerate(turns) if i != last_user
    )
    options = body.get("stream_options")
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    return ChatRequest(
        model=model.strip(),
        task=task,
        context=context,
        stream=body.get("stream") is True,
        include_usage=include_usage,
    )


def _turn(index: int, message: object) -> tuple[str, str]:
    where = f"messages[{index}]"
    if not isinstance(message, Mapping):
        raise InvalidInputError(f"{where} must be an object with a role and content")
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidInputError(f"{where}.role must be one of {', '.join(sorted(_ROLES))}")
    content = message.get("content")
    if content is None:
        return str(role), ""
    if isinstance(content, str):
        return str(role), content
    if isinstance(content, Sequence):
        texts = []
        for part_index, part in enumerate(content):
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise InvalidInputError(
                    f"{where}.content[{part_index}]: only text parts are supported"
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidInputError(f"{where}.content[{part_index}].text must be a string")
            texts.append(text)
        return str(role), "\n".join(texts)
    raise InvalidInputError(f"{where}.content must be a string or a list of text parts")


def completion_id(debate_id: str) -> str:
    """The completion's id, which names its debate."""
    return f"chatcmpl-{debate_id}"


def answer_of(outcome: Outcome) -> tuple[str, str]:
    """The assistant's content and the ``finish_reason``: the verdict and ``stop``, or the
    no-decision text and :data:`NO_DECISION`."""
    if outcome.decided and outcome.verdict is not None:
        return outcome.verdict, "stop"
    return no_decision_text(outcome), NO_DECISION


def usage_of(outcome: Outcome) -> dict[str, int]:
    """The whole debate's tokens as OpenAI's ``usage``."""
    return {
        "prompt_tokens": outcome.input_tokens,
        "completion_tokens": outcome.output_tokens,
        "total_tokens": outcome.total_tokens or outcome.input_tokens + outcome.output_tokens,
    }


def completion(outcome: Outcome, *, model: str, created: int) -> dict[str, Any]:
    """The ``chat.completion`` body for a settled debate."""
    content, finish_reason = answer_of(outcome)
    return {
        "id": completion_id(outcome.debate_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage_of(outcome),
        EXTENSION: outcome.summary(),
    }


def chunk(
    debate_id: str,
    *,
    model: str,
    created: int,
    delta: Mapping[str, Any] | None = None,
    finish_reason: str | None = None,
    include_usage: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``chat.completion.chunk`` with one choice (``usage`` null, as OpenAI sends it on
    every chunk but the last when the client asked for usage)."""
    body: dict[str, Any] = {
        "id": completion_id(debate_id),
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "delta": dict(delta or {}),
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }
    if include_usage:
        body["usage"] = None
    if extra:
        body.update(extra)
    return body


def verdict_pieces(text: str) -> list[str]:
    """``text`` cut into word-sized pieces (whitespace kept), the deltas of its stream."""
    pieces = _PIECE.findall(text)
    rest = text[sum(len(p) for p in pieces) :]
    if rest:
        pieces.append(rest)
    return pieces or ([text] if text else [])
