"""Whether an endpoint answers, asked without spending a token.

``aragora agents`` and ``GET /api/v1/agents`` must not call a dead endpoint ``ready``. A
probe is one cheap authenticated read on the endpoint's own pooled client (auth headers
included): ``GET {base}/models`` for the OpenAI wire (OpenAI, Ollama's ``/v1``, any
OpenAI-compatible server such as llama.cpp or vLLM), ``GET {base}/key`` for OpenRouter
(whose model list is public), ``GET /v1/models`` for Anthropic and ``GET /v1beta/models``
for Gemini. Its outcome, with a short timeout:

- no HTTP answer (refused, reset, timed out) — ``unreachable``;
- 401 or 403 — ``auth_failed`` (the key is wrong: every call would fail);
- 5xx — ``unhealthy`` (e.g. llama.cpp's ``503 Loading model`` while it starts);
- anything else, a 404 from a server without a model list included — ``ready``: the server
  is there and accepts the key.

:class:`ProbeCache` keeps each endpoint's last result for ``ttl`` seconds and runs at most
one probe per endpoint at a time, so a busy page of agents costs one request per endpoint
per ``ttl``, and it can refresh stale results in the background for callers that must not
wait (the HTTP catalog).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aragora.agents.wire.http1 import TransportError
from aragora.agents.wire.transport import ClientPool, scrub

__all__ = ["Probe", "ProbeCache", "probe_endpoint", "probe_path"]

_log = logging.getLogger("aragora.agents")

_PATHS = {"anthropic": "/v1/models", "gemini": "/v1beta/models", "openrouter": "key"}


def probe_path(provider: str) -> str:
    """The read ``provider``'s probe makes, relative to its base URL (every provider but
    Anthropic and Gemini speaks the OpenAI wire, whose base URL ends in ``/v1``):
    OpenRouter's model list needs no key, so its probe reads the key's own record."""
    return _PATHS.get(provider, "models")


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's outcome (see the module docstring for ``status``)."""

    endpoint: str
    status: str
    detail: str = ""
    http_status: int | None = None
    seconds: float = 0.0
    checked_at: datetime | None = None
    taken: float = 0.0
    """When it was taken, by the :class:`ProbeCache`'s monotonic clock."""

    @property
    def reachable(self) -> bool:
        return self.status != "unreachable"


async def probe_endpoint(
    client: ClientPool,
    path: str,
    *,
    endpoint: str,
    within: float = 3.0,
    secrets: Iterable[str] = (),
) -> Probe:
    """GET ``path`` on ``client`` within ``within`` seconds and classify the outcome.
    Never raises for what the endpoint does."""
    clock = time.perf_counter
    started = clock()
    now = datetime.now(UTC)
    try:
        response = await client.get(path, within=within)
    except TransportError as exc:
        reason = scrub(str(exc) or "no answer", secrets)
        detail = f"cannot reach {endpoint}: {type(exc).__name__}: {reason}"
        return Probe(endpoint, "unreachable", detail, None, clock() - started, now)
    seconds = clock() - started
    status = response.status_code
    said = scrub(f"{status} {_message(response.content)}".strip(), secrets)
    if status in (401, 403):
        return Probe(endpoint, "auth_failed", f"GET {path}: {said}", status, seconds, now)
    if status >= 500:
        return Probe(endpoint, "unhealthy", f"GET {path}: {said}", status, seconds, now)
    detail = "" if status < 300 else f"reachable (GET {path}: {status})"
    return Probe(endpoint, "ready", detail, status, seconds, now)


def _message(body: bytes) -> str:
    """The error message of a JSON error body (any provider's shape), else its start."""
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        return body[:120].decode("utf-8", "replace")
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    if isinstance(error, dict):
        return str(error.get("message") or "")
    return "" if error is None else str(error)[:120]


class ProbeCache:
    """Each endpoint's last :class:`Probe`, fresh for ``ttl`` seconds."""

    def __init__(self, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._results: dict[str, Probe] = {}
        self._running: dict[str, asyncio.Task[Probe]] = {}

    def last(self, endpoint: str) -> Probe | None:
        """The latest result for ``endpoint`` (however old), or None."""
        return self._results.get(endpoint)

    def fresh(self, endpoint: str) -> bool:
        """Whether ``endpoint`` has a result younger than ``ttl``."""
        result = self._results.get(endpoint)
        return result is not None and self._clock() - result.taken < self._ttl

    async def check(self, endpoint: str, run: Callable[[], Awaitable[Probe]]) -> Probe:
        """A fresh result for ``endpoint``: the cached one, the probe already running, or
        a new ``run()``."""
        result = self._results.get(endpoint)
        if result is not None and self.fresh(endpoint):
            return result
        return await asyncio.shield(self._start(endpoint, run))

    def refresh(self, endpoint: str, run: Callable[[], Awaitable[Probe]]) -> None:
        """Start probing ``endpoint`` in the background when its result is stale and no
        probe runs (nothing without a running event loop)."""
        if self.fresh(endpoint):
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._start(endpoint, run)

    def _start(self, endpoint: str, run: Callable[[], Awaitable[Probe]]) -> asyncio.Task[Probe]:
        task = self._running.get(endpoint)
        if task is None:

            async def probe() -> Probe:
                try:
                    result = replace(await run(), taken=self._clock())
                    self._results[endpoint] = result
                    return result
                finally:
                    self._running.pop(endpoint, None)

            task = asyncio.ensure_future(probe())
            task.add_done_callback(_retrieve)  # a background probe's bug must not go unseen
            self._running[endpoint] = task
        return task

    async def aclose(self) -> None:
        """Cancel the probes still running."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _retrieve(task: asyncio.Task[Probe]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("probe failed unexpectedly", exc_info=task.exception())
