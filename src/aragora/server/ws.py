"""The WebSocket ``/ws``: a debate's events, replayed from ``since`` and then live.

Connect with ``?debate_id=ID&since=SEQ&token=T`` (or ``Authorization: Bearer T``); access
is that of a GET (a viewer token when ``ARAGORA_REQUIRE_AUTH`` is on). The server sends a
``connected`` frame first, then the debate's frames, each one JSON object
(``{"type", "debate_id", "seq", "timestamp", "round"?, "agent"?, "data"}``), as the event
log has them: no gap, no duplicate, ``debate_end`` last (one with no seq for a debate that
ended without one in its log, e.g. cancelled while queued). The connection stays open after
``debate_end`` for further subscriptions.

Client frames: ``{"type": "subscribe", "debate_id", "since"?}`` starts (or switches to)
a debate's stream; ``{"type": "unsubscribe"}`` stops it; ``{"type": "ping"}`` is answered
by ``{"type": "pong"}``. A frame that is not one of these gets an ``error`` frame
(``data: {error, code}``); the connection stays open. The server also sends protocol pings
every 20 s (uvicorn's ``ws_ping_interval``), so idle connections survive proxies.

Close codes (besides the standard ones):

====  ====================================================================================
4400  bad connection parameters (``since`` not an integer 0..2**31-1, or a ``debate_id``
      that is longer than 200 characters or holds a NUL)
4401  missing or invalid token
4403  the token's role may not read debates
4404  unknown debate
4429  the client opened too many connections lately (``ARAGORA_RATE_LIMIT``); the
      reason says ``rate limited; retry after <seconds> s``
4008  the client fell behind (its queue overflowed); the reason says
      ``fell behind; reconnect with since=<last seq sent>``, and doing so loses nothing
====  ====================================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from aragora import __version__
from aragora.errors import (
    AragoraError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SlowConsumerError,
    UserError,
)
from aragora.logs import log_event
from aragora.runtime.service import DebateService
from aragora.server.auth import Access, authorize
from aragora.server.ratelimit import retry_after_header
from aragora.server.routes import MAX_INT
from aragora.server.state import AppState, app_state

__all__ = [
    "CLOSE_BAD_REQUEST",
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_FOUND",
    "CLOSE_RATE_LIMITED",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAUTHORIZED",
    "router",
]

logger = logging.getLogger("aragora.server.ws")

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
MAX_DEBATE_ID = 200
CLOSE_SLOW_CONSUMER = 4008

router = APIRouter()


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    """Stream debate events to one client (see the module docstring)."""
    await _Session(websocket, app_state(websocket)).run()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _frame(kind: str, debate_id: str | None, data: dict[str, Any]) -> str:
    return orjson.dumps(
        {"type": kind, "debate_id": debate_id, "seq": None, "timestamp": _now(), "data": data}
    ).decode("utf-8")


def _since(value: object) -> int | None:
    """An integer 0..``MAX_INT`` from a query string (ASCII digits only: ``str.isdigit``
    also accepts ``²``, which ``int`` refuses) or a JSON value; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_INT:
        return value
    return None


def _debate_id(value: object) -> str | None:
    """A debate id as the HTTP routes take it (1..200 characters, no NUL); else ``None``."""
    if isinstance(value, str) and 0 < len(value) <= MAX_DEBATE_ID and "\x00" not in value:
        return value
    return None


