"""The HTTP/1.1 client of provider calls: one endpoint's pooled keep-alive connections, and
responses streamed as they arrive.

Why not httpx, which this replaced: a streamed completion cost httpx ~1.0 ms of CPU to send
and read, and this client ~0.16 ms (``bench/providers.py``, which measures both). A debate
makes 18 calls, on one event loop that also serves the API, so httpx was the largest single
cost of a debate on the server (a quarter of its CPU under a burst of 1,000 debates) and
most of the time between a wave's last answer and the next wave's first call.

What it does: ``http`` and ``https`` (TLS verified with the context it is given), requests
with a JSON or bytes body, responses framed by ``Content-Length``, chunked or by the
connection's end, parsed by httptools (llhttp, the parser uvicorn uses); ``gzip`` or
``deflate`` bodies decoded although it asks for neither; idle connections kept for
``keepalive_expiry`` seconds; read backpressure (a reader that falls behind pauses the
socket). Each wait has its own bound: the connection (``connect_timeout``), and every
write and every read (``stall_timeout``: a response that stops arriving fails even when
it had started).

What it does not do, on purpose: HTTP/2, proxies (the agent clients never used the
environment's), redirects (a provider that redirects an API call is misconfigured),
cookies and retries (every retry is :mod:`aragora.agents.resilience.wrappers`'s).

Failures are :class:`TransportError` subclasses; :func:`aragora.agents.wire.transport.
error_from_exception` classifies them. A response cut short (the connection closed before
its declared end) is :class:`RemoteProtocolError`, never a short body.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import re
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import orjson

__all__ = [
    "ClientPool",
    "ConnectError",
    "ConnectTimeout",
    "Headers",
    "ReadTimeout",
    "RemoteProtocolError",
    "Response",
    "Timeout",
    "TransportError",
    "WriteTimeout",
]

MAX_HEAD_BYTES = 64 * 1024
"""A response whose status line and headers are longer is refused (a server sending
headers without end must not fill memory)."""
MAX_LINE_CHARS = 8 * 1024 * 1024
"""A streamed line longer than this is refused (an SSE event is a few kilobytes)."""
MAX_READ_BYTES = 1024 * 1024
""":meth:`Response.aread` keeps at most this much of a body (an error body is small)."""
_PAUSE_AT = 256 * 1024
"""Bytes received and not yet read at which the socket stops reading."""
_LINE_BREAK = re.compile("\r\n|\r|\n")


class TransportError(Exception):
    """A request that got no complete response: see the subclasses."""


class ConnectError(TransportError):
    """The connection could not be made: refused, unreachable, unknown name, TLS failed."""


class Timeout(TransportError):
    """A wait took longer than its bound."""


class ConnectTimeout(Timeout):
    """The connection (and its TLS handshake) took longer than ``connect_timeout``."""


class ReadTimeout(Timeout):
    """No data arrived for ``stall_timeout`` while a response was awaited or read."""


class WriteTimeout(Timeout):
    """The request could not be written for ``stall_timeout`` (the peer stopped reading)."""


class RemoteProtocolError(TransportError):
    """The peer broke HTTP: closed mid-response, sent what does not parse, or too much."""


class Headers(Mapping[str, str]):
    """A response's headers: names case-insensitive, repeated ones joined by ``", "``."""

    __slots__ = ("_items",)

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        items: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1").strip()
            items[key] = f"{items[key]}, {text}" if key in items else text
        self._items = items

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class _Connection(asyncio.Protocol):
    """One connection: it writes a request and parses the response the socket delivers
    (httptools calls the ``on_*`` methods back from :meth:`data_received`)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser: Any = None
        self._waiter: asyncio.Future[None] | None = None
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._keep_alive = False
        self._reading_paused = False
        self._writing_paused = False
        self._active = False
        self.status = 0
        self.head_done = False
        self.complete = False
        self.lost = False
        self.error: TransportError | None = None
        self.idle_since = 0.0

    # -- the socket ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self._active:
            # Bytes on an idle connection answer nothing we asked: it cannot be reused.
            self._fail(RemoteProtocolError("data received on an idle connection"))
            return
        if not self.head_done:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"malformed response: {exc}"))
            return
        if not self.head_done and self._head_bytes > MAX_HEAD_BYTES:
            self._fail(RemoteProtocolError(f"response head over {MAX_HEAD_BYTES} bytes"))
            return
        if self._buffered > _PAUSE_AT and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        return False  # close the transport: a response is never followed by more

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    # -- httptools callbacks --------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status >= 200:
            self.head_done = True
            # Asked here: the parser forgets it once the message is complete.
            self._keep_alive = bool(self._parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # an interim response (103 Early Hints): the real one follows
            self._raw_headers = []
            return
        self.complete = True

    # -- used by the pool and the response --------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request now."""
        transport = self._transport
        return (
            not self.lost
            and self.error is None
            and transport is not None
            and not transport.is_closing()
            and not self._active
        )

    def begin(self) -> None:
        """Ready the connection for a new response."""
        self._parser = httptools.HttpResponseParser(self)
        self._body.clear()
        self._buffered = 0
        self._raw_headers = []
        self._head_bytes = 0
        self._keep_alive = False
        self.status = 0
        self.head_done = self.complete = False
        self._active = True

    def finish(self) -> bool:
        """End the exchange; ``True`` when the connection may be reused."""
        self._active = False
        keep = (
            self.complete
            and not self._body
            and self.error is None
            and not self.lost
            and self._keep_alive
        )
        if not keep:
            self.close()
        return keep

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def write(self, data: bytes, stall: float) -> None:
        """Send ``data``, waiting while the socket's buffer is full (``stall`` at most for
        each wait)."""
        if self._transport is None or self._transport.is_closing() or self.lost:
            raise RemoteProtocolError("the connection closed before the request was sent")
        self._transport.write(data)
        while self._writing_paused and not self.lost and self.error is None:
            await self._wait(stall, WriteTimeout, "could not send the request")

    async def head(self, stall: float) -> tuple[int, Headers]:
        """The response's status and headers, once they arrived."""
        while not self.head_done:
            self._check_open("before the response head")
            await self._wait(stall, ReadTimeout, "no response")
        return self.status, Headers(self._raw_headers)

    async def chunk(self, stall: float) -> bytes:
        """The next piece of the body as received; ``b""`` at its end."""
        while True:
            if self._body:
                data = self._body.popleft()
                self._buffered -= len(data)
                if self._reading_paused and self._buffered < _PAUSE_AT // 2 and self._transport:
                    self._reading_paused = False
                    self._transport.resume_reading()
                return data
            if self.complete:
                return b""
            if self.lost:
                if self.error is None and self._delimited_by_close():
                    self.complete = True
                    return b""
                self._check_open("mid-response")
            if self.error is not None:
                raise self.error
            await self._wait(stall, ReadTimeout, "stalled: no data")

    def _delimited_by_close(self) -> bool:
        """A body with neither a length nor chunks ends where the connection does."""
        names = {name.lower() for name, _ in self._raw_headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _check_open(self, where: str) -> None:
        if self.error is not None:
            raise self.error
        if self.lost:
            raise RemoteProtocolError(f"the server closed the connection {where}")

    def _fail(self, error: TransportError) -> None:
        self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, seconds: float, failure: type[Timeout], what: str) -> None:
        """Until :meth:`_wake`, or ``failure`` ("``what`` for ``seconds`` s") raised after
        ``seconds``."""
        waiter = self._loop.create_future()
        self._waiter = waiter
        expiry = self._loop.call_later(seconds, _expire, waiter, failure, what, seconds)
        try:
            await waiter
        finally:
            expiry.cancel()
            self._waiter = None


