"""Prometheus metrics: names, bounded route labels, debate and agent metrics."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from aragora.debate.events import Event
from aragora.server.metrics import Metrics

from .support import wait_recorded

REQUIRED = (
    "aragora_http_requests_total",
    "aragora_http_request_duration_seconds_bucket",
    "aragora_active_debates",
    "aragora_queued_debates",
    "aragora_event_loop_lag_seconds",
    "aragora_debates_total",
    "aragora_agent_requests_total",
    "aragora_agent_response_seconds_bucket",
    "aragora_tokens_total",
    "aragora_cost_usd_total",
    "aragora_websocket_connections",
    "process_resident_memory_bytes",
)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


async def test_metrics_after_traffic(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = app_client
    created = (await client.post("/api/v1/debates", json={"task": "Is water wet?"})).json()
    debate_id = created["debate_id"]
    assert await wait_recorded(client, debate_id) == "completed"
    await client.get(f"/api/v1/debates/{debate_id}")
    await client.get(f"/api/debates/{debate_id}/messages")
    await client.get("/api/v1/does/not/exist/at/all")

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    names = {name for name, _, _ in samples(text)}
    for name in REQUIRED:
        assert name in names, name
    assert debate_id not in text  # raw paths never become labels

    routes = {labels["route"] for name, labels, _ in samples(text) if "route" in labels}
    assert "/api/v1/debates/{debate_id}" in routes
    assert "/api/debates/{debate_id}/messages" in routes
    assert "/api/v1/debates" in routes
    assert "unmatched" in routes
    assert all(r == "unmatched" or r.startswith("/") for r in routes)

    def value(name: str, **labels: str) -> float:
        return sum(
            v
            for n, lab, v in samples(text)
            if n == name and all(lab.get(k) == w for k, w in labels.items())
        )

    assert (
        value("aragora_http_requests_total", method="POST", route="/api/v1/debates", status="202")
        == 1
    )
    assert value("aragora_debates_total", outcome="completed") == 1
    assert value("aragora_agent_requests_total", provider="demo", outcome="success") >= 3
    assert value("aragora_tokens_total", provider="demo", direction="output") > 0
    assert value("aragora_agent_response_seconds_count", provider="demo") >= 3
    assert value("aragora_active_debates") == 0

    alias = await client.get("/api/v1/metrics/prometheus")
    assert alias.status_code == 200
    assert "aragora_http_requests_total" in alias.text
    assert (await client.get("/api/metrics/prometheus")).status_code == 200


def test_http_buckets_span_a_millisecond_to_a_minute() -> None:
    metrics = Metrics()
    metrics.record_http("GET", "/api/health", 200, 0.002)
    text = metrics.render().decode()
    buckets = re.findall(r'aragora_http_request_duration_seconds_bucket\{.*le="([^"]+)"', text)
    assert float(buckets[0]) == 0.001
    assert "60.0" in buckets


def test_agent_errors_are_counted_under_the_panels_provider() -> None:
    metrics = Metrics()
    start = Event(
        "debate_start",
        "d1",
        1,
        "2026-01-01T00:00:00+00:00",
        data={"agents": [{"name": "a", "provider": "openai", "spec": "openai:x", "model": "x"}]},
    )
    metrics.observe_event(start)
    metrics.observe_event(
        Event("agent_error", "d1", 2, "t", agent="a", data={"agent": "a", "kind": "timeout"})
    )
    metrics.observe_event(
        Event("agent_error", "d2", 1, "t", data={"agent": "b", "kind": "weird-new-kind"})
    )
    metrics.observe_event(
        Event(
            "propose",
            "d1",
            3,
            "t",
            data={
                "provider": "openai",
                "duration_seconds": 1.5,
                "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25},
            },
        )
    )
    metrics.observe_event(Event("token", "d1", None, "t", data={"delta": "x"}))
    metrics.observe_event(
        Event("debate_end", "d1", 4, "t", data={"status": "cancelled", "result": {}})
    )
    text = metrics.render().decode()
    assert 'aragora_agent_requests_total{outcome="timeout",provider="openai"} 1.0' in text
    assert 'aragora_agent_requests_total{outcome="error",provider="unknown"} 1.0' in text
    assert 'aragora_agent_requests_total{outcome="success",provider="openai"} 1.0' in text
    assert 'aragora_tokens_total{direction="input",provider="openai"} 10.0' in text
    assert 'aragora_cost_usd_total{provider="openai"} 0.25' in text
    assert 'aragora_debates_total{outcome="cancelled"} 1.0' in text


def test_each_app_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.record_http("GET", "/x", 200, 0.01)
    assert "/x" in first.render().decode()
    assert "/x" not in second.render().decode()
