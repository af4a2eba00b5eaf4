"""Run the server: ``aragora serve`` (uvicorn on uvloop + httptools, one process).

Shutdown is a drain, not a cut: the first SIGTERM or SIGINT turns readiness to 503 at
once, stops claiming debates, gives running debates ``ARAGORA_SHUTDOWN_GRACE`` seconds to
finish and leaves the rest resumable by another replica or the next start; then the
server exits with status 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import socket
import sys
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn
import uvloop
from starlette.types import ASGIApp

from aragora import wiring
from aragora.errors import AragoraError, ConfigurationError
from aragora.logs import configure_logging, log_event
from aragora.migrations.runner import ensure_schema
from aragora.runtime.auth import AdminToken, ensure_admin_token
from aragora.runtime.node import Node
from aragora.server.app import create_app
from aragora.server.startup import (
    admin_token_missing,
    check_exposure,
    describe_bus,
    describe_storage,
    how_to_make_an_admin_token,
)
from aragora.settings import Settings

__all__ = ["GC_THRESHOLDS", "DrainingServer", "run_server", "serve", "server_config", "use_uvloop"]

logger = logging.getLogger("aragora.server")

WS_PING_INTERVAL = 20.0
"""Seconds between protocol pings on idle WebSockets (CONTRACT: at least every 20 s)."""
WS_PING_TIMEOUT = 20.0
WS_MAX_MESSAGE = 65_536
"""Largest client frame accepted (clients send only small control frames)."""
GRACEFUL_CLOSE_TIMEOUT = 5
"""Seconds uvicorn waits for open connections after the drain before closing them."""
KEEP_ALIVE_TIMEOUT = 75
"""Seconds an idle HTTP connection stays open (uvicorn's default is 5). Longer than the
usual proxies' idle timeouts (60 s), so the client or proxy closes an idle connection, not
the server: a server closing one just as a request arrives on it fails that request, and
a POST cannot safely be retried (seen as connection resets under bursts at 5 s)."""


GC_THRESHOLDS = (700, 10, 100)
"""The collector's thresholds once the server runs: Python's defaults, but a full
collection only after 100 collections of the middle generation instead of 10. A full
pass walks every object the running debates hold and stops the event loop meanwhile
(100-280 ms with a few hundred debates in flight); with the default it ran every ~3 s under
a burst and every probe that met it was late. Measured with bench/server_path.py, 1,000
debates at once on PostgreSQL, a burst with separate endpoints and then one with one
endpoint on the same replica:

- with the agents' calls on httpx, 100 passes gave GET /api/health p99 52.0 / 54.4 ms and
  peak RSS 196 / 227 MB; 300 gave 39.7 / 44.9 ms and 225 / 263 MB; 1,000 gave 44.1 / 49.3
  ms but 228 / 334 MB (garbage kept too long);
- with their own client (agents/wire/http1.py) a debate costs far less of the loop, so
  twice as many run at once: 300 passes gave 28 / 34 ms but 235 / 327 MB, 100 give
  32 / 37 ms and 216 / 267 MB."""


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first exit signal starts ``drain`` and exits after it;
    a second signal exits at once."""

    def __init__(self, config: uvicorn.Config, *, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self.on_started: Callable[[], None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until drained (or forced) out."""
        self._loop = asyncio.get_running_loop()
        try:
            await super().serve(sockets)
        finally:
            task, self._drain_task = self._drain_task, None
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then announce it (``on_started``)."""
        await super().startup(sockets)
        if not self.started:
            return
        # Everything built so far lives as long as the process: keep it out of the
        # garbage collector's full passes, which would otherwise stall requests. The
        # collector runs from here on (`aragora serve` starts with it off).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        gc.enable()
        if self.on_started is not None:
            self.on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Signal handler: the first signal schedules the drain on the loop (this runs
        between two bytecodes of whatever the loop is doing, so it only schedules); the
        next one forces the exit. The signal is not re-raised after serving, so a drained
        shutdown exits with status 0."""
        if self._loop is None or self._drain_task is not None or self.should_exit:
            self.should_exit = True
            self.force_exit = True
            return
        self._loop.call_soon_threadsafe(self._start_drain, sig)

    def _start_drain(self, sig: int) -> None:
        if self._drain_task is None and not self.should_exit:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        log_event(logger, "shutdown", signal=sig)
        try:
            await self._drain()
        except Exception as exc:  # a failed drain must not keep the process up
            log_event(logger, "drain_failed", logging.ERROR, exc_info=exc)
        finally:
            self.should_exit = True


def server_config(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> uvicorn.Config:
    """uvicorn's configuration for Aragora (the tests' live servers use it too): httptools,
    WebSockets with a protocol ping every 20 s, no access log (Aragora logs its own
    events), the peer address taken as is, and the running event loop."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="none",  # the running loop: uvloop under `aragora serve`
        http="httptools",
        # websockets' "sansio" implementation: the "websockets" one is its deprecated
        # legacy API (a DeprecationWarning on import).
        ws="websockets-sansio",
        ws_ping_interval=WS_PING_INTERVAL,
        ws_ping_timeout=WS_PING_TIMEOUT,
        # A frame goes to every subscriber of a debate: compressing it once per
        # subscriber costs more CPU than the bytes it saves (frames are small JSON).
        ws_per_message_deflate=False,
        ws_max_size=WS_MAX_MESSAGE,
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # the peer address is the peer: see aragora.server.auth
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        timeout_graceful_shutdown=GRACEFUL_CLOSE_TIMEOUT,
    )


def use_uvloop() -> None:
    """Make the next event loop ``asyncio`` creates a uvloop one (call before
    ``asyncio.run``; ``aragora serve`` does)."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from exc
    return sock


def _url(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def run_server(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Serve ``settings`` on ``host:port`` (default ``ARAGORA_HOST``/``ARAGORA_PORT``) on
    the running loop until a signal drains it; returns the exit status (0 clean, 1 when
    the server could not start). Raises :class:`AragoraError` (one readable message) when
    the port is taken, the schema is out of date, or the configuration cannot work."""
    # Everything derived from the address (whether auth is required, for the HTTP API
    # and the WebSocket alike) follows the one really bound, not ARAGORA_HOST.
    settings = settings.bound_to(host, port)
    host, port = settings.host, settings.port
    admin = ensure_admin_token(settings)
    secrets = [*settings.secret_values(), *([admin.secret] if admin else [])]
    configure_logging(
        settings.log_level,
        settings.log_format,
        stream=sys.stderr,
        secrets=secrets,
        libraries=settings.log_libraries,
        access_log=settings.access_log,
    )
    exposed = check_exposure(settings)
    sock = _bind(host, port)
    try:
        check = functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate)
        node = await wiring.open_node(settings, check_schema=check)
    except BaseException:
        sock.close()
        raise
    try:
        config = server_config(create_app(settings, node=node), host=host, port=port)
        server = DrainingServer(config, drain=lambda: node.drain(settings.shutdown_grace))
        banner = (
            f"aragora: serving on {_url(sock, host)}"
            f" (storage: {describe_storage(settings)}; bus: {describe_bus(settings)};"
            f" auth: {'required' if settings.effective_require_auth else 'off'})"
        )
        if admin and admin.path:
            banner += f" (admin token in {admin.path})"
        notices = [f"aragora: {exposed}"] if exposed else []
        if await _admin_token_missing(admin, node):
            log_event(logger, "no_admin_token", logging.WARNING)
            notices.append(f"aragora: {how_to_make_an_admin_token(settings)}")

        def started() -> None:
            # Claiming debates starts once the server answers: resuming debates left
            # running by the last start (or picking up a full queue) must not hold up
            # the start, and a debate created before then just waits for its wake-up.
            # A signal during the start already drains: nothing to claim then.
            if not node.draining:
                node.start()
            print(banner, flush=True)
            for notice in notices:
                print(notice, file=sys.stderr, flush=True)

        server.on_started = started
        try:
            await server.serve(sockets=[sock])
        except SystemExit:  # uvicorn's way of saying the application did not start
            return 1
        return 0 if server.started else 1
    finally:
        sock.close()
        await node.close()


async def _admin_token_missing(admin: AdminToken | None, node: Node[wiring.Services]) -> bool:
    try:
        return await admin_token_missing(admin, node.tokens)
    except AragoraError as exc:  # only a notice: never a reason not to start
        log_event(logger, "admin_token_check_failed", logging.WARNING, error=exc)
        return False


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Run the server on a uvloop event loop until it is drained out; returns the exit
    status (0 clean shutdown, 1 failure, with one line on stderr)."""
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(run_server(settings, host, port))
    except AragoraError as exc:
        print(f"aragora: {exc}", file=sys.stderr)
        return 1
