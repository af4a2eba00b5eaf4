"""Where the server may send a request on a user's behalf (webhook deliveries): public
addresses only, unless the operator allows a URL prefix.

A webhook's URL comes from an API call, so without a rule it would let an admin's token
(or whoever holds one) make the server reach internal services: the cloud metadata
address (169.254.169.254), a database on the private network, the server's own loopback
ports. So a target must resolve, every one of its addresses, to a globally routable
unicast address; loopback, private (RFC 1918, unique-local), link-local, shared
(100.64/10), multicast, reserved and unspecified addresses are refused unless the URL
lies under a prefix of ``ARAGORA_WEBHOOK_ENDPOINTS``, checked as agent endpoints are
(:class:`~aragora.agents.endpoints.EndpointAllowlist`: same scheme, host and port, path
at or below the prefix's, no encoded dot segments).

The check resolves the host each time it runs (at registration and before every
delivery), so a name that later resolves to a private address is refused then. The
connection itself goes through :class:`GuardedTransport`, which resolves the name once more
and connects to the address it checked, never to a fresh answer: a name whose answer
changes between the check and the connection (DNS rebinding with a zero TTL) cannot reach a
private address. TLS still verifies the name. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from aragora.agents.endpoints import EndpointAllowlist
from aragora.errors import InvalidInputError, UnavailableError

__all__ = [
    "EgressGuard",
    "GuardedTransport",
    "Resolver",
    "guarded_client",
    "is_public_address",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""(host, port) -> the addresses a connection to it may use."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``getaddrinfo`` gives for ``host`` (TCP)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def is_public_address(text: str) -> bool:
    """Whether ``text`` is a globally routable unicast IP address (an IPv4-mapped IPv6
    address is judged as the IPv4 address it maps)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class EgressGuard:
    """Checks a target URL: ``await guard(url)`` returns when the server may send there,
    raises :class:`InvalidInputError` when it may not (the message says why), and
    :class:`UnavailableError` when the host cannot be resolved now."""

    def __init__(
        self,
        allowed: Iterable[str] = (),
        *,
        resolver: Resolver = system_resolver,
        resolve_timeout: float = 5.0,
    ) -> None:
        self._allowlist = EndpointAllowlist(allowed)
        self._resolve = resolver
        self._resolve_timeout = resolve_timeout

    async def __call__(self, url: str) -> None:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            raise InvalidInputError(f"not a valid URL: {url!r}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(f"a webhook URL must be http(s) with a host, not {url!r}")
        if parts.username is not None or parts.password is not None:
            raise InvalidInputError("a webhook URL must not carry credentials")
        if parts.fragment or url.strip().endswith("#"):
            raise InvalidInputError("a webhook URL must not have a fragment")
        # The allowlist judges the URL without its query (a prefix has none).
        base = parts._replace(query="", fragment="").geturl()
        if self._allowlist.allows(base):
            return
        host = parts.hostname
        default_port = 443 if scheme == "https" else 80
        _check_public(host, await self._addresses(host, port or default_port))

    async def address_for(self, host: str, port: int) -> str:
        """Where a connection to ``host``:``port`` may go: the host itself when an allowed
        prefix is on it (the operator's own target, resolved as usual), else one of its
        addresses, every one of which must be public. Raises as :meth:`__call__` does."""
        if self._allowlist.allows_host(host, port):
            return host
        addresses = await self._addresses(host, port)
        _check_public(host, addresses)
        return addresses[0]

    async def _addresses(self, host: str, port: int) -> list[str]:
        """``host``'s addresses (itself when it is one); :class:`UnavailableError` when it
        cannot be resolved now."""
        if _is_ip(host):
            return [host]
        try:
            async with asyncio.timeout(self._resolve_timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise UnavailableError(f"cannot resolve {host!r}: timed out", retry_after=60) from exc
        except OSError as exc:
            raise UnavailableError(f"cannot resolve {host!r}: {exc}", retry_after=60) from exc
        if not addresses:
            raise UnavailableError(f"cannot resolve {host!r}: no address", retry_after=60)
        return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with every TCP connection sent to the address
    :meth:`EgressGuard.address_for` approved (the name is kept for TLS)."""

    def __init__(self, guard: EgressGuard) -> None:
        self._guard = guard
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            address = await self._guard.address_for(host, port)
        except (InvalidInputError, UnavailableError) as exc:
            raise httpcore.ConnectError(f"refused: {exc.message}") from exc
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: no Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (no proxy, no environment) whose connections go only where
    ``guard`` allows, to the address it checked (see the module)."""

    def __init__(self, guard: EgressGuard, *, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its httpcore pool with no way to pass a network backend: the same
        # pool (no connection is open yet) is built again with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(guard),
        )


def guarded_client(guard: EgressGuard) -> httpx.AsyncClient:
    """The HTTP client for requests sent on a user's behalf: through :class:`GuardedTransport`,
    no redirects followed, proxy variables ignored (a proxy would connect where the egress
    rule did not look)."""
    return httpx.AsyncClient(
        trust_env=False, follow_redirects=False, transport=GuardedTransport(guard)
    )


def _check_public(host: str, addresses: Iterable[str]) -> None:
    for address in addresses:
        if not is_public_address(address):
            raise InvalidInputError(
                f"webhook target {host!r} resolves to {address}, which is not a public "
                "address; allow it with ARAGORA_WEBHOOK_ENDPOINTS (URL prefixes)"
            )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
