"""Prometheus metrics of one app: HTTP traffic, debates, agents, WebSockets, the process.

Each app owns a :class:`Metrics` with its own ``CollectorRegistry`` (several apps live in
one test process). HTTP metrics are recorded by :class:`HttpMetrics`, a pure ASGI
middleware labelling by the matched route *template* (``/api/v1/debates/{debate_id}``),
never the raw path, so label values stay bounded. Debate and agent metrics come from the
events this process appends (``Node.observe``); the debate gauges are read from the
service at scrape time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aragora.debate.events import Event
from aragora.logs import log_request
from aragora.server.responses import MAINTENANCE_KEY, REQUEST_ID_KEY

__all__ = ["CONTENT_TYPE_LATEST", "HttpMetrics", "Metrics", "route_template"]

_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_AGENT_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
_QUEUE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ANSWER_EVENTS = frozenset({"propose", "critique", "revision", "vote", "synthesis"})
_OUTCOMES = frozenset({"completed", "failed", "cancelled"})
_ERROR_KINDS = frozenset(
    {
        "rate_limited",
        "quota_exhausted",
        "overloaded",
        "auth",
        "bad_request",
        "context_too_long",
        "timeout",
        "server_error",
        "network",
        "invalid_response",
        "circuit_open",
    }
)
_MAX_PANELS = 10_000  # debates whose agent -> provider map is remembered


class Metrics:
    """The app's registry and every Aragora metric CONTRACT.md names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry
        self.http_requests = Counter(
            "aragora_http_requests",
            "HTTP requests answered, by method, route template and status; "
            'maintenance="true" marks refusals of planned work (maintenance mode, draining).',
            ("method", "route", "status", "maintenance"),
            registry=r,
        )
        self.http_duration = Histogram(
            "aragora_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ("method", "route"),
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.active_debates = Gauge(
            "aragora_active_debates", "Debates running now (all replicas).", registry=r
        )
        self.queued_debates = Gauge(
            "aragora_queued_debates", "Debates waiting for a worker.", registry=r
        )
        self.loop_lag = Gauge(
            "aragora_event_loop_lag_seconds",
            "How late this process's event loop runs (smoothed); above "
            "ARAGORA_MAX_LOOP_LAG_MS the replica claims no new debate.",
            registry=r,
        )
        self.debates = Counter(
            "aragora_debates",
            "Debates finished in this process, by outcome.",
            ("outcome",),
            registry=r,
        )
        self.agent_requests = Counter(
            "aragora_agent_requests",
            "Agent calls, by provider and outcome (success or the failure kind).",
            ("provider", "outcome"),
            registry=r,
        )
        self.agent_seconds = Histogram(
            "aragora_agent_response_seconds",
            "Time an agent call took, by provider.",
            ("provider",),
            buckets=_AGENT_BUCKETS,
            registry=r,
        )
        self.agent_queue_seconds = Histogram(
            "aragora_agent_queue_seconds",
            "Time an agent call waited in Aragora's own provider limits (slots, start rate, "
            "pauses a provider asked for) before it was sent, by provider and model.",
            ("provider", "model"),
            buckets=_QUEUE_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "aragora_tokens",
            "LLM tokens used, by provider and direction (input or output).",
            ("provider", "direction"),
            registry=r,
        )
        self.cost = Counter(
            "aragora_cost_usd",
            "Spend on LLM calls in US dollars, by provider.",
            ("provider",),
            registry=r,
        )
        self.websocket_connections = Gauge(
            "aragora_websocket_connections", "Open WebSocket connections.", registry=r
        )
        self.webhook_deliveries = Counter(
            "aragora_webhook_deliveries",
            "Webhook delivery attempts made by this process, by outcome "
            "(delivered, retry: failed and due again, failed: given up).",
            ("outcome",),
            registry=r,
        )
        for outcome in sorted(_OUTCOMES):  # every outcome's series exists from the start
            self.debates.labels(outcome)
        for outcome in ("delivered", "failed", "retry"):
            self.webhook_deliveries.labels(outcome)
        self._http_children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        self._panels: OrderedDict[str, dict[str, str]] = OrderedDict()

    def observe_webhook(self, outcome: str) -> None:
        """Count one webhook delivery attempt by its outcome."""
        self.webhook_deliveries.labels(outcome).inc()

    # --- HTTP -----------------------------------------------------------------------------
    def record_http(
        self, method: str, route: str, status: int, seconds: float, *, maintenance: bool = False
    ) -> None:
        """Count one answered request (children cached: ``labels()`` is the slow part);
        ``maintenance`` marks a refusal because of planned work (maintenance, draining)."""
        key = (method, route, str(status), "true" if maintenance else "false")
        children = self._http_children.get(key)
        if children is None:
            children = (
                self.http_requests.labels(*key),
                self.http_duration.labels(method, route),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    # --- events ---------------------------------------------------------------------------
    def observe_event(self, event: Event) -> None:
        """Update debate and agent metrics from one appended event (``Node.observe``)."""
        kind = event.type
        if kind == "token":
            return
        data = event.data
        if kind in _ANSWER_EVENTS:
            provider = str(
                data.get("provider") or self._provider_of(event.debate_id, data.get("agent"))
            )
            self.agent_requests.labels(provider, "success").inc()
            seconds = data.get("duration_seconds")
            if isinstance(seconds, int | float):
                self.agent_seconds.labels(provider).observe(seconds)
            queued = data.get("queued_ms")
            if isinstance(queued, int | float):
                model = str(data.get("model") or "unknown")
                self.agent_queue_seconds.labels(provider, model).observe(queued / 1000)
            usage = data.get("usage")
            if isinstance(usage, Mapping):
                self._usage(provider, usage)
        elif kind == "agent_error":
            provider = self._provider_of(event.debate_id, data.get("agent") or event.agent)
            outcome = str(data.get("kind") or "error")
            self.agent_requests.labels(
                provider, outcome if outcome in _ERROR_KINDS else "error"
            ).inc()
        elif kind == "debate_start":
            self._remember_panel(event.debate_id, data.get("agents"))
        elif kind == "debate_end":
            self._panels.pop(event.debate_id, None)
            result = data.get("result")
            status = data.get("status")
            if status is None and isinstance(result, Mapping):
                status = result.get("status")
            self.debates.labels(status if status in _OUTCOMES else "failed").inc()

    def _usage(self, provider: str, usage: Mapping[str, Any]) -> None:
        # Zero increments too, so each provider's series exists from its first call on.
        for field, direction in (("input_tokens", "input"), ("output_tokens", "output")):
            self.tokens.labels(provider, direction).inc(_amount(usage.get(field)))
        self.cost.labels(provider).inc(_amount(usage.get("cost_usd")))

    def _remember_panel(self, debate_id: str, agents: object) -> None:
        if not isinstance(agents, list):
            return
        panel = {
            str(a["name"]): str(a.get("provider") or "unknown")
            for a in agents
            if isinstance(a, Mapping) and "name" in a
        }
        self._panels[debate_id] = panel
        while len(self._panels) > _MAX_PANELS:
            self._panels.popitem(last=False)

    def _provider_of(self, debate_id: str, agent: object) -> str:
        panel = self._panels.get(debate_id)
        if panel is None or not isinstance(agent, str):
            return "unknown"
        return panel.get(agent, "unknown")

    # --- scrape ---------------------------------------------------------------------------
    def set_debate_gauges(self, stats: Mapping[str, Any]) -> None:
        """Set the debate gauges from the service's debate counts (or stats document)."""
        for gauge, key in (
            (self.active_debates, "active_debates"),
            (self.queued_debates, "queued_debates"),
        ):
            value = stats.get(key)
            if isinstance(value, int | float):
                gauge.set(value)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def _amount(value: object) -> float:
    """``value`` if it is a positive number, else 0 (counters only go up)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return 0.0


class HttpMetrics:
    """Pure ASGI middleware recording ``aragora_http_requests_total`` and
    ``aragora_http_request_duration_seconds`` for every HTTP request, and writing its
    access-log line (:func:`aragora.logs.log_request`)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"]
            known = method if method in _METHODS else "OTHER"
            route = route_template(scope)
            seconds = time.perf_counter() - started
            self.metrics.record_http(
                known, route, status, seconds, maintenance=scope.get(MAINTENANCE_KEY) is True
            )
            log_request(known, route, status, seconds, str(scope.get(REQUEST_ID_KEY, "")))


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (``/api/v1/debates/{debate_id}``:
    the app's routes are flat, see ``aragora.server.app.flatten``), or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"
