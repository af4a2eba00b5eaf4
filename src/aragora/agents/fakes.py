"""Fake provider servers: real HTTP on 127.0.0.1 speaking each provider's streaming format.

A :class:`FakeProvider` listens on a free loopback port and answers the endpoint of one
wire format (``anthropic``, ``openai`` or ``gemini``) exactly as the provider documents
it: Anthropic's named SSE events (``message_start`` … ``message_stop``, with a ``ping``),
OpenAI's ``data:`` chunks with usage in the last one and ``data: [DONE]``, Gemini's
``GenerateContentResponse`` chunks with ``usageMetadata`` and CRLF framing. Each request
is answered by a scripted :data:`Behaviour`::

    async with FakeProvider("anthropic", [Fail(429, retry_after="2"), Answer("4")]) as fake:
        ...  # base URL: fake.base_url; requests received: fake.requests

A script is a list (consumed in order, then ``default`` forever) or a function of the
:class:`FakeRequest`. Tests and ``bench/providers.py`` use it; nothing else does.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aragora.agents.fake_wire import answer_events, error_body, frame

__all__ = [
    "Answer",
    "Behaviour",
    "Fail",
    "FakeProvider",
    "FakeRequest",
    "InvalidJSON",
    "Stall",
    "StreamError",
    "Truncate",
]


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete streamed answer; ``delay`` seconds pass before each text piece."""

    text: str
    input_tokens: int = 12
    output_tokens: int | None = None
    delay: float = 0.0
    cost: float | None = None
    """OpenAI wire only: a ``usage.cost`` in USD, as OpenRouter reports it."""


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
    """A stream cut off before its final event: the connection just closes."""

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


Behaviour = Answer | Fail | Truncate | InvalidJSON | Stall | StreamError
Script = Callable[["FakeRequest"], Behaviour]

_PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass(slots=True)
class FakeRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    @property
    def prompt(self) -> str:
        """The user prompt, wherever this wire format keeps it."""
        body = self.body if isinstance(self.body, dict) else {}
        if "contents" in body:
            return str(body["contents"][-1]["parts"][0]["text"])
        messages = body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))


