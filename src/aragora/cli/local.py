"""``aragora debate`` in this process: the server's service and storage, one debate.

The command opens the same runtime node as ``aragora serve`` (:func:`aragora.wiring.open_node`)
on the same database (``ARAGORA_DATABASE_URL``, else SQLite in ``ARAGORA_DATA_DIR``; with
``--memory`` an in-memory store), creates the debate through
:class:`~aragora.runtime.service.DebateService`, runs it with its own worker, and follows
the same stream the WebSocket serves. The node claims only the debate it created, so a
command opened on the database of a running server never takes the server's queued or
abandoned debates; and should the server claim this one first, the command follows it
there.

Ctrl-C cancels the debate (it ends as ``cancelled`` with its partial result, which is
printed); a second Ctrl-C stops at once and leaves the debate to be finished as cancelled
by whichever worker resumes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from aragora import wiring
from aragora.cli.live import LiveView
from aragora.cli.summary import print_outcome
from aragora.cli.text import Style
from aragora.errors import ConflictError
from aragora.logs import log_event
from aragora.migrations.runner import ensure_schema
from aragora.runtime.node import Node
from aragora.settings import Settings
from aragora.storage.memory.storage import memory_storage

__all__ = ["run_local_debate"]

_log = logging.getLogger("aragora.cli")
INTERRUPTED = 130


async def run_local_debate(
    settings: Settings,
    body: dict[str, Any],
    *,
    seed: int | None,
    memory: bool,
    view: LiveView | None,
) -> int:
    """Create, run and follow the debate ``body`` describes; print its document (no
    ``view``: as JSON) or summary. The exit status of :func:`print_outcome`, or 130 when
    interrupted."""
    own: set[str] = set()
    node = await wiring.open_node(
        settings,
        check_schema=None
        if memory
        else functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate),
        storage=memory_storage(now=_utc_now) if memory else None,
        own_debates=own,
    )
    stopped = False
    try:
        created = await node.service.create(body, seed=seed)
        debate_id = str(created["debate_id"])
        own.add(debate_id)
        node.start()
        log_event(_log, "cli_debate_created", logging.DEBUG, debate_id=debate_id, memory=memory)
        with _interrupts(node, debate_id, view) as interrupt:
            try:
                async for frame in node.service.stream(debate_id):
                    if view is not None:
                        view.frame(orjson.loads(frame.text))
                document = await node.service.settled(debate_id, within=settings.lease_ttl + 5)
            except asyncio.CancelledError:
                if not interrupt.hard:
                    raise
                stopped = True
        if stopped:
            print(
                f"aragora: stopped; debate {debate_id} is cancelled when it is resumed",
                file=sys.stderr,
            )
            return INTERRUPTED
    finally:
        if view is not None:
            view.close()
        await node.close()
    code = print_outcome(
        document,
        sys.stdout,
        sys.stderr,
        style=Style.for_stream(sys.stdout),
        as_json=view is None,
        pointer="rerun with --json" if memory else f"aragora debates show {debate_id}",
    )
    return INTERRUPTED if interrupt.soft and document.get("status") == "cancelled" else code


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Interrupt:
    soft = False
    hard = False


async def _cancel(node: Node[wiring.Services], debate_id: str) -> None:
    with contextlib.suppress(ConflictError):  # it ended meanwhile: nothing to cancel
        await node.service.cancel(debate_id)


@contextlib.contextmanager
def _interrupts(
    node: Node[wiring.Services], debate_id: str, view: LiveView | None
) -> Iterator[_Interrupt]:
    """Ctrl-C cancels the debate through the service; a second one cancels this
    command's task. Signal handlers exist only on the main thread of a Unix loop; without
    them Ctrl-C stops the command as usual."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    state = _Interrupt()
    pending: set[asyncio.Task[Any]] = set()

    def on_interrupt() -> None:
        if state.soft:
            state.hard = True
            if task is not None:
                task.cancel()
            return
        state.soft = True
        note = "  ! interrupted: cancelling the debate (Ctrl-C again to stop at once)"
        if view is not None:
            view.line(note)
        else:
            print(note.strip(), file=sys.stderr)
        cancelling = loop.create_task(_cancel(node, debate_id))
        pending.add(cancelling)
        cancelling.add_done_callback(pending.discard)

    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        installed = True
    try:
        yield state
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
