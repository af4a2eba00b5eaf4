"""A scripted LLM: the fake the engine's tests talk to instead of a provider.

A :class:`ScriptedLLM` answers from a script, either a list of replies consumed in
order or a function of the request (sync or async); a reply that is an exception
instance is raised instead of returned. Every request is recorded in ``.calls``::

    ScriptedLLM(["ANSWER: 4\\nCONFIDENCE: 0.9\\nREASONING: 2 + 2", ProviderError("down")])
    ScriptedLLM(reply_with("PostgreSQL", 0.8, revised="SQLite"))
    ScriptedLLM(by_phase(propose=format_answer("4", 0.9, "sum"), vote=AgentTimeoutError("slow")))
    ScriptedLLM(reply_with("4"), latency=5.0)  # for timeout tests
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from aragora.agents.demo.personas import estimate_usage, word_chunks
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback, Usage

__all__ = ["Reply", "Responder", "ScriptError", "ScriptedLLM", "by_phase", "reply_with"]

Reply = str | Completion | BaseException
"""One scripted reply: the text to return, a whole :class:`Completion` (to script what a
provider reports besides the text: truncation, usage, estimates), or an exception
instance to raise."""

Responder = Callable[[CompletionRequest], Reply | Awaitable[Reply]]
"""Computes the reply to one request."""


class ScriptError(AssertionError):
    """The script has no reply for a call: a mistake in the test, not a provider failure."""


class ScriptedLLM:
    """An :class:`aragora.debate.ports.LLM` that replies from a script.

    ``latency`` seconds pass (``asyncio.sleep``) before each reply; ``usage`` is reported
    for every call (default: estimated from the text lengths, like the demo agents);
    ``stream`` sends the reply to ``on_token`` word by word before returning it.
    """

    def __init__(
        self,
        script: Responder | Iterable[Reply],
        *,
        latency: float = 0.0,
        provider: str = "scripted",
        model: str = "scripted",
        usage: Usage | None = None,
        stream: bool = False,
    ) -> None:
        self._responder: Responder | None = None
        self._replies: deque[Reply] | None = None
        if callable(script):
            self._responder = script
        else:
            self._replies = deque(_checked(reply) for reply in script)
        self._scripted = len(self._replies) if self._replies is not None else 0
        self._latency = latency
        self._provider = provider
        self._model = model
        self._usage = usage
        self._stream = stream
        self.calls: list[CompletionRequest] = []
        """Every request received, in order (including ones that then failed)."""

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model

    @property
    def phases(self) -> list[str]:
        """The phase of each call received, in order."""
        return [call.phase for call in self.calls]

    @property
    def remaining(self) -> int | None:
        """Replies left in a list script (``None`` for a function script)."""
        return None if self._replies is None else len(self._replies)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Record ``request``, wait ``latency``, then return or raise the next reply."""
        self.calls.append(request)
        if self._latency > 0:
            await asyncio.sleep(self._latency)
        reply = await self._next(request)
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, Completion):
            return reply
        if self._stream and on_token is not None:
            for chunk in word_chunks(reply):
                on_token(chunk)
        usage = self._usage if self._usage is not None else estimate_usage(request, reply)
        return Completion(text=reply, usage=usage, model=self._model)

    async def _next(self, request: CompletionRequest) -> Reply:
        if self._responder is not None:
            result = self._responder(request)
            return _checked(await result if inspect.isawaitable(result) else result)
        assert self._replies is not None
        if not self._replies:
            raise ScriptError(
                f"ScriptedLLM {self._model!r} ran out of replies: call {len(self.calls)} "
                f"(phase {request.phase!r}) but the script held {self._scripted}"
            )
        return self._replies.popleft()


def reply_with(
    answer: str,
    confidence: float = 0.8,
    reasoning: str = "scripted reasoning",
    *,
    revised: str | None = None,
    critique: str = "scripted critique",
    score: float = 0.5,
) -> Responder:
    """A well-behaved agent holding one position.

    propose answers ``answer``; revise answers ``revised`` (default ``answer``); critique
    replies ``critique`` with ``score``; vote and judge pick the option equal to the
    agent's final answer (``revised`` or ``answer``, compared case-insensitively), or
    option 1 when none is.
    """
    final = answer if revised is None else revised

    def respond(request: CompletionRequest) -> str:
        if request.phase == "critique":
            return format_critique(critique, score)
        if request.phase in ("vote", "judge"):
            keys = [choice.strip().casefold() for choice in request.choices]
            target = final.strip().casefold()
            number = keys.index(target) + 1 if target in keys else 1
            return format_vote(number, confidence, reasoning)
        return format_answer(final if request.phase == "revise" else answer, confidence, reasoning)

    return respond


def by_phase(default: Reply | Responder | None = None, **phases: Reply | Responder) -> Responder:
    """Reply by the request's phase: ``by_phase(propose=..., vote=...)``; each value is a
    reply or a responder. A phase with no entry gets ``default``, or a :class:`ScriptError`."""

    def respond(request: CompletionRequest) -> Reply | Awaitable[Reply]:
        entry = phases.get(request.phase, default)
        if entry is None:
            raise ScriptError(f"no scripted reply for phase {request.phase!r}")
        return entry(request) if callable(entry) else entry

    return respond


def _checked(reply: object) -> Reply:
    if isinstance(reply, str | Completion | BaseException):
        return reply
    raise TypeError(
        f"a scripted reply must be a str, a Completion or an exception instance, got {reply!r}"
    )