@dataclass
class FakeProvider:
    """A scriptable fake of one provider (see the module docstring)."""

    wire: str
    script: Iterable[Behaviour] | Script = ()
    default: Behaviour = field(default_factory=lambda: Answer("ANSWER: 4\nCONFIDENCE: 0.9"))
    api_key: str | None = None
    """When set, a request without this key gets the provider's 401 (echoing the key it
    got, as some providers do, so tests can check it is scrubbed)."""
    model: str = "fake-model"
    requests: list[FakeRequest] = field(default_factory=list)
    connections: int = 0
    """Connections accepted so far (a client that reuses its connections opens one)."""
    _server: asyncio.Server | None = None
    _queue: deque[Behaviour] = field(default_factory=deque)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if self.wire not in ("anthropic", "openai", "gemini"):
            raise ValueError(f"unknown wire format {self.wire!r}")
        if not callable(self.script):
            self._queue.extend(self.script)

    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096)

    async def close(self) -> None:
        """Stop listening and drop every open connection (stalled ones included)."""
        if self._server is not None:
            self._server.close()
            self._closing.set()  # releases stalled handlers
            for writer in list(self._writers):
                writer.close()  # a handler waiting for the next request reads EOF
            if self._tasks:
                await asyncio.wait(list(self._tasks))
            await self._server.wait_closed()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def base_url(self) -> str:
        """The base URL an adapter is configured with (``/v1`` included for OpenAI)."""
        suffix = "/v1" if self.wire == "openai" else ""
        return f"http://127.0.0.1:{self.port}{suffix}"

    def _next(self, request: FakeRequest) -> Behaviour:
        if callable(self.script):
            return self.script(request)
        return self._queue.popleft() if self._queue else self.default

    # -- HTTP/1.1 ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        parts = urlsplit(target)
        body = json.loads(raw) if raw else None
        request = FakeRequest(method, parts.path, parse_qs(parts.query), headers, body)
        self.requests.append(request)
        if not self._routes(request):
            await _send(writer, 404, {"error": {"message": f"no route {parts.path}"}})
            return True
        if self.api_key is not None and self._key(request) != self.api_key:
            await _send(
                writer, 401, error_body(self.wire, 401, "", f"invalid key {self._key(request)}")
            )
            return True
        return await self._behave(writer, self._next(request))

    def _routes(self, request: FakeRequest) -> bool:
        if self.wire == "gemini":
            return request.path.endswith(":streamGenerateContent") and request.query.get("alt") == [
                "sse"
            ]
        return request.path == _PATHS[self.wire]

    def _key(self, request: FakeRequest) -> str:
        headers = request.headers
        if self.wire == "anthropic":
            return headers.get("x-api-key", "")
        if self.wire == "gemini":
            return headers.get("x-goog-api-key", "")
        return headers.get("authorization", "").removeprefix("Bearer ")

    async def _behave(self, writer: asyncio.StreamWriter, behaviour: Behaviour) -> bool:
        if isinstance(behaviour, Fail):
            headers = list(behaviour.headers)
            if behaviour.retry_after is not None:
                headers.append(("retry-after", behaviour.retry_after))
            body = error_body(self.wire, behaviour.status, behaviour.error_type, behaviour.message)
            await _send(writer, behaviour.status, body, headers)
            return True
        if isinstance(behaviour, Answer) and not behaviour.delay:
            # all at once: one write, as a server with the whole answer ready would send it
            events = [*answer_events(self.wire, self.model, behaviour), b""]
            writer.write(_STREAM_HEAD + b"".join(map(_framed, events)))
            await writer.drain()
            return True
        await _stream_head(writer)
        if isinstance(behaviour, Answer):
            for chunk in answer_events(self.wire, self.model, behaviour):
                await _chunk(writer, chunk)
                await asyncio.sleep(behaviour.delay)
            await _chunk(writer, b"")
            return True
        if isinstance(behaviour, Truncate):
            for chunk in answer_events(self.wire, self.model, Answer(behaviour.text))[:-1]:
                await _chunk(writer, chunk)
            return False  # close without the final events or the last chunk
        if isinstance(behaviour, InvalidJSON):
            await _chunk(writer, answer_events(self.wire, self.model, Answer("x"))[0])
            await _chunk(writer, frame(self.wire, "message", "{not json"))
            await _chunk(writer, b"")
            return True
        if isinstance(behaviour, Stall):
            await _chunk(writer, answer_events(self.wire, self.model, Answer("x"))[0])
            await self._closing.wait()  # until the fake closes
            return False
        await _chunk(writer, answer_events(self.wire, self.model, Answer("x"))[0])
        error = error_body(self.wire, behaviour.status, behaviour.error_type, behaviour.message)
        if self.wire == "openai":  # OpenRouter's mid-stream error chunk
            error = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": self.model,
                "error": {"code": behaviour.status, "message": behaviour.message},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            }
        await _chunk(writer, frame(self.wire, "error", json.dumps(error)))
        await _chunk(writer, b"")
        return True


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _framed(data: bytes) -> bytes:
    """One chunk of a chunked body (empty data: the last chunk)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def _stream_head(writer: asyncio.StreamWriter) -> None:
    writer.write(_STREAM_HEAD)
    await writer.drain()


async def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(_framed(data))
    await writer.drain()


async def _send(
    writer: asyncio.StreamWriter,
    status: int,
    body: dict[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    payload = json.dumps(body).encode()
    reason = _STATUS_TEXT.get(status, "Error")
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json"]
    head += [f"{name}: {value}" for name, value in headers]
    head.append(f"content-length: {len(payload)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    await writer.drain()
