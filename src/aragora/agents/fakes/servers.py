"""Fake provider servers: real HTTP on 127.0.0.1 speaking each provider's streaming format,
and misbehaving the way real servers and weak models do.

A :class:`FakeProvider` listens on a free loopback port and answers the endpoint of one
wire format (``anthropic``, ``openai`` or ``gemini``) exactly as the provider documents
it: Anthropic's named SSE events (``message_start`` … ``message_stop``, with a ``ping``),
OpenAI's ``data:`` chunks with usage in the last one and ``data: [DONE]``, Gemini's
``GenerateContentResponse`` chunks with ``usageMetadata`` and CRLF framing. Each request
is answered by a scripted :data:`Behaviour`::

    async with FakeProvider("anthropic", [Fail(429, retry_after="2"), Answer("4")]) as fake:
        ...  # base URL: fake.base_url; requests received: fake.requests

A script is a list (consumed in order, then ``default`` forever) or a function of the
:class:`FakeRequest` (the weak-model replies below are such functions).

What real servers do, each reproducible here:

- ``FakeProvider.llama_cpp()``: llama-cpp-python's server with its default settings, on
  its exact wire (:mod:`aragora.agents.fakes.wire`): no usage on streams, one model that
  serves one request at a time (``slots=1``; the others get their 200 head at once and
  wait, with a ``: ping`` comment every ``ping_interval`` seconds), and
  ``interrupt=True``: after each chunk, if another request waits, the running stream ends
  with ``data: [DONE]`` and no finish reason (counted in ``interrupted``).
- :class:`CutOff`: a stream that ends cleanly before any finish reason;
  ``Answer(stop=...)``: any finish reason (``length``, ``max_tokens``, ``SAFETY`` …);
  ``Answer(usage="none" | "prompt")``: no usage, or only the prompt's count.
- :class:`Crash`, :meth:`FakeProvider.kill`, :meth:`FakeProvider.revive`: the server dies
  (connections dropped, new ones refused) and comes back on the same port.
- :mod:`aragora.agents.fakes.replies`: scripts that reply as a small base model does to a
  debate prompt (echoing the template, chat-template junk, running on, repeating the task).

Tests and ``bench/providers.py`` use it; nothing else does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aragora.agents.fakes.behaviours import (
    Answer,
    Behaviour,
    Crash,
    CutOff,
    Fail,
    InvalidJSON,
    Stall,
    StreamError,
    Truncate,
)
from aragora.agents.fakes.wire import (
    LLAMA_CPP,
    answer_events,
    cut_off_events,
    end_marker,
    error_body,
    frame,
    http_chunk,
    ping_comment,
    send_json,
    send_stream_head,
)

__all__ = [
    "LLAMA_CPP",
    "Answer",
    "Behaviour",
    "Crash",
    "CutOff",
    "Fail",
    "FakeProvider",
    "FakeRequest",
    "InvalidJSON",
    "Script",
    "Stall",
    "StreamError",
    "Truncate",
]


Script = Callable[["FakeRequest"], Behaviour]
"""A script that answers each request with a behaviour computed from it."""

_PATHS = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}


@dataclass(slots=True)
class FakeRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)
    """When the request's head and body had arrived (``time.monotonic``)."""

    @property
    def prompt(self) -> str:
        """The user prompt, wherever this wire format keeps it."""
        body = self.body if isinstance(self.body, dict) else {}
        if "contents" in body:
            return str(body["contents"][-1]["parts"][0]["text"])
        messages = body.get("messages") or [{}]
        return str(messages[-1].get("content", ""))

    @property
    def system(self) -> str:
        """The system prompt, wherever this wire format keeps it ("" when none)."""
        body = self.body if isinstance(self.body, dict) else {}
        if "systemInstruction" in body:
            return str(body["systemInstruction"]["parts"][0]["text"])
        if "system" in body:
            return str(body["system"])
        first = (body.get("messages") or [{}])[0]
        return str(first.get("content", "")) if first.get("role") != "user" else ""


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
    slots: int | None = None
    """At most this many answers stream at once; the other requests get their 200 head and
    wait for a slot, in order (``None``: no limit)."""
    interrupt: bool = False
    """llama-cpp-python's ``interrupt_requests``: after each event of a streaming answer,
    if a request waits for a slot, the stream ends there with the wire's end sentinel
    (``[DONE]`` on the OpenAI wire) and no finish reason."""
    dialect: str = ""
    """``LLAMA_CPP``: the OpenAI wire exactly as llama-cpp-python's server sends it."""
    ping_interval: float | None = None
    """Seconds between ``: ping`` comments on an open stream (``None``: no pings)."""
    requests: list[FakeRequest] = field(default_factory=list)
    connections: int = 0
    """Connections accepted so far (a client that reuses its connections opens one)."""
    interrupted: int = 0
    """Streams ended early because another request waited (``interrupt``)."""
    _server: asyncio.Server | None = None
    _port: int = 0
    _queue: deque[Behaviour] = field(default_factory=deque)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _slots: asyncio.Semaphore | None = None
    _waiting: int = 0
    _revival: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        if self.wire not in ("anthropic", "openai", "gemini"):
            raise ValueError(f"unknown wire format {self.wire!r}")
        if self.dialect not in ("", LLAMA_CPP) or (self.dialect and self.wire != "openai"):
            raise ValueError(f"unknown dialect {self.dialect!r} of the {self.wire} wire")
        if self.slots is not None and self.slots < 1:
            raise ValueError("a fake needs at least one slot")
        if self.interrupt and self.slots is None:
            raise ValueError("interrupt needs slots (requests wait only for a slot)")
        if not callable(self.script):
            self._queue.extend(self.script)

    @classmethod
    def llama_cpp(cls, script: Iterable[Behaviour] | Script = (), **changes: Any) -> FakeProvider:
        """llama-cpp-python's server (0.3.x) as ``python -m llama_cpp.server`` runs it by
        default: OpenAI wire in its dialect (no usage), one slot, interrupting, pinging
        every 15 s. ``changes`` override any field (e.g. ``interrupt=False``)."""
        fields: dict[str, Any] = {
            "dialect": LLAMA_CPP,
            "slots": 1,
            "interrupt": True,
            "ping_interval": 15.0,
            **changes,
        }
        return cls("openai", script, **fields)

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
        """Listen on 127.0.0.1: a free port the first time, the same port afterwards."""
        self._closing = asyncio.Event()
        if self.slots is not None and self._slots is None:
            self._slots = asyncio.Semaphore(self.slots)
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self._port, backlog=4096
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every open connection (stalled ones included)."""
        if self._revival is not None:
            self._revival.cancel()
            self._revival = None
        await self._stop(abort=False)

    async def kill(self) -> None:
        """The server dies: open connections are reset and new ones refused."""
        await self._stop(abort=True)

    async def revive(self) -> None:
        """The server comes back on the port it had (after :meth:`kill` or a :class:`Crash`)."""
        if self._server is None:
            await self.start()

    @property
    def up(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def port(self) -> int:
        assert self._port, "start() the fake first"
        return self._port

    @property
    def base_url(self) -> str:
        """The base URL an adapter is configured with (``/v1`` included for OpenAI)."""
        suffix = "/v1" if self.wire == "openai" else ""
        return f"http://127.0.0.1:{self.port}{suffix}"

    async def _stop(self, *, abort: bool) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        self._closing.set()  # releases stalled handlers
        for writer in list(self._writers):
            if abort:
                writer.transport.abort()
            else:
                writer.close()  # a handler waiting for the next request reads EOF
        others = [task for task in self._tasks if task is not asyncio.current_task()]
        if others:
            await asyncio.wait(others)
        await server.wait_closed()

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
        if method == "GET" and self.wire == "openai" and parts.path == "/v1/models":
            listed = {"id": self.model, "object": "model", "owned_by": "me", "permissions": []}
            await send_json(writer, 200, {"object": "list", "data": [listed]})
            return True
        if not self._routes(request):
            await send_json(writer, 404, {"error": {"message": f"no route {parts.path}"}})
            return True
        if self.api_key is not None and self._key(request) != self.api_key:
            error = error_body(self.wire, 401, "", f"invalid key {self._key(request)}")
            await send_json(writer, 401, error)
            return True
        return await self._behave(writer, self._next(request), self._model_for(request))

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

    def _model_for(self, request: FakeRequest) -> str:
        if self.dialect == LLAMA_CPP and isinstance(request.body, dict):
            return str(request.body.get("model") or self.model)  # it echoes the request's
        return self.model

    async def _behave(self, writer: asyncio.StreamWriter, behaviour: Behaviour, model: str) -> bool:
        wire, dialect = self.wire, self.dialect
        if isinstance(behaviour, Fail):
            headers = list(behaviour.headers)
            if behaviour.retry_after is not None:
                headers.append(("retry-after", behaviour.retry_after))
            body = error_body(wire, behaviour.status, behaviour.error_type, behaviour.message)
            await send_json(writer, behaviour.status, body, headers)
            return True
        if isinstance(behaviour, Answer):
            events = answer_events(wire, model, behaviour, dialect)
            if not behaviour.delay and self.slots is None and self.ping_interval is None:
                # all at once: one write, as a server with the whole answer ready would send it
                await send_stream_head(
                    writer,
                    body=b"".join(map(http_chunk, [*events, b""])),
                    headers=behaviour.headers,
                )
                return True
            return await self._generate(writer, events, behaviour.delay, behaviour.headers)
        if isinstance(behaviour, CutOff):
            events = cut_off_events(wire, model, behaviour.text, dialect)
            marker = end_marker(wire)
            if behaviour.done and marker is not None:
                events.append(marker)
            return await self._generate(writer, events, behaviour.delay)
        first = answer_events(wire, model, Answer("x"), dialect)[0]
        await send_stream_head(writer)
        if isinstance(behaviour, Truncate):
            for event in answer_events(wire, model, Answer(behaviour.text), dialect)[:-1]:
                await _chunk(writer, event)
            return False  # close without the final events or the last chunk
        if isinstance(behaviour, Crash):
            for event in cut_off_events(wire, model, behaviour.text, dialect):
                await _chunk(writer, event)
            await self._crash(behaviour.down_for)
            return False
        if isinstance(behaviour, InvalidJSON):
            await _chunk(writer, first)
            await _chunk(writer, frame(wire, "message", "{not json"))
            await _chunk(writer, b"")
            return True
        if isinstance(behaviour, Stall):
            await _chunk(writer, first)
            await self._closing.wait()  # until the fake closes
            return False
        await _chunk(writer, first)
        error = error_body(wire, behaviour.status, behaviour.error_type, behaviour.message)
        if wire == "openai":  # OpenRouter's mid-stream error chunk
            error = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "error": {"code": behaviour.status, "message": behaviour.message},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            }
        await _chunk(writer, frame(wire, "error", json.dumps(error)))
        await _chunk(writer, b"")
        return True

    async def _generate(
        self,
        writer: asyncio.StreamWriter,
        events: list[bytes],
        delay: float,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> bool:
        """Stream ``events`` as the model generates them: the head at once (as
        sse-starlette sends it), then a slot, then one event at a time; with ``interrupt``
        a waiting request ends the stream after the current event, as llama-cpp-python's
        ``get_event_publisher`` does."""
        await send_stream_head(writer, headers=headers)
        pinging = asyncio.create_task(self._ping(writer)) if self.ping_interval else None
        try:
            async with self._slot():
                for index, event in enumerate(events):
                    await _chunk(writer, event)
                    if index == len(events) - 1:
                        break
                    if self.interrupt and self._waiting:
                        marker = end_marker(self.wire)
                        if marker is not None:
                            await _chunk(writer, marker)
                        self.interrupted += 1
                        break
                    await asyncio.sleep(delay)  # the next token; other requests get in
        finally:
            if pinging is not None:
                pinging.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinging
        await _chunk(writer, b"")
        return True

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._slots is None:
            yield
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._slots.release()

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        assert self.ping_interval is not None
        while True:
            await asyncio.sleep(self.ping_interval)
            await _chunk(writer, ping_comment())

    async def _crash(self, down_for: float | None) -> None:
        await self.kill()
        if down_for is not None:

            async def come_back() -> None:
                await asyncio.sleep(down_for)
                self._revival = None
                await self.revive()

            self._revival = asyncio.create_task(come_back())


async def _chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(http_chunk(data))
    await writer.drain()
