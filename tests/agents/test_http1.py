"""The provider calls' HTTP/1.1 client against raw servers that frame, stall, cut off and
garble responses the way real ones (and broken proxies in front of them) do."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aragora.agents.wire.http1 import (
    MAX_HEAD_BYTES,
    ClientPool,
    ConnectError,
    ReadTimeout,
    RemoteProtocolError,
    Response,
)
from tests.uvicorn_server import read_body, serving

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Raw:
    """A loopback server running ``handler`` for each request (a connection may carry
    several), over TLS with ``tls``; it records the requests' heads and counts
    connections."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self._server: asyncio.Server | None = None
        self._stop = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while not writer.is_closing():
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.heads.append(head)
                self.bodies.append(await reader.readexactly(length))
                if not await self._answer(reader, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Run the handler until it ends (``True``) or the server stops (``False``)."""
        answer = asyncio.create_task(self.handler(reader, writer))
        stop = asyncio.create_task(self._stop.wait())
        await asyncio.wait([answer, stop], return_when=asyncio.FIRST_COMPLETED)
        for task in (answer, stop):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return not self._stop.is_set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1"

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._stop.set()
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 1)


def replying(*parts: bytes, close: bool = False, pause: float = 0.0) -> Handler:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for part in parts:
            writer.write(part)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
        if close:
            writer.close()

    return handler


@contextlib.asynccontextmanager
async def pool(url: str, **options: Any) -> AsyncIterator[ClientPool]:
    client = ClientPool(url, headers={"authorization": "Bearer k"}, **options)
    try:
        yield client
    finally:
        await client.aclose()


async def lines_of(client: ClientPool) -> list[str]:
    async with client.stream("POST", "chat", json={"q": 1}) as response:
        return [line async for line in response.aiter_lines()]


async def body_of(client: ClientPool) -> tuple[Response, bytes]:
    async with client.stream("POST", "chat", json={"q": 1}) as response:
        return response, await response.aread()


async def test_the_request_joins_the_base_path_and_carries_host_headers_and_json() -> None:
    raw = Raw(replying(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"))
    async with (
        raw as url,
        pool(url) as client,
        client.stream(
            "POST", "/chat/completions?x=1", json={"é": [1]}, headers={"X-Extra": "y"}
        ) as response,
    ):
        assert await response.aread() == b"ok"
    head = raw.heads[0].decode()
    port = url.split(":")[2].split("/")[0]
    assert head.startswith("POST /v1/chat/completions?x=1 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{port}\r\n" in head
    assert "authorization: Bearer k\r\n" in head
    assert "x-extra: y\r\n" in head
    assert "content-type: application/json\r\n" in head
    assert raw.bodies[0] == '{"é":[1]}'.encode()


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="line break"):
        ClientPool("http://127.0.0.1:1", headers={"authorization": "Bearer k\r\nx: y"})
    with pytest.raises(ValueError, match="outside Latin-1"):
        ClientPool("http://127.0.0.1:1", headers={"x-api-key": "clé→"})
    with pytest.raises(ValueError, match="not an http"):
        ClientPool("ftp://example.com")


async def test_chunked_length_and_close_delimited_bodies_are_read_whole() -> None:
    for answer in (
        SSE_HEAD + chunk(b"data: a\n\n") + chunk(b"data: b\n\n") + b"0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 18\r\n\r\ndata: a\n\ndata: b\n\n",
    ):
        async with Raw(replying(answer)) as url, pool(url) as client:
            assert await lines_of(client) == ["data: a", "", "data: b", ""]
    closing = Raw(replying(b"HTTP/1.1 200 OK\r\n\r\ndata: a\n\n", close=True))
    async with closing as url, pool(url) as client:
        assert await lines_of(client) == ["data: a", ""]


@pytest.mark.parametrize(
    "answer",
    [
        SSE_HEAD + chunk(b"data: a\n\n"),  # chunked, no last chunk
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ndata: a\n\n",  # short of its length
    ],
    ids=["chunked", "content-length"],
)
async def test_a_body_cut_short_by_the_connection_is_an_error_never_a_short_answer(
    answer: bytes,
) -> None:
    async with Raw(replying(answer, close=True)) as url, pool(url) as client:
        with pytest.raises(RemoteProtocolError, match="closed the connection mid-response"):
            await lines_of(client)


async def test_lines_end_only_at_cr_lf_or_crlf_even_split_across_packets() -> None:
    parts = [b"data: x\r", b"\ndata: \xe2\x80", b"\xa8y\rdata: z\r\n", b"\r\nlast"]
    answer = [SSE_HEAD, *map(chunk, parts), b"0\r\n\r\n"]
    async with Raw(replying(*answer, pause=0.01)) as url, pool(url) as client:
        assert await lines_of(client) == ["data: x", "data: \u2028y", "data: z", "", "last"]


async def test_a_last_line_ended_by_a_lone_cr_makes_no_empty_line_after_it() -> None:
    answer = SSE_HEAD + chunk(b"data: x\r") + b"0\r\n\r\n"
    async with Raw(replying(answer)) as url, pool(url) as client:
        assert await lines_of(client) == ["data: x"]


async def test_a_connection_is_reused_and_connections_never_exceed_the_limit() -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    raw = Raw(replying(answer, pause=0.02))
    async with raw as url, pool(url, max_connections=2) as client:
        results = await asyncio.gather(*(body_of(client) for _ in range(6)))
        assert [body for _, body in results] == [b"ok"] * 6
        assert raw.most_open == 2
        assert client.idle == 2
        await body_of(client)
    assert raw.connections == 2


async def test_an_idle_connection_the_server_closed_or_that_expired_is_not_reused() -> None:
    raw = Raw(replying(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", close=True))
    async with raw as url, pool(url) as client:
        await body_of(client)
        await asyncio.sleep(0.05)  # the server's close reaches the idle connection
        assert client.idle == 0
        await body_of(client)
    assert raw.connections == 2
    raw = Raw(replying(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"))
    async with raw as url, pool(url, keepalive_expiry=0.05) as client:
        await asyncio.gather(body_of(client), body_of(client))
        assert (client.idle, raw.open) == (2, 2)
        await asyncio.sleep(0.15)  # expired, with no request since: closed all the same
        assert (client.idle, raw.open) == (0, 0)
        await body_of(client)
    assert raw.connections == 3


async def test_connection_close_from_the_server_is_honoured() -> None:
    answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    raw = Raw(replying(answer))
    async with raw as url, pool(url) as client:
        await body_of(client)
        assert client.idle == 0


async def test_a_stalled_response_times_out_before_and_during_its_body() -> None:
    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with Raw(silent) as url, pool(url, stall_timeout=0.1) as client:
        with pytest.raises(ReadTimeout, match="no response"):
            await lines_of(client)
    stalling = replying(SSE_HEAD + chunk(b"data: a\n\n"), pause=5)
    async with Raw(stalling) as url, pool(url, stall_timeout=0.1) as client:
        with pytest.raises(ReadTimeout, match="stalled"):
            await lines_of(client)


async def test_garbage_and_endless_heads_are_protocol_errors() -> None:
    async with Raw(replying(b"SPDY/9 lol\r\n\r\n")) as url, pool(url) as client:
        with pytest.raises(RemoteProtocolError, match="malformed"):
            await lines_of(client)
    endless = [b"HTTP/1.1 200 OK\r\n", *[b"x-junk: " + b"a" * 1000 + b"\r\n"] * 80]
    async with Raw(replying(*endless)) as url, pool(url) as client:
        with pytest.raises(RemoteProtocolError, match=f"over {MAX_HEAD_BYTES}"):
            await lines_of(client)


async def test_gzip_is_decoded_and_early_hints_are_skipped() -> None:
    packed = gzip.compress(b"data: a\n\n")
    answer = (
        b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
        % (len(packed), packed)
    )
    async with (
        Raw(replying(answer)) as url,
        pool(url) as client,
        client.stream("GET", "x") as response,
    ):
        assert response.status_code == 200
        assert "link" not in response.headers
        assert response.headers["Content-Encoding"] == "gzip"
        assert [line async for line in response.aiter_lines()] == ["data: a", ""]


async def test_a_large_body_arrives_intact_through_backpressure() -> None:
    payload = bytes(range(256)) * 40_000  # ~10 MB, read slowly
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(payload), payload)
    async with Raw(replying(answer)) as url, pool(url) as client:
        received = bytearray()
        async with client.stream("GET", "x") as response:
            async for data in response.aiter_bytes():
                received += data
                await asyncio.sleep(0)
        assert bytes(received) == payload
        assert client.idle == 1


async def test_leaving_a_stream_early_or_cancelled_closes_its_connection_and_frees_it() -> None:
    answered = 0

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        # The second request gets its head and then nothing; the others a first line.
        writer.write(SSE_HEAD if answered == 2 else SSE_HEAD + chunk(b"data: a\n\n"))
        await asyncio.sleep(5)

    raw = Raw(handler)
    async with raw as url, pool(url, max_connections=1) as client:

        async def first_line() -> str:
            async with client.stream("POST", "chat") as response:
                return await anext(response.aiter_lines())

        assert await first_line() == "data: a"  # left early: its connection is closed
        waiting = asyncio.create_task(first_line())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # it holds the one connection, waiting for a line
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        assert client.idle == 0
        assert await first_line() == "data: a"  # the connection was given back
    assert raw.connections == 3


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with Raw(replying(b"")) as url:
        pass  # the port is free again
    async with pool(url) as client:
        with pytest.raises(ConnectError, match="could not connect"):
            await lines_of(client)


async def test_get_bounds_the_whole_exchange() -> None:
    slow = replying(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n", b"ok", b"ok", pause=0.2)
    async with Raw(slow) as url, pool(url) as client:
        with pytest.raises(ReadTimeout, match=r"within 0\.1 s"):
            await client.get("models", within=0.1)
    fast = replying(b"HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope")
    async with Raw(fast) as url, pool(url) as client:
        response = await client.get("models", within=1)
        assert (response.status_code, response.content) == (404, b"nope")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aragora test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_https_verifies_the_server_and_streams_through_tls(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    answer = SSE_HEAD + chunk(b"data: a\n\n") + b"0\r\n\r\n"
    raw = Raw(replying(answer), tls=server_context)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    strict = ssl.create_default_context()  # the system's CAs: the test's is not one
    async with raw as url:
        async with pool(url, tls=lambda: trusting) as client:
            assert await lines_of(client) == ["data: a", ""]
            assert await lines_of(client) == ["data: a", ""]
        assert raw.connections == 1
        async with pool(url, tls=lambda: strict) as client:
            with pytest.raises(ConnectError, match="TLS"):
                await lines_of(client)


@pytest.mark.parametrize("implementation", ["h11", "httptools"])
async def test_it_talks_to_uvicorn_as_llama_cpp_python_and_vllm_serve(implementation: str) -> None:
    # Both servers are FastAPI on uvicorn: an SSE stream is a chunked body written as the
    # app yields, and an error a JSON body with its length.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        if scope["path"] != "/v1/chat/completions":
            payload = b'{"error": {"message": "not found"}}'
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        events = [b"data: " + body + b"\r\n\r\n", b": ping\r\n\r\n", b"data: [DONE]\r\n\r\n"]
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for event in events:
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=implementation, log_level="error")
    async with (
        serving(config) as port,
        pool(f"http://127.0.0.1:{port}/v1", max_connections=1) as client,
    ):
        for _ in range(3):  # one connection, kept alive between calls
            async with client.stream("POST", "chat/completions", json={"é": 1}) as response:
                lines = [line async for line in response.aiter_lines()]
            assert lines == ['data: {"é":1}', "", ": ping", "", "data: [DONE]", ""]
        missing = await client.get("models", within=5)
        assert (missing.status_code, missing.content) == (
            404,
            b'{"error": {"message": "not found"}}',
        )
        assert client.idle == 1


def test_every_case_holds_on_uvloop_the_servers_event_loop(tmp_path: Path) -> None:
    # uvloop's transports differ from asyncio's (they are not asyncio.Transport subclasses,
    # and call back at other moments): the cases above, again on the loop `aragora serve`
    # runs.
    async def cases() -> None:
        await test_the_request_joins_the_base_path_and_carries_host_headers_and_json()
        await test_chunked_length_and_close_delimited_bodies_are_read_whole()
        for answer in (
            SSE_HEAD + chunk(b"data: a\n\n"),
            b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nx",
        ):
            await test_a_body_cut_short_by_the_connection_is_an_error_never_a_short_answer(answer)
        await test_lines_end_only_at_cr_lf_or_crlf_even_split_across_packets()
        await test_a_connection_is_reused_and_connections_never_exceed_the_limit()
        await test_an_idle_connection_the_server_closed_or_that_expired_is_not_reused()
        await test_a_stalled_response_times_out_before_and_during_its_body()
        await test_garbage_and_endless_heads_are_protocol_errors()
        await test_gzip_is_decoded_and_early_hints_are_skipped()
        await test_a_large_body_arrives_intact_through_backpressure()
        await test_leaving_a_stream_early_or_cancelled_closes_its_connection_and_frees_it()
        await test_a_refused_connection_is_a_connect_error()
        await test_get_bounds_the_whole_exchange()
        await test_https_verifies_the_server_and_streams_through_tls(tmp_path)
        for implementation in ("h11", "httptools"):
            await test_it_talks_to_uvicorn_as_llama_cpp_python_and_vllm_serve(implementation)

    uvloop.run(cases())
