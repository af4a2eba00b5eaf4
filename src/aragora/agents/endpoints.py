"""Which endpoints an agent spec may name: the operator's allowlist.

A spec that carries a URL (``openai-compatible:MODEL@URL``) makes the server connect where
the spec says. From the operator (environment, CLI) that is configuration; from an API
request it would let any user point the server at internal addresses. So an untrusted spec
may name only a URL under one of the operator's allowed base URLs.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["EndpointAllowlist", "normalise_endpoint"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_endpoint(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path without trailing slash) of an http(s) URL, or None.
    Hosts compare case-insensitively and default ports are made explicit, so
    ``HTTP://Host:80/v1/`` and ``http://host/v1`` are the same endpoint."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return None  # a path that climbs out of an allowed prefix
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], parts.path.rstrip("/")


class EndpointAllowlist:
    """Base URLs an untrusted spec may use; a URL is allowed when it has the same scheme,
    host and port as an entry and its path is that entry's path or below it."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._entries = []
        for url in urls:
            entry = normalise_endpoint(url)
            if entry is None:
                raise ValueError(f"not an http(s) base URL: {url!r}")
            self._entries.append(entry)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def allows(self, url: str) -> bool:
        """Whether ``url`` lies under an allowed base URL (credentials in it never do)."""
        target = normalise_endpoint(url)
        if target is None:
            return False
        scheme, host, port, path = target
        for a_scheme, a_host, a_port, a_path in self._entries:
            if (scheme, host, port) != (a_scheme, a_host, a_port):
                continue
            if path == a_path or path.startswith(a_path + "/"):
                return True
        return False
