"""The HTTP edge every provider adapter shares: pooled clients, SSE, error classification.

Why plain HTTP (our own lean HTTP/1.1 client, :mod:`aragora.agents.wire.http1`) and not the
vendor SDKs (``anthropic``, ``openai``, ``google-genai``):

- **One retry policy.** The SDKs retry internally (two retries with their own backoff by
  default, and ``openai`` honours ``Retry-After`` on its own). Stacked under our
  :mod:`aragora.agents.resilience.wrappers` wrappers that multiplies attempts and hides 429s from
  the fallback and the circuit breaker. Here the transport never retries (``retries=0``);
  every retry is ours, visible and logged.
- **Precise streaming.** We read the Server-Sent Events ourselves (:func:`sse_events`), so a
  truncated or cut-off stream, a mid-stream ``error`` event, a stalled connection or a line
  of broken JSON each become a classified :class:`~aragora.errors.ProviderError`, never a
  hang or a silently short answer; usage comes from exactly the fields each provider
  documents, and is estimated where a server reports none.
- **Fewer dependencies and less CPU.** The three SDKs would add three packages and their
  transitive trees (and pin ranges) for three small request shapes, and each is built on
  httpx, whose cost per streamed call is ten times the client's here (see
  :mod:`aragora.agents.wire.http1`).
- **One connection pool per provider endpoint** (:class:`ClientPool`, built by
  :func:`make_client`), with timeouts we set.

Error kinds (``ProviderError.kind``) are the strings of :class:`Kind`. The classification
of a failed response reads the status, the body (each provider's error JSON) and the
headers (``Retry-After``, ``retry-after-ms``, Anthropic's ``anthropic-ratelimit-*-reset``,
OpenAI's ``x-ratelimit-reset-*``, Gemini's ``RetryInfo.retryDelay``).
"""

from __future__ import annotations

import functools
import json
import re
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from aragora.agents.wire.http1 import (
    ClientPool,
    ReadTimeout,
    RemoteProtocolError,
    Timeout,
    TransportError,
)
from aragora.errors import AgentTimeoutError, ProviderError

__all__ = [
    "ClientPool",
    "Kind",
    "SSEEvent",
    "error_from_exception",
    "error_from_payload",
    "error_from_response",
    "make_client",
    "parse_duration",
    "parse_timestamp",
    "scrub",
    "seconds_or_date",
    "sse_events",
]

_MAX_MESSAGE = 300


class Kind:
    """The classification of provider failures (values of ``ProviderError.kind``)."""

    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    OVERLOADED = "overloaded"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    CONTEXT_TOO_LONG = "context_too_long"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    NETWORK = "network"
    INVALID_RESPONSE = "invalid_response"
    CIRCUIT_OPEN = "circuit_open"
    CUT_OFF = "cut_off"
    """The stream ended (even with ``[DONE]``) before the model finished its answer: no
    finish reason, as llama.cpp's servers do when they interrupt a request for another."""
    QUEUE_TIMEOUT = "queue_timeout"
    """The call waited longer than its bound in our own per-endpoint queue, unsent."""


