"""Test-wide guards: no test reaches beyond this machine's loopback interface, and no
debate a test runs through the runtime ends with a log that breaks its invariants.

Every test runs with ``socket`` patched so that connecting, sending a datagram, or
resolving a name is allowed only for 127.0.0.0/8, ::1, ``localhost`` and AF_UNIX
sockets. Anything else raises :class:`NetworkAccessBlockedError` naming the address,
before any packet or DNS query leaves the process. Socket *creation* is untouched, so
asyncio's self-pipe (``socketpair``) and servers bound to 127.0.0.1 work as usual.

The guard covers this process only: a test that starts a subprocess must keep that
subprocess off the network itself.

The runtime checks every finished debate's log with
:func:`aragora.debate.invariants.check_log` and logs ``invariant_violation`` at ERROR
when one is broken; :func:`debate_invariants` turns such a record into a test failure,
so every debate any test produces is checked.

Keep this file to these guards: shared fixtures belong in the conftest of the package
that uses them.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# Only names that /etc/hosts answers; anything else could turn into a DNS query.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


class NetworkAccessBlockedError(RuntimeError):
    """A test tried to reach an address outside the loopback interface."""

    def __init__(self, action: str, address: object) -> None:
        super().__init__(
            f"network access blocked in tests: {action} {address!r} "
            "(only 127.0.0.0/8, ::1, localhost and AF_UNIX are allowed)"
        )
        self.action = action
        self.address = address


def _is_loopback_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _check_socket_address(sock: socket.socket, address: object, action: str) -> None:
    family = sock.family
    if hasattr(socket, "AF_UNIX") and family == socket.AF_UNIX:
        return
    inet = family in (socket.AF_INET, socket.AF_INET6)
    if inet and isinstance(address, tuple) and address and _is_loopback_host(address[0]):
        return
    raise NetworkAccessBlockedError(action, address)


class NetworkGuard:
    """Holds the real socket functions and installs checking wrappers in their place.

    The wrappers look the originals up on this object at call time, so a test of the
    guard itself can replace them with fakes and prove nothing would have been sent.
    """

    def __init__(self) -> None:
        self.connect: Callable[..., Any] = socket.socket.connect
        self.connect_ex: Callable[..., Any] = socket.socket.connect_ex
        self.sendto: Callable[..., Any] = socket.socket.sendto
        self.getaddrinfo: Callable[..., Any] = socket.getaddrinfo
        self.create_connection: Callable[..., Any] = socket.create_connection
        self.gethostbyname: Callable[..., Any] = socket.gethostbyname
        self.gethostbyname_ex: Callable[..., Any] = socket.gethostbyname_ex

    def install(self, patch: pytest.MonkeyPatch) -> None:
        """Replace the socket module's outbound entry points with checking wrappers."""
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            _check_socket_address(sock, address, "connect to")
            guard.connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            _check_socket_address(sock, address, "connect to")
            result: int = guard.connect_ex(sock, address)
            return result

        def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            # sendto(data, address) or sendto(data, flags, address)
            if args:
                _check_socket_address(sock, args[-1], "send a datagram to")
            result: int = guard.sendto(sock, data, *args)
            return result

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and host not in ("", b"") and not _is_loopback_host(host):
                raise NetworkAccessBlockedError("resolve", host)
            return guard.getaddrinfo(host, *args, **kwargs)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not (isinstance(address, tuple) and address and _is_loopback_host(address[0])):
                raise NetworkAccessBlockedError("connect to", address)
            created: socket.socket = guard.create_connection(address, *args, **kwargs)
            return created

        def gethostbyname(host: Any) -> str:
            if not _is_loopback_host(host):
                raise NetworkAccessBlockedError("resolve", host)
            resolved: str = guard.gethostbyname(host)
            return resolved

        def gethostbyname_ex(host: Any) -> Any:
            if not _is_loopback_host(host):
                raise NetworkAccessBlockedError("resolve", host)
            return guard.gethostbyname_ex(host)

        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket.socket, "sendto", sendto)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket, "create_connection", create_connection)
        patch.setattr(socket, "gethostbyname", gethostbyname)
        patch.setattr(socket, "gethostbyname_ex", gethostbyname_ex)


@pytest.fixture(scope="session", autouse=True)
def network_guard() -> Iterator[NetworkGuard]:
    """Block every non-loopback connection, datagram and name lookup for the whole run."""
    guard = NetworkGuard()
    with pytest.MonkeyPatch.context() as patch:
        guard.install(patch)
        yield guard


class _Violations(logging.Handler):
    """Collects the runtime's ``invariant_violation`` records."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "invariant_violation":
            fields = getattr(record, "aragora_fields", None) or {}
            self.found.append(f"{fields.get('debate_id')}: {fields.get('violations')}")


@pytest.fixture(autouse=True)
def debate_invariants() -> Iterator[None]:
    """Fail the test if a debate it ran broke an invariant of its event log."""
    handler = _Violations()
    logger = logging.getLogger("aragora.runtime")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.found:
        pytest.fail("debate invariants broken:\n" + "\n".join(handler.found))
