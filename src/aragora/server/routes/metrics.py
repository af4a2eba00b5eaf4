"""Prometheus text: ``GET /metrics`` and ``GET /api/v1/metrics/prometheus``.

Access is that of any read: open while ``ARAGORA_REQUIRE_AUTH`` is off, a viewer token
when it is on (give Prometheus one: ``authorization: {credentials_file: ...}`` in its
scrape config). Never rate limited, so a scrape always gets through."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from aragora.errors import AragoraError
from aragora.logs import log_event
from aragora.server.auth import ReadAccess
from aragora.server.metrics import CONTENT_TYPE_LATEST
from aragora.server.routes import errors
from aragora.server.state import app_state

__all__ = ["root", "router"]

logger = logging.getLogger("aragora.server")

router = APIRouter(tags=["metrics"])
root = APIRouter(tags=["metrics"])

_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        "description": "Prometheus text format.",
    },
    **errors(401, 403),
}


async def _scrape(request: Request) -> Response:
    state = app_state(request)
    node = state.node
    if node is not None:
        state.metrics.loop_lag.set(node.loop_lag)
        try:
            state.metrics.set_debate_gauges(await node.service.debate_counts())
        except AragoraError as exc:  # the database is down: serve the rest, gauges stale
            log_event(logger, "metrics_stats_failed", logging.WARNING, error=exc)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@root.get("/metrics", summary="Prometheus metrics", responses=_TEXT, response_class=Response)
async def metrics(request: Request, _: ReadAccess) -> Response:
    """Every Aragora metric and the process metrics, in Prometheus text format."""
    return await _scrape(request)


@router.get(
    "/metrics/prometheus", summary="Prometheus metrics", responses=_TEXT, response_class=Response
)
async def metrics_prometheus(request: Request, _: ReadAccess) -> Response:
    """Same as ``GET /metrics``."""
    return await _scrape(request)
