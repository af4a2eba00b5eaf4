"""One access-log line per HTTP request: method, route template (never the raw path),
status, milliseconds and the request id the response carried."""

from __future__ import annotations

import logging

import httpx
import pytest


async def test_each_request_gets_one_line_with_its_route_template_and_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="aragora.access"):
        response = await client.get("/api/v1/debates/no-such-debate?token=secret")
    assert response.status_code == 404
    lines = [r for r in caplog.records if r.name == "aragora.access"]
    assert len(lines) == 1
    fields = lines[0].aragora_fields  # type: ignore[attr-defined]
    assert fields["method"] == "GET"
    assert fields["route"] == "/api/v1/debates/{debate_id}"  # no id, no query string
    assert fields["status"] == 404
    assert fields["ms"] >= 0
    assert fields["request_id"] == response.headers["x-request-id"]
