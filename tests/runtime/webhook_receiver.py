"""A webhook receiver for tests: a real HTTP server (uvicorn) on 127.0.0.1, a free port,
that checks every request's signature as a receiver should and answers with scripted
statuses (then 200)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from aragora.runtime.webhook_payloads import verify
from tests.uvicorn_server import read_body, serving


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records what arrives; ``statuses`` are answered first, in order, then 200."""

    secret: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        ok = verify(self.secret, headers.get("x-aragora-signature", ""), body, now=int(time.time()))
        self.received.append(Received(headers, body, ok))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok" if status < 400 else b"boom"})

    async def wait_for(self, count: int, within: float = 20) -> list[Received]:
        """Wait until ``count`` requests have arrived."""
        deadline = asyncio.get_running_loop().time() + within
        while len(self.received) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"{len(self.received)} of {count} deliveries arrived"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)
        return self.received


@contextlib.asynccontextmanager
async def running_receiver(receiver: Receiver | None = None) -> AsyncIterator[Receiver]:
    """``receiver`` served on 127.0.0.1 (a free port); its ``url`` set to ``/hook`` there."""
    receiver = receiver or Receiver()
    config = uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with serving(config) as port:
        receiver.url = f"http://127.0.0.1:{port}/hook"
        yield receiver
