"""Wire models of the OpenAI-compatible routes (``/v1/chat/completions``, ``/v1/models``),
for the OpenAPI document. The route parses the body itself
(:func:`aragora.integrations.openai.chat.parse_chat`), so the request model is lenient:
OpenAI clients send many optional fields, and those Aragora does not use are ignored."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletion",
    "ChatCompletionRequest",
    "ModelList",
    "ModelObject",
    "OpenAIErrorBody",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessageIn(_Open):
    """A message: ``content`` is text or a list of ``{"type": "text", "text"}`` parts."""

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(_Open):
    """``include_usage``: a last chunk with ``usage`` and no choices."""

    include_usage: bool | None = None


class ChatCompletionRequest(_Open):
    """A chat completion request; ``model`` names the panel (``aragora/auto``...). The last
    user message is the task, the others its context. Sampling parameters are ignored."""

    model: str = Field(examples=["aragora/auto"])
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, description="Only 1: a panel gives one verdict.")


class ChatMessageOut(_Open):
    role: Literal["assistant"]
    content: str


class ChatChoice(_Open):
    index: int
    message: ChatMessageOut
    finish_reason: Literal["stop", "no_decision"] = Field(
        description="`no_decision` when the debate ended without a decision (tie, no "
        "quorum, failed, cancelled): the content then says so and gives no verdict."
    )


class Usage(_Open):
    """Every token of the whole debate (all agents, all rounds)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class DebateExtension(_Open):
    """The debate behind the answer (field ``aragora`` of a completion and of its last
    chunk)."""

    debate_id: str
    status: str
    decided: bool
    verdict: str | None
    confidence: float | None
    consensus_reached: bool
    outcome: str | None
    reason: str | None
    dissent: list[dict[str, Any]]
    cost: dict[str, Any]
    receipt: dict[str, Any] | None
    url: str


class ChatCompletion(_Open):
    """``chat.completion``; with ``stream: true`` the answer is instead a
    ``text/event-stream`` of ``chat.completion.chunk`` objects (``data: {...}`` lines,
    comment lines as keep-alives while the panel deliberates), ending ``data: [DONE]``."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    aragora: DebateExtension


class ModelObject(_Open):
    """A panel offered as a model; ``aragora`` describes it (agents, mode, rounds)."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    aragora: dict[str, Any]


class ModelList(_Open):
    object: Literal["list"]
    data: list[ModelObject]


class OpenAIError(BaseModel):
    message: str
    type: str = Field(
        description="invalid_request_error, authentication_error, permission_error, "
        "not_found_error, rate_limit_error or server_error."
    )
    param: str | None = None
    code: str | None = Field(description="Aragora's machine code, e.g. model_not_found.")


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape, used by every ``/v1/...`` answer that is an error."""

    error: OpenAIError