class _Session:
    """One connection: a receive loop, and at most one stream task forwarding frames."""

    def __init__(self, websocket: WebSocket, state: AppState) -> None:
        self.ws = websocket
        self.state = state
        self.debate_id: str | None = None
        self.stream_task: asyncio.Task[None] | None = None
        self.closed = False
        self.close_reason: str | None = None

    async def run(self) -> None:
        ws = self.ws
        metrics = self.state.metrics
        await ws.accept()
        metrics.websocket_connections.inc()
        params = ws.query_params
        requested = params.get("debate_id") or None
        reason = "client_closed"
        try:
            throttle = self.state.throttle
            if throttle is not None:
                wait = await throttle.check(ws, throttle.requests, query_token=True)
                if wait > 0:
                    reason = "rate_limited"
                    error = RateLimitedError(
                        f"rate limited; retry after {retry_after_header(wait)} s",
                        retry_after=wait,
                    )
                    await self.fail(None, error, CLOSE_RATE_LIMITED)
                    return
            node = self.state.ready_node()
            try:
                await authorize(
                    ws,
                    self.state.ready_authenticator(),
                    Access.READ,
                    require_auth=self.state.require_auth,
                    query_token=True,
                )
            except AuthenticationError as exc:
                reason = "unauthorized"
                await self.fail(requested, exc, CLOSE_UNAUTHORIZED)
                return
            except PermissionDeniedError as exc:
                reason = "forbidden"
                await self.fail(requested, exc, CLOSE_FORBIDDEN)
                return
            log_event(logger, "websocket", action="connect", debate_id=requested)
            await self.send(_frame("connected", requested, {"server_version": __version__}))
            if requested is not None:
                since = _since(params.get("since", "0"))
                if _debate_id(requested) is None or since is None:
                    reason = "bad_request"
                    await self.refuse_parameters(requested)
                    return
                self.subscribe(node.service, requested, since)
            reason = await self.receive_loop(node.service)
        except (WebSocketDisconnect, OSError):
            reason = self.close_reason or "client_closed"
        except AragoraError as exc:  # the node went away (shutdown) or storage failed
            reason = exc.code
            await self.close(1011, "server error")
        finally:
            await self.stop_stream()
            metrics.websocket_connections.dec()
            log_event(
                logger,
                "websocket",
                action="disconnect",
                debate_id=self.debate_id or requested,
                reason=reason,
            )

    async def refuse_parameters(self, requested: str) -> None:
        """Close 4400 naming the first bad connection parameter."""
        if _debate_id(requested) is None:
            message = f"debate_id must be 1..{MAX_DEBATE_ID} characters without NUL"
            echoed = None  # not echoed back: it is not a debate id
        else:
            message = f"since must be an integer from 0 to {MAX_INT}"
            echoed = requested
        await self.fail(echoed, UserError(message, code="invalid_input"), CLOSE_BAD_REQUEST)

    async def receive_loop(self, service: DebateService) -> str:
        """Handle client frames until the connection ends; returns why it ended."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                if self.close_reason is not None:
                    return self.close_reason
                return "server_shutdown" if message.get("code") == 1012 else "client_closed"
            raw = message.get("text")
            if raw is None and message.get("bytes") is not None:
                raw = message["bytes"].decode("utf-8", "replace")
            await self.handle(service, raw or "")

    async def handle(self, service: DebateService, raw: str) -> None:
        """Answer one client frame."""
        try:
            frame = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.error("frames must be JSON objects", "invalid_frame")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "ping":
            await self.send(_frame("pong", self.debate_id, {}))
        elif kind == "subscribe":
            debate_id = _debate_id(frame.get("debate_id"))
            since = _since(frame.get("since", 0))
            if debate_id is None:
                await self.error(
                    f"subscribe needs a debate_id of 1..{MAX_DEBATE_ID} characters without NUL",
                    "invalid_frame",
                )
            elif since is None:
                await self.error(f"since must be an integer from 0 to {MAX_INT}", "invalid_frame")
            else:
                await self.stop_stream()
                self.subscribe(service, debate_id, since)
        elif kind == "unsubscribe":
            await self.stop_stream()
            self.debate_id = None
        elif isinstance(kind, str):
            await self.error(f"unknown frame type {kind[:40]!r}", "unknown_frame_type")
        else:
            await self.error("frames must be JSON objects with a type", "invalid_frame")

    def subscribe(self, service: DebateService, debate_id: str, since: int) -> None:
        """Start forwarding ``debate_id``'s frames after ``since``."""
        self.debate_id = debate_id
        self.stream_task = asyncio.create_task(self.forward(service, debate_id, since))

    async def forward(self, service: DebateService, debate_id: str, since: int) -> None:
        """Send the stream's frames; close the connection when the client fell behind or
        the debate does not exist."""
        last = since
        send_text = self.ws.send_text
        stream = service.stream(debate_id, since)
        try:
            async for frame in stream:
                await send_text(frame.text)
                if frame.seq is not None:
                    last = frame.seq
        except NotFoundError as exc:
            self.close_reason = "unknown_debate"
            await self.error(str(exc), exc.code, debate_id)
            await self.close(CLOSE_NOT_FOUND, "unknown debate")
        except SlowConsumerError:
            self.close_reason = "slow_consumer"
            await self.close(CLOSE_SLOW_CONSUMER, f"fell behind; reconnect with since={last}")
        except UserError as exc:
            await self.error(exc.message, exc.code, debate_id)
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # the client left (or we closed) while a frame was on its way
        except Exception as exc:  # storage failed: tell the client where to resume
            log_event(
                logger, "websocket_stream_failed", logging.WARNING, debate_id=debate_id, error=exc
            )
            self.close_reason = exc.code if isinstance(exc, AragoraError) else "internal_error"
            await self.close(1011, f"stream failed; reconnect with since={last}")
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def stop_stream(self) -> None:
        """Cancel the current stream task, if any, and wait for it to end."""
        task, self.stream_task = self.stream_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def fail(self, debate_id: str | None, exc: AragoraError, code: int) -> None:
        """Send an error frame for ``exc`` and close with ``code``."""
        await self.error(exc.message, exc.code, debate_id)
        await self.close(code, exc.message[:100])

    async def error(self, message: str, code: str, debate_id: str | None = None) -> None:
        """Send an ``error`` frame (the connection stays open)."""
        data = {"error": message, "code": code}
        await self.send(_frame("error", debate_id or self.debate_id, data))

    async def send(self, text: str) -> None:
        """Send one text frame unless the connection is closing."""
        if self.closed:
            return
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await self.ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        """Close the connection once."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
            await self.ws.close(code, reason)
