"""``aragora debate "TASK" --server URL``: submit the debate to a running ``aragora serve``
and follow it over the WebSocket, shown exactly as an in-process run is."""

from __future__ import annotations

import asyncio
import sys
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from aragora.cli.live import LiveView
from aragora.cli.summary import print_outcome
from aragora.cli.text import Style
from aragora.errors import AragoraError, InvalidInputError, SystemFailure

__all__ = ["base_url", "run_remote_debate"]

_TIMEOUT = httpx.Timeout(30.0)
# Receipt and knowledge are added to the document just after the debate's last event;
# how long to wait for them before printing the document as it stands.
_FINISHING_SECONDS = 5.0


async def run_remote_debate(
    base: str, body: dict[str, Any], *, token: str | None, view: LiveView | None, style: Style
) -> int:
    """Create the debate on the server at ``base`` (see :func:`base_url`), show its stream
    in ``view`` (``None``: print only the final document, as JSON) and then its summary;
    the exit status of :func:`print_outcome`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=_TIMEOUT) as client:
        created = await _call(client, "POST", "/api/v1/debates", json=body)
        debate_id = str(created["debate_id"])
        if view is None:
            print(f"aragora: following debate {debate_id} on {base}", file=sys.stderr)
        try:
            await _follow(base, debate_id, token, view)
        finally:
            if view is not None:
                view.close()
        document = await _final_document(client, debate_id)
    return print_outcome(
        document,
        sys.stdout,
        sys.stderr,
        style=style,
        as_json=view is None,
        pointer=f"GET {base}/api/v1/debates/{debate_id}/messages",
    )


def base_url(server: str) -> str:
    """``--server`` as a base URL; :class:`InvalidInputError` unless it is http(s)."""
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


async def _final_document(client: httpx.AsyncClient, debate_id: str) -> dict[str, Any]:
    """The document once the server has finished it: a completed debate's receipt and
    knowledge items are added just after its last event, so wait briefly for them."""
    path = f"/api/v1/debates/{debate_id}"
    document: dict[str, Any] = await _call(client, "GET", path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _FINISHING_SECONDS
    while (
        document.get("status") == "completed"
        and "receipt" not in document
        and loop.time() < deadline
    ):
        await asyncio.sleep(0.1)
        document = await _call(client, "GET", path)
    return document


async def _follow(base: str, debate_id: str, token: str | None, view: LiveView | None) -> None:
    """Show frames until ``debate_end``; reconnect from the last seq if the socket drops."""
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
                    seq = frame.get("seq")
                    if view is not None:
                        view.frame(frame)
                    if isinstance(seq, int):
                        since = seq
                    if frame.get("type") == "debate_end":
                        return
        except (OSError, WebSocketException) as exc:
            if view is not None:
                view.line(f"aragora: stream interrupted ({exc}); reconnecting")
        except AragoraError:
            raise
    raise SystemFailure(
        f"lost the stream of debate {debate_id}; see GET /api/v1/debates/{debate_id}"
    )