def _expire(
    waiter: asyncio.Future[None], failure: type[Timeout], what: str, seconds: float
) -> None:
    if not waiter.done():
        waiter.set_exception(failure(f"{what} for {seconds:g} s"))


class Response:
    """A response whose body is read as it arrives (valid inside :meth:`ClientPool.stream`)."""

    def __init__(
        self, connection: _Connection, status: int, headers: Headers, stall: float
    ) -> None:
        self.status_code = status
        self.headers = headers
        self._connection = connection
        self._stall = stall
        self._decoder = _content_decoder(headers.get("content-encoding", ""))
        self.content = b""

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body's pieces as they arrive, decoded from ``gzip``/``deflate`` if sent so."""
        while True:
            data = await self._connection.chunk(self._stall)
            if not data:
                if self._decoder is not None:
                    with _undecodable():
                        tail = self._decoder.flush()
                    if tail:
                        yield tail
                return
            if self._decoder is not None:
                with _undecodable():
                    data = self._decoder.decompress(data)
                if not data:
                    continue
            yield data

    async def aiter_lines(self) -> AsyncIterator[str]:
        """The body as UTF-8 text lines, without their ends (``\\r\\n``, ``\\n`` or ``\\r``,
        the line ends of Server-Sent Events; no other character ends a line)."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        async for data in self.aiter_bytes():
            text = pending + decoder.decode(data)
            if "\r" in text:
                # A "\r" at the end may be the first half of a "\r\n" still to come.
                held = text.endswith("\r")
                lines = _LINE_BREAK.split(text[:-1] if held else text)
                pending = lines.pop() + ("\r" if held else "")
            else:
                lines = text.split("\n")
                pending = lines.pop()
            if len(pending) > MAX_LINE_CHARS:
                raise RemoteProtocolError(f"a line of the response over {MAX_LINE_CHARS} chars")
            for line in lines:
                yield line
        pending += decoder.decode(b"", final=True)
        if pending:
            lines = _LINE_BREAK.split(pending)
            if not lines[-1]:
                lines.pop()  # the text ended with a line break: no line after it
            for line in lines:
                yield line

    async def aread(self) -> bytes:
        """The body (its first :data:`MAX_READ_BYTES`; the connection is not reused when
        more was sent)."""
        parts: list[bytes] = []
        size = 0
        async for data in self.aiter_bytes():
            parts.append(data)
            size += len(data)
            if size >= MAX_READ_BYTES:
                break
        self.content = b"".join(parts)[:MAX_READ_BYTES]
        return self.content


def _check_header(name: str, value: str) -> None:
    """:class:`ValueError` for a header HTTP/1.1 cannot carry as it is (a line break or
    NUL would end it early or split it; a field is Latin-1 bytes)."""
    if any(c in name or c in value for c in "\r\n\0"):
        raise ValueError(f"header {name!r} holds a line break or NUL")
    try:
        f"{name}{value}".encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r} holds a character outside Latin-1") from None


def _content_decoder(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise RemoteProtocolError(f"unsupported content-encoding {encoding!r}")


@contextlib.contextmanager
def _undecodable() -> Iterator[None]:
    try:
        yield
    except zlib.error as exc:
        raise RemoteProtocolError(f"the body does not decode: {exc}") from exc


class ClientPool:
    """The pooled client of one endpoint (``base_url``), with ``headers`` on every request.

    At most ``max_connections`` connections are open; a request waits for one without a
    bound (the per-endpoint limiter queues calls before they get here). Connections are
    reused most recent first, and closed after ``keepalive_expiry`` seconds idle.
    ``tls`` gives the TLS context of ``https`` endpoints (called once, on first need)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        stall_timeout: float = 60.0,
        max_connections: int = 100,
        keepalive_expiry: float = 5.0,
        tls: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("a client pool needs at least one connection")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._secure else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = self._port == (443 if self._secure else 80)
        self._base_path = parts.path.rstrip("/")
        self._base_query = parts.query
        fixed = {"user-agent": "aragora", "accept": "*/*", "accept-encoding": "identity"}
        if parts.username is not None:
            login = f"{parts.username}:{parts.password or ''}".encode()
            fixed["authorization"] = f"Basic {base64.b64encode(login).decode()}"
        fixed.update({k.lower(): v for k, v in (headers or {}).items()})
        for name, value in fixed.items():
            _check_header(name, value)
        self._fixed = fixed
        self._host_line = f"host: {host if default_port else f'{host}:{self._port}'}\r\n"
        self._connect_timeout = connect_timeout
        self._stall = stall_timeout
        self._expiry = keepalive_expiry
        self._tls = tls
        self._context: ssl.SSLContext | None = None
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Connection] = deque()
        self._closed = False
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def idle(self) -> int:
        """Connections open and waiting for a request."""
        return sum(1 for connection in self._idle if connection.reusable)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request for ``path`` (relative to the base URL), with ``json`` as its
        body when given, and yield its response once its head arrived; the body is read
        from the response inside the block."""
        request = self._request(method, path, None if json is None else orjson.dumps(json), headers)
        async with self._slots:
            connection = await self._connection()
            try:
                connection.begin()
                await connection.write(request, self._stall)
                status, response_headers = await connection.head(self._stall)
                yield Response(connection, status, response_headers, self._stall)
            finally:
                reuse = connection.finish()
                if reuse and not self._closed:
                    connection.idle_since = time.monotonic()
                    self._idle.append(connection)
                    if self._sweep is None:
                        self._sweep = asyncio.get_running_loop().call_later(
                            self._expiry, self._close_expired
                        )

    async def get(self, path: str, *, within: float) -> Response:
        """``GET path``, the whole exchange within ``within`` seconds; the body is in
        ``content``."""
        try:
            async with asyncio.timeout(within), self.stream("GET", path) as response:
                await response.aread()
                return response
        except TimeoutError:
            raise ReadTimeout(f"no complete answer within {within:g} s") from None

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their exchange ends."""
        self._closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        idle, self._idle = self._idle, deque()
        for connection in idle:
            connection.close()

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
    ) -> bytes:
        target, _, query = path.partition("?")
        target = f"{self._base_path}/{target.lstrip('/')}"
        query = "&".join(q for q in (self._base_query, query) if q)
        lines = [f"{method} {target}{'?' + query if query else ''} HTTP/1.1\r\n", self._host_line]
        fields = dict(self._fixed)
        for name, value in (headers or {}).items():
            _check_header(name, value)
            fields[name.lower()] = value
        if body is not None:
            fields["content-length"] = str(len(body))
            fields.setdefault("content-type", "application/json")
        lines.extend(f"{name}: {value}\r\n" for name, value in fields.items())
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        return head + body if body else head

    def _close_expired(self) -> None:
        """Close the connections idle for ``keepalive_expiry``; run again while some are
        idle, so an endpoint no longer called holds no connection (a burst can leave
        hundreds open)."""
        self._sweep = None
        now = time.monotonic()
        idle = self._idle
        while idle and now - idle[0].idle_since >= self._expiry:
            idle.popleft().close()
        if idle:
            wait = max(self._expiry - (now - idle[0].idle_since), 0.01)
            self._sweep = asyncio.get_running_loop().call_later(wait, self._close_expired)

    async def _connection(self) -> _Connection:
        """An idle connection still open, else a new one."""
        now = time.monotonic()
        idle = self._idle
        while idle and now - idle[0].idle_since > self._expiry:
            idle.popleft().close()
        while idle:
            connection = idle.pop()
            if connection.reusable:
                return connection
            connection.close()
        return await self._connect()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        if self._secure and self._context is None:
            self._context = self._tls() if self._tls else ssl.create_default_context()
        context = self._context
        where = f"{self._host}:{self._port}"
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=context,
                    server_hostname=self._host if context is not None else None,
                )
        except TimeoutError:
            raise ConnectTimeout(
                f"could not connect to {where} within {self._connect_timeout:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise ConnectError(f"TLS with {where} failed: {exc}") from exc
        except OSError as exc:
            raise ConnectError(f"could not connect to {where}: {exc}") from exc
        return protocol
