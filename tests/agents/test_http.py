"""The HTTP edge: SSE parsing, error classification, waiting hints, scrubbing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from aragora.agents.wire.http1 import (
    ConnectError,
    ConnectTimeout,
    ReadTimeout,
    RemoteProtocolError,
    WriteTimeout,
)
from aragora.agents.wire.transport import (
    Kind,
    SSEEvent,
    error_from_exception,
    error_from_payload,
    error_from_response,
    scrub,
    sse_events,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


async def parse(text: str) -> list[SSEEvent]:
    async def lines() -> AsyncIterator[str]:
        for line in text.splitlines():
            yield line

    return [event async for event in sse_events(lines())]


async def test_sse_named_events_comments_and_multiline_data() -> None:
    text = (
        ": OPENROUTER PROCESSING\n\n"
        'event: message_start\ndata: {"a": 1}\n\n'
        "data: first\ndata: second\n\n"
        "data:no-space\r\n\r\n"
        "id: 7\nretry: 100\ndata: [DONE]\n\n"
    )
    assert await parse(text) == [
        SSEEvent("message_start", '{"a": 1}'),
        SSEEvent("message", "first\nsecond"),
        SSEEvent("message", "no-space"),
        SSEEvent("message", "[DONE]"),
    ]


async def test_sse_drops_an_event_the_stream_never_finished() -> None:
    assert await parse("data: whole\n\ndata: cut off") == [SSEEvent("message", "whole")]


def anthropic_error(kind: str, message: str = "m") -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def openai_error(code: str | None, message: str = "m", kind: str = "x") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def gemini_error(
    code: int, status: str, message: str = "m", details: Sequence[object] = ()
) -> bytes:
    error = {"code": code, "message": message, "status": status, "details": list(details)}
    return json.dumps({"error": error}).encode()


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, anthropic_error("rate_limit_error"), Kind.RATE_LIMITED),
        (529, anthropic_error("overloaded_error"), Kind.OVERLOADED),
        (503, gemini_error(503, "UNAVAILABLE", "The model is overloaded."), Kind.OVERLOADED),
        (401, anthropic_error("authentication_error"), Kind.AUTH),
        (403, anthropic_error("permission_error"), Kind.AUTH),
        (400, anthropic_error("invalid_request_error", "max_tokens: too big"), Kind.BAD_REQUEST),
        (
            400,
            anthropic_error("invalid_request_error", "prompt is too long: 210000 tokens > 200000"),
            Kind.CONTEXT_TOO_LONG,
        ),
        (413, anthropic_error("request_too_large"), Kind.CONTEXT_TOO_LONG),
        (400, openai_error("context_length_exceeded"), Kind.CONTEXT_TOO_LONG),
        (429, openai_error("insufficient_quota", "You exceeded your quota"), Kind.QUOTA_EXHAUSTED),
        (429, openai_error("rate_limit_exceeded"), Kind.RATE_LIMITED),
        (402, openai_error(None, "Insufficient credits"), Kind.QUOTA_EXHAUSTED),
        (
            400,
            anthropic_error("invalid_request_error", "Your credit balance is too low"),
            Kind.QUOTA_EXHAUSTED,
        ),
        (
            400,
            gemini_error(
                400, "INVALID_ARGUMENT", "API key not valid", [{"reason": "API_KEY_INVALID"}]
            ),
            Kind.AUTH,
        ),
        (500, anthropic_error("api_error"), Kind.SERVER_ERROR),
        (502, b"<html>bad gateway</html>", Kind.SERVER_ERROR),
        (504, b"", Kind.TIMEOUT),
        (404, openai_error("model_not_found"), Kind.BAD_REQUEST),
    ],
)
def test_failed_responses_are_classified(status: int, body: bytes, kind: str) -> None:
    error = error_from_response("p", status, {}, body, now=NOW)
    assert error.kind == kind
    assert error.provider == "p"
    assert str(error).startswith(f"p: {status}")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after": format_datetime(NOW + timedelta(seconds=30), usegmt=True)}, 30.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        (
            {
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": (NOW + timedelta(seconds=12)).isoformat(),
                "anthropic-ratelimit-tokens-remaining": "5000",
                "anthropic-ratelimit-tokens-reset": (NOW + timedelta(seconds=50)).isoformat(),
            },
            12.0,
        ),
        (
            {
                "x-ratelimit-remaining-requests": "3",
                "x-ratelimit-reset-requests": "1s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "6m0s",
            },
            360.0,
        ),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_comes_from_the_most_specific_header(
    headers: dict[str, str], expected: float | None
) -> None:
    error = error_from_response("p", 429, headers, b"", now=NOW)
    assert error.retry_after == (pytest.approx(expected) if expected is not None else None)


def test_gemini_retry_info_gives_the_delay() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]
    error = error_from_response(
        "gemini", 429, {}, gemini_error(429, "RESOURCE_EXHAUSTED", "slow down", details)
    )
    assert (error.kind, error.retry_after) == (Kind.RATE_LIMITED, 37.0)


def test_errors_inside_a_stream_are_classified() -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert error_from_payload("anthropic", overloaded).kind == Kind.OVERLOADED
    openrouter = {"error": {"code": 429, "message": "Rate limit exceeded"}}
    assert error_from_payload("openrouter", openrouter).kind == Kind.RATE_LIMITED
    unknown = {"error": {"message": "boom"}}
    assert error_from_payload("x", unknown).kind == Kind.SERVER_ERROR


def test_transport_errors_are_timeouts_or_network() -> None:
    stalled = error_from_exception("p", ReadTimeout("stalled: no data for 5 s"))
    assert stalled.kind == Kind.TIMEOUT
    assert "stalled" in str(stalled)
    assert error_from_exception("p", ConnectTimeout("")).kind == Kind.TIMEOUT
    assert error_from_exception("p", WriteTimeout("")).kind == Kind.TIMEOUT
    refused = error_from_exception("p", ConnectError("refused"))
    assert refused.kind == Kind.NETWORK
    cut = error_from_exception("p", RemoteProtocolError("closed mid-response"))
    assert cut.kind == Kind.NETWORK


def test_secrets_never_survive_into_messages() -> None:
    body = openai_error("invalid_api_key", "Incorrect API key provided: sk-live-abc123")
    error = error_from_response("openai", 401, {}, body, ["sk-live-abc123"])
    assert "sk-live-abc123" not in str(error)
    assert "***" in str(error)
    assert scrub("x" * 1000, ()).endswith("…")
    assert len(scrub("x" * 1000, ())) == 300
