"""``aragora serve [--host H] [--port P]``: HTTP + WebSocket + debate workers."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Coroutine
from typing import Any

from aragora.settings import load_settings

__all__ = ["add_serve_command"]


def add_serve_command(commands: Any) -> None:
    """Register ``serve`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "serve",
        help="run the HTTP + WebSocket server and the debate workers",
        description="Serve the API, the WebSocket and the debate workers in one process "
        "(embedded SQLite in ARAGORA_DATA_DIR unless ARAGORA_DATABASE_URL is set). SIGTERM "
        "drains: running debates get ARAGORA_SHUTDOWN_GRACE seconds, the rest resume later.",
    )
    parser.add_argument("--host", help="address to bind (default: ARAGORA_HOST, 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, help="port to bind (default: ARAGORA_PORT, 8080; 0 picks one)"
    )
    parser.set_defaults(handler=_serve)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, got {port}")
    return port


def _serve(args: argparse.Namespace) -> Coroutine[Any, Any, int]:
    # `aragora` runs what a handler returns with asyncio.run(); the server wants uvloop,
    # so the loop policy is set here, before that loop is created. Not `async def` for
    # that reason: the call happens before asyncio.run, the body runs inside it.
    # The start builds some hundred thousand objects that live as long as the process
    # (modules, classes, routes, schemas); the cyclic garbage collector would walk them
    # over and over on the way, a sixth of the start. It stays off until the server has
    # started, which collects once, freezes what is left and turns it back on
    # (aragora.server.main.DrainingServer.startup).
    gc.disable()
    from aragora.server.main import run_server, use_uvloop

    settings = load_settings()
    use_uvloop()
    return run_server(settings, args.host, args.port)
