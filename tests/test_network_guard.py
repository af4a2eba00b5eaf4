"""The conftest network guard: outside addresses fail loudly, loopback works.

The tests that try outside addresses first swap the guard's real socket functions for
fakes that fail the test, so even a broken guard sends nothing off this machine.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any, NoReturn

import pytest

OUTSIDE_V4 = "203.0.113.10"  # TEST-NET-3: reserved for documentation, never routed
OUTSIDE_NAME = "example.com"
BLOCKED = r"network access blocked in tests"


def _escaped(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(f"the network guard let a call through: {args!r} {kwargs!r}")


@pytest.fixture
def no_escape(network_guard: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every real socket function behind the guard fail the test if reached."""
    for name in (
        "connect",
        "connect_ex",
        "sendto",
        "getaddrinfo",
        "create_connection",
        "gethostbyname",
        "gethostbyname_ex",
    ):
        monkeypatch.setattr(network_guard, name, _escaped)


def test_guard_is_installed(network_guard: Any) -> None:
    assert socket.socket.connect is not network_guard.connect
    assert socket.getaddrinfo is not network_guard.getaddrinfo
    assert socket.create_connection is not network_guard.create_connection


@pytest.mark.usefixtures("no_escape")
@pytest.mark.parametrize(
    "address",
    [
        (OUTSIDE_V4, 443),
        ("10.0.0.1", 80),
        ("0.0.0.0", 80),
        (OUTSIDE_NAME, 443),
    ],
)
def test_ipv4_connect_to_outside_is_blocked(address: tuple[str, int]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match=BLOCKED) as caught:
            sock.connect(address)
        assert address[0] in str(caught.value)
        with pytest.raises(RuntimeError, match=BLOCKED):
            sock.connect_ex(address)


@pytest.mark.usefixtures("no_escape")
@pytest.mark.parametrize("host", ["2001:db8::1", "::ffff:203.0.113.10"])
def test_ipv6_connect_to_outside_is_blocked(host: str) -> None:
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock,
        pytest.raises(RuntimeError, match=BLOCKED) as caught,
    ):
        sock.connect((host, 443, 0, 0))
    assert type(caught.value).__name__ == "NetworkAccessBlockedError"


@pytest.mark.usefixtures("no_escape")
def test_udp_datagram_to_outside_is_blocked() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with pytest.raises(RuntimeError, match=BLOCKED):
            sock.sendto(b"x", (OUTSIDE_V4, 53))
        with pytest.raises(RuntimeError, match=BLOCKED):
            sock.sendto(b"x", 0, (OUTSIDE_V4, 53))


@pytest.mark.usefixtures("no_escape")
def test_name_resolution_of_outside_hosts_is_blocked() -> None:
    with pytest.raises(RuntimeError, match=f"{BLOCKED}: resolve 'example.com'"):
        socket.getaddrinfo(OUTSIDE_NAME, 443)
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.getaddrinfo(OUTSIDE_V4.encode(), 443)
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.gethostbyname(OUTSIDE_NAME)
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.gethostbyname_ex(OUTSIDE_NAME)


@pytest.mark.usefixtures("no_escape")
def test_create_connection_to_outside_is_blocked() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.create_connection((OUTSIDE_NAME, 443), timeout=1)
    with pytest.raises(RuntimeError, match=BLOCKED):
        socket.create_connection((OUTSIDE_V4, 443), timeout=1)


@pytest.mark.usefixtures("no_escape")
async def test_asyncio_connections_to_outside_are_blocked() -> None:
    with pytest.raises(RuntimeError, match=BLOCKED):
        await asyncio.open_connection(OUTSIDE_NAME, 443)
    with pytest.raises(RuntimeError, match=BLOCKED):
        await asyncio.open_connection(OUTSIDE_V4, 443)


def test_blocking_loopback_connection_works() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            peer, _ = server.accept()
            with peer:
                client.sendall(b"ping")
                assert peer.recv(4) == b"ping"
        with socket.create_connection(("localhost", port), timeout=5) as client:
            server.accept()[0].close()
            assert client.getpeername()[0] == "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
            assert other.connect_ex(("127.0.0.1", port)) == 0


def test_loopback_datagrams_work() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        sender.sendto(b"hello", receiver.getsockname())
        assert receiver.recv(5) == b"hello"


def test_loopback_and_wildcard_lookups_work() -> None:
    assert socket.getaddrinfo("127.0.0.1", 80)
    assert socket.getaddrinfo("::1", 80, type=socket.SOCK_STREAM)
    assert socket.getaddrinfo(None, 80, flags=socket.AI_PASSIVE)
    assert socket.gethostbyname("127.0.0.2") == "127.0.0.2"


async def test_asyncio_loopback_server_works() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for host in ("127.0.0.1", "localhost"):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"hello\n")
            await writer.drain()
            assert await asyncio.wait_for(reader.readline(), timeout=5) == b"hello\n"
            writer.close()
            await writer.wait_closed()


def test_unix_sockets_work(tmp_path: Path) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            server.accept()[0].close()
