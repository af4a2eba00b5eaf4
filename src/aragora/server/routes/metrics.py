"""Prometheus text: ``GET /metrics`` and ``GET /api/v1/metrics/prometheus``. No token:
scrapers call it (keep it off the public ingress)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from aragora.errors import AragoraError
from aragora.logs import log_event
from aragora.server.metrics import CONTENT_TYPE_LATEST
from aragora.server.state import app_state

__all__ = ["root", "router"]

logger = logging.getLogger("aragora.server")

router = APIRouter(tags=["metrics"])
root = APIRouter(tags=["metrics"])

_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}
}


async def _scrape(request: Request) -> Response:
    state = app_state(request)
    node = state.node
    if node is not None:
        try:
            state.metrics.set_debate_gauges(await node.service.debate_counts())
        except AragoraError as exc:  # the database is down: serve the rest, gauges stale
            log_event(logger, "metrics_stats_failed", logging.WARNING, error=exc)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@root.get("/metrics", summary="Prometheus metrics", responses=_TEXT, response_class=Response)
async def metrics(request: Request) -> Response:
    """Every Aragora metric and the process metrics, in Prometheus text format."""
    return await _scrape(request)


@router.get(
    "/metrics/prometheus", summary="Prometheus metrics", responses=_TEXT, response_class=Response
)
async def metrics_prometheus(request: Request) -> Response:
    """Same as ``GET /metrics``."""
    return await _scrape(request)
