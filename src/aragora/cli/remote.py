"""``aragora debate "TASK" --server URL``: submit the debate to a running ``aragora serve``
and follow it over the WebSocket, printing the same progress as an in-process run."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from aragora.cli.render import ProgressPrinter, print_summary
from aragora.debate.events import Event, EventType
from aragora.errors import AragoraError, InvalidInputError, SystemFailure

__all__ = ["run_remote_debate"]

_TIMEOUT = httpx.Timeout(30.0)


async def run_remote_debate(
    server: str, body: dict[str, Any], *, token: str | None, as_json: bool
) -> int:
    """Create the debate on ``server``, stream it to stdout, print the final document or
    summary; exit status 0 when it completed, 1 otherwise."""
    base = _base_url(server)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=_TIMEOUT) as client:
        created = await _call(client, "POST", "/api/v1/debates", json=body)
        debate_id = str(created["debate_id"])
        color = sys.stdout.isatty()
        printer = None if as_json else ProgressPrinter(sys.stdout, color=color)
        if printer is None:
            print(f"aragora: following debate {debate_id} on {base}", file=sys.stderr)
        await _follow(base, debate_id, token, printer)
        document = await _call(client, "GET", f"/api/v1/debates/{debate_id}")
    if as_json:
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_summary(document, sys.stdout, color=color)
    if document.get("status") != "completed":
        reason = document.get("error") or document.get("status")
        print(f"aragora: debate {document.get('status')}: {reason}", file=sys.stderr)
        return 1
    return 0


def _base_url(server: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError(f"--server must be an http(s) URL, got {server!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise SystemFailure(f"cannot reach the server at {client.base_url}: {exc}") from exc
    if response.is_success:
        return response.json()
    try:
        message = response.json().get("error") or response.text
    except ValueError:
        message = response.text
    error = InvalidInputError if response.status_code < 500 else SystemFailure
    raise error(f"server answered {response.status_code}: {message}")


async def _follow(
    base: str, debate_id: str, token: str | None, printer: ProgressPrinter | None
) -> None:
    """Print frames until ``debate_end``; reconnect from the last seq if the socket drops."""
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    since = 0
    for _attempt in range(5):
        query = f"debate_id={quote(debate_id)}&since={since}"
        if token:
            query += f"&token={quote(token)}"
        url = urlunsplit((scheme, parts.netloc, parts.path + "/ws", query, ""))
        try:
            async with connect(url, max_size=None) as socket:
                async for raw in socket:
                    frame = orjson.loads(raw)
                    if frame.get("type") == "connected" or frame.get("debate_id") != debate_id:
                        continue
                    event = Event.from_wire(frame)
                    if printer is not None and event.seq is not None:
                        printer(event)
                    if event.seq is not None:
                        since = event.seq
                    if event.type == EventType.DEBATE_END:
                        return
        except (OSError, WebSocketException) as exc:
            if printer is not None:
                print(f"aragora: stream interrupted ({exc}); reconnecting", file=sys.stderr)
        except AragoraError:
            raise
    raise SystemFailure(
        f"lost the stream of debate {debate_id}; see GET /api/v1/debates/{debate_id}"
    )
