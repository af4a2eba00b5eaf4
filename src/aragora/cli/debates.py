"""``aragora debates list`` and ``aragora debates show ID``: the stored debates, read
through the same service as ``GET /api/v1/debates`` on the database of the current
settings (the server's, whether or not it is running)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aragora.cli.text import Style, one_line, shorten, wrapped

__all__ = ["add_debates_command"]

_STATUSES = ("queued", "running", "completed", "failed", "cancelled")
WIDTH = 96


def add_debates_command(commands: Any) -> None:
    """Register ``debates list`` and ``debates show`` on the sub-command parser."""
    parser = commands.add_parser(
        "debates",
        help="list the stored debates, or show one in full",
        description="Read the stored debates (the server's database: ARAGORA_DATABASE_URL, "
        "else SQLite in ARAGORA_DATA_DIR).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the newest debates first")
    listing.add_argument("--status", choices=_STATUSES, help="only debates in this state")
    listing.add_argument("--limit", type=int, default=20, help="how many (1..1000, default 20)")
    listing.add_argument("--json", action="store_true", help="print the list body as JSON")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one debate: every message in full, then its outcome")
    show.add_argument("debate_id", metavar="ID")
    show.add_argument(
        "--json", action="store_true", help="print the document (GET /api/v1/debates/ID)"
    )
    show.set_defaults(handler=_show)


@asynccontextmanager
async def _service() -> AsyncIterator[Any]:
    """The debate service on the configured database, with no worker claiming."""
    import functools

    from aragora import wiring
    from aragora.migrations.runner import ensure_schema
    from aragora.settings import load_settings

    settings = load_settings()
    node = await wiring.open_node(
        settings,
        check_schema=functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate),
        own_debates=frozenset(),  # read only: this process runs nothing
    )
    try:
        yield node.service
    finally:
        await node.close()


async def _list(args: argparse.Namespace) -> int:
    async with _service() as service:
        page = await service.list(status=args.status, limit=args.limit, offset=0)
    if args.json:
        print(json.dumps(page, indent=2, ensure_ascii=False))
        return 0
    for item in page["debates"]:
        print(
            f"{item['id']}  {item['status']:<9}  {one_line(item.get('mode')) or '-':<6}  "
            f"{item['created_at'][:19]}  {shorten(one_line(item.get('task')), 60, '…')}"
        )
    shown, total = page["count"], page["total"]
    print(f"({shown} of {total} debate{'s' if total != 1 else ''})", file=sys.stderr)
    return 0


async def _show(args: argparse.Namespace) -> int:
    from aragora.cli.summary import summary_lines

    async with _service() as service:
        document = await service.get(args.debate_id)
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    style = Style.for_stream(sys.stdout)
    print(style.bold(f"Debate {document.get('id')}: {one_line(document.get('task'))}"))
    status = one_line(document.get("status"))
    if document.get("awaiting_resumption"):
        status += " (awaiting resumption: its worker stopped; another will resume it)"
    print(f"Status: {status} · mode {one_line(document.get('mode'))}")
    for message in document.get("messages") or ():
        if isinstance(message, Mapping):
            for line in _message_lines(message, style):
                print(line)
    for line in summary_lines(document, style, pointer="aragora debates show --json"):
        print(line)
    return 0


def _message_lines(message: Mapping[str, Any], style: Style) -> list[str]:
    """One message in full (cleaned of control characters, never shortened)."""
    role = one_line(message.get("role"))
    head = f"[round {message.get('round')}] {style.agent(one_line(message.get('agent')))} {role}"
    answer = one_line(message.get("answer") or message.get("choice"))
    lines = ["", f"{head}: {style.bold(answer)}" if answer else f"{head}:"]
    text = str(message.get("content") or "")
    lines.extend(wrapped(text, WIDTH, "    ", max_lines=10_000, pointer=""))
    return lines
