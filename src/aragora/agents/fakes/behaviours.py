"""What a fake provider server does with one request: answer, fail, cut off, stall or crash.

Plain data, read by :mod:`aragora.agents.fakes.servers` (which serves them) and
:mod:`aragora.agents.fakes.wire` (which phrases them in each wire format).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Answer",
    "Behaviour",
    "Crash",
    "CutOff",
    "Fail",
    "InvalidJSON",
    "Stall",
    "StreamError",
    "Truncate",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete streamed answer; ``delay`` seconds pass after each event."""

    text: str
    input_tokens: int = 12
    output_tokens: int | None = None
    delay: float = 0.0
    cost: float | None = None
    """OpenAI wire only: a ``usage.cost`` in USD, as OpenRouter reports it."""
    stop: str | None = None
    """The finish reason sent, verbatim for the wire (``length``, ``max_tokens``,
    ``MAX_TOKENS``, ``content_filter``, ``SAFETY`` …); ``None``: the wire's normal stop."""
    usage: Literal["full", "prompt", "none"] = "full"
    """Which token counts the stream reports: both, only the prompt's, or none."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra response headers, e.g. the provider's rate-limit headers
    (``x-ratelimit-remaining-requests``, ``anthropic-ratelimit-requests-reset`` …)."""


@dataclass(frozen=True, slots=True)
class CutOff:
    """A stream that carries ``text`` and ends cleanly without any finish reason or usage:
    with the wire's end sentinel when ``done`` (OpenAI ``data: [DONE]``, as
    llama-cpp-python's interrupt sends it; Anthropic ``message_stop``), else just the end
    of the body."""

    text: str = "partial answer"
    done: bool = True
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Fail:
    """A non-200 response with the provider's error body and optional ``Retry-After``."""

    status: int
    error_type: str = ""
    message: str = "fake failure"
    retry_after: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Truncate:
    """A stream broken before its final event: the connection closes mid-body."""

    text: str = "partial answer"


@dataclass(frozen=True, slots=True)
class InvalidJSON:
    """A 200 stream whose second event's data is not JSON."""


@dataclass(frozen=True, slots=True)
class Stall:
    """Headers and one event, then silence until the client gives up."""


@dataclass(frozen=True, slots=True)
class StreamError:
    """A 200 stream that reports an error inside it (Anthropic's ``error`` event)."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    status: int = 529


@dataclass(frozen=True, slots=True)
class Crash:
    """The server dies while answering: after streaming ``text`` (if any) it drops every
    connection and stops listening (connections are refused); after ``down_for`` seconds
    it listens again on the same port (``None``: until :meth:`FakeProvider.revive`)."""

    text: str = ""
    down_for: float | None = None


Behaviour = Answer | CutOff | Fail | Truncate | InvalidJSON | Stall | StreamError | Crash