def make_client(
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    connect_timeout: float = 10.0,
    stall_timeout: float = 60.0,
    max_connections: int = 100,
) -> ClientPool:
    """The pooled client for one provider endpoint (see :class:`~aragora.agents.wire.http1.
    ClientPool`), TLS verified with the shared context.

    The client never retries (retries are :mod:`aragora.agents.resilience.wrappers`'s job)
    and never follows redirects. ``stall_timeout`` bounds the wait for *each* read, so a
    connection that stops sending mid-stream fails as a timeout; the whole call's limit
    is set above this layer. Waiting for a free pooled connection is not limited here:
    the per-provider limiter queues calls before they reach the pool.
    """
    return ClientPool(
        base_url,
        headers=headers,
        connect_timeout=connect_timeout,
        stall_timeout=stall_timeout,
        max_connections=max_connections,
        tls=_tls_context,
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The verifying TLS context every client shares (httpx's: the certifi bundle, or
    ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set): loading the CA bundle takes tens of
    milliseconds, so it is done once per process, on first use."""
    context = httpx.create_ssl_context()
    context.set_alpn_protocols(["http/1.1"])  # the client speaks HTTP/1.1 only
    return context


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One Server-Sent Event: its ``event`` type (``message`` when unnamed) and data."""

    event: str
    data: str


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Parse Server-Sent Events from decoded lines (as ``Response.aiter_lines`` gives them).

    Follows the WHATWG rules: ``field: value`` with one optional space after the colon,
    ``data`` lines joined by ``\\n``, comment lines (``:``) ignored (OpenRouter sends
    ``: OPENROUTER PROCESSING``), an event dispatched at a blank line, and a last event not
    followed by a blank line discarded (a truncated stream must not look complete).
    """
    event = ""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` and cut to a readable length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def error_from_exception(
    provider: str, exc: TransportError, secrets: Iterable[str] = ()
) -> ProviderError:
    """Translate a transport failure: timeouts (including a stalled stream) are
    ``timeout``; refused, reset or truncated connections are ``network``."""
    detail = scrub(str(exc) or type(exc).__name__, secrets)
    if isinstance(exc, Timeout):
        what = "stalled: no data" if isinstance(exc, ReadTimeout) else "timed out"
        return AgentTimeoutError(f"{provider}: {what} ({type(exc).__name__})", provider=provider)
    if isinstance(exc, RemoteProtocolError):
        return ProviderError(
            f"{provider}: connection closed mid-response ({detail})",
            kind=Kind.NETWORK,
            provider=provider,
        )
    return ProviderError(f"{provider}: {detail}", kind=Kind.NETWORK, provider=provider)


def error_from_response(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Iterable[str] = (),
    *,
    now: datetime | None = None,
) -> ProviderError:
    """Classify a non-2xx response from its status, error body and headers."""
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = None
    error_type, message, retry_delay = _error_fields(payload)
    if not message:
        message = body.decode("utf-8", "replace")[:200] if body else ""
    kind = _kind(status, error_type, message)
    retry_after = _retry_after(headers, now or datetime.now(UTC))
    if retry_after is None:
        retry_after = retry_delay
    label = f"{status} {error_type}".strip()
    text = scrub(f"{provider}: {label}: {message}" if message else f"{provider}: {label}", secrets)
    return ProviderError(text, kind=kind, provider=provider, retry_after=retry_after)


def error_from_payload(provider: str, payload: Any, secrets: Iterable[str] = ()) -> ProviderError:
    """Classify an error reported inside a stream (Anthropic's ``error`` event, an
    OpenRouter ``{"error": ...}`` chunk, a Gemini error object)."""
    error_type, message, retry_delay = _error_fields(payload)
    status = 0
    if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
        code = payload["error"].get("code")
        status = code if isinstance(code, int) else 0
    kind = _kind(status, error_type, message) if status else _stream_kind(error_type, message)
    text = scrub(f"{provider}: error in stream: {error_type}: {message}", secrets)
    return ProviderError(text, kind=kind, provider=provider, retry_after=retry_delay)


# -- classification ---------------------------------------------------------------------

_CONTEXT_HINTS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "prompt is too long",
    "too many tokens",
    "input token count",
    "exceeds the maximum number of tokens",
)
_QUOTA_HINTS = ("insufficient_quota", "credit balance", "billing", "insufficient credits")
_ANTHROPIC_TYPES = {
    "rate_limit_error": Kind.RATE_LIMITED,
    "overloaded_error": Kind.OVERLOADED,
    "authentication_error": Kind.AUTH,
    "permission_error": Kind.AUTH,
    "api_error": Kind.SERVER_ERROR,
    "timeout_error": Kind.TIMEOUT,
    "request_too_large": Kind.CONTEXT_TOO_LONG,
    "invalid_request_error": Kind.BAD_REQUEST,
    "not_found_error": Kind.BAD_REQUEST,
}


def _error_fields(payload: Any) -> tuple[str, str, float | None]:
    """(type or status name, message, RetryInfo delay) from any provider's error JSON."""
    if not isinstance(payload, Mapping):
        return "", "", None
    error = payload.get("error", payload)
    if not isinstance(error, Mapping):
        return "", str(error), None
    # OpenAI: type and a more specific code; Gemini: numeric code and a status name.
    names = [error.get(key) for key in ("type", "code", "status")]
    error_type = "/".join(dict.fromkeys(n for n in names if isinstance(n, str) and n))
    message = str(error.get("message") or "")
    delay = None
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping) and "retryDelay" in detail:
            delay = parse_duration(str(detail["retryDelay"]))
        if isinstance(detail, Mapping) and detail.get("reason") == "API_KEY_INVALID":
            error_type = "API_KEY_INVALID"
    return str(error_type), message, delay


def _kind(status: int, error_type: str, message: str) -> str:
    text = f"{error_type} {message}".lower()
    if error_type == "API_KEY_INVALID" or status in (401, 403):
        return Kind.AUTH
    if status == 402 or any(hint in text for hint in _QUOTA_HINTS):
        return Kind.QUOTA_EXHAUSTED
    if status == 429:
        return Kind.RATE_LIMITED
    if status in (529, 503):
        return Kind.OVERLOADED
    if status == 413 or any(hint in text for hint in _CONTEXT_HINTS):
        return Kind.CONTEXT_TOO_LONG
    if status in (408, 504):
        return Kind.TIMEOUT
    if status >= 500:
        return Kind.SERVER_ERROR
    return Kind.BAD_REQUEST


def _stream_kind(error_type: str, message: str) -> str:
    for name in error_type.split("/"):
        kind = _ANTHROPIC_TYPES.get(name)
        if kind is not None:
            return kind
    return _kind(500, error_type, message)


# -- waiting hints ------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """``1s``, ``6m0s``, ``20ms``, ``37s``, ``1.5s`` (OpenAI, Gemini) in seconds."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """The wait the provider asked for, from the most specific header present."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is not None:
        seconds = seconds_or_date(value, now)
        if seconds is not None:
            return seconds
    resets: list[float] = []
    for limit in ("requests", "tokens", "input-tokens", "output-tokens"):
        if lowered.get(f"anthropic-ratelimit-{limit}-remaining") == "0":
            when = parse_timestamp(lowered.get(f"anthropic-ratelimit-{limit}-reset", ""))
            if when is not None:
                resets.append(max(0.0, (when - now).total_seconds()))
        if lowered.get(f"x-ratelimit-remaining-{limit}") == "0":
            delay = parse_duration(lowered.get(f"x-ratelimit-reset-{limit}", ""))
            if delay is not None:
                resets.append(delay)
    return max(resets) if resets else None


def seconds_or_date(value: str, now: datetime) -> float | None:
    """A ``Retry-After`` value (seconds, or an HTTP date) as seconds from ``now``."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 time (Anthropic's ``anthropic-ratelimit-*-reset``), UTC if unzoned."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
