"""Which endpoints an agent spec may name (the operator's allowlist), and one spelling of
every endpoint URL so limits, breakers and probes agree on what "the same endpoint" is.

A spec that carries a URL (``openai-compatible:MODEL@URL``) makes the server connect where
the spec says. From the operator (environment, CLI) that is configuration; from an API
request it would let any user point the server at internal addresses. So an untrusted spec
may name only a URL under one of the operator's allowed base URLs.

The prefix check runs on the path as the server will read it: percent-encoding is decoded
(repeatedly, so ``%252e`` cannot hide a ``.``), repeated slashes are collapsed, and a path
that still holds a ``.`` or ``..`` segment, a backslash or a NUL is refused outright rather
than resolved, as is any URL with credentials, a query string or a fragment: an endpoint is
a base URL, and none of those belong in one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

__all__ = ["EndpointAllowlist", "canonical_endpoint", "normalise_endpoint"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SLASHES = re.compile(r"/{2,}")
_MAX_DECODES = 5  # more layers of encoding than this is an attack, not a base URL


def normalise_endpoint(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, decoded path without trailing slash) of an http(s) base URL, or
    None when it is not one (see the module docstring for what is refused). Hosts compare
    case-insensitively and default ports are made explicit, so ``HTTP://Host:80/v1/`` and
    ``http://host/v1`` are the same endpoint."""
    text = url.strip()
    if "?" in text or "#" in text:
        return None  # a base URL has no query string or fragment (even an empty one)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    path = _decoded(parts.path)
    if path is None or "\\" in path or "\x00" in path:
        return None
    path = _SLASHES.sub("/", path)
    if any(segment in (".", "..") for segment in path.split("/")):
        return None  # a path that climbs out of an allowed prefix
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme], path.rstrip("/")


def canonical_endpoint(url: str) -> str:
    """One spelling of an endpoint: ``scheme://host[:port]/path`` (default port left out,
    host lower-cased, no trailing slash), the key of its limits, breakers and probe. A URL
    :func:`normalise_endpoint` refuses is returned stripped of surrounding space and
    trailing slashes (the operator's own specs are not refused here)."""
    parts = normalise_endpoint(url)
    if parts is None:
        return url.strip().rstrip("/")
    scheme, host, port, path = parts
    if ":" in host:
        host = f"[{host}]"
    shown = "" if port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}{path}"


def _decoded(path: str) -> str | None:
    for _ in range(_MAX_DECODES):
        decoded = unquote(path)
        if decoded == path:
            return path
        path = decoded
    return None


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

    def allows_host(self, host: str, port: int) -> bool:
        """Whether an allowed base URL is on ``host`` and ``port`` (any scheme or path):
        the question a connection, which knows no more than that, can ask."""
        wanted = (host.strip("[]").lower(), port)
        return any((a_host, a_port) == wanted for _, a_host, a_port, _ in self._entries)

    def allows(self, url: str) -> bool:
        """Whether ``url`` lies under an allowed base URL (credentials, query strings,
        fragments and dot segments, encoded or not, never do)."""
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
