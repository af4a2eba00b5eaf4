"""``aragora worker``: debate workers without HTTP (scale-out replicas). They claim
queued debates from the shared database, publish events to Redis when it is configured,
and drain on SIGTERM like ``aragora serve`` does."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import signal
import sys
from typing import Any

from aragora import wiring
from aragora.logs import configure_logging, log_event
from aragora.migrations.runner import ensure_schema
from aragora.settings import load_settings

__all__ = ["add_worker_command"]

_log = logging.getLogger("aragora.worker")


def add_worker_command(commands: Any) -> None:
    """Register ``worker`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "worker",
        help="run debate workers only (no HTTP), for scale-out replicas",
        description="Claim and run queued debates from the shared database until SIGTERM "
        "or Ctrl-C; running debates then get ARAGORA_SHUTDOWN_GRACE seconds and the rest "
        "are left for another worker to resume.",
    )
    parser.set_defaults(handler=run_worker)


async def run_worker(args: argparse.Namespace) -> int:
    """Run until a signal; 0 after a clean drain."""
    settings = load_settings()
    configure_logging(
        settings.log_level,
        settings.log_format,
        stream=sys.stderr,
        secrets=settings.secret_values(),
        libraries=settings.log_libraries,
    )
    check = functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate)
    node = await wiring.open_node(settings, check_schema=check)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        node.start()
        log_event(
            _log,
            "worker_started",
            worker=node.workers.owner,
            max_concurrent=settings.max_concurrent_debates,
        )
        print(f"aragora: worker {node.workers.owner} claiming debates", file=sys.stderr)
        await stop.wait()
        for sig in signals:  # a second signal now stops at once
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await node.drain(settings.shutdown_grace)
    finally:
        await node.close()
    log_event(_log, "worker_stopped", worker=node.workers.owner)
    return 0
