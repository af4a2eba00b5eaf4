"""``aragora maintenance on|off|status``: the maintenance flag, straight on the database.

While it is on, every replica sharing the database refuses new debates with 503 and
``Retry-After``, lets running and queued ones finish, and reports ``"maintenance": true``
in health. No running server is needed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from aragora.cli.open_storage import open_storage
from aragora.runtime.maintenance import read_maintenance, write_maintenance

__all__ = ["add_maintenance_command"]


def add_maintenance_command(commands: Any) -> None:
    """Register ``maintenance`` (``on``, ``off``, ``status``) on the sub-command parser."""
    maintenance = commands.add_parser(
        "maintenance",
        help="turn maintenance mode on or off, or show it",
        description="Maintenance mode for every replica on the database of "
        "ARAGORA_DATABASE_URL: new debates get 503 while running ones finish.",
    )
    actions = maintenance.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(maintenance)
    )
    on = actions.add_parser(
        "on",
        help="refuse new debates (503 with Retry-After)",
        description="Turn maintenance mode on: new debates get 503; running and queued "
        "debates finish.",
    )
    on.add_argument("--message", help="what clients are told, e.g. the expected end")
    on.set_defaults(handler=_on)

    off = actions.add_parser("off", help="accept new debates again")
    off.set_defaults(handler=_off)

    status = actions.add_parser("status", help="show whether maintenance mode is on")
    status.add_argument("--json", action="store_true", help='print {"enabled", "message"}')
    status.set_defaults(handler=_status)


async def _on(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        flag = await write_maintenance(storage.settings, True, args.message)
    _print(flag)
    return 0


async def _off(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        flag = await write_maintenance(storage.settings, False, None)
    _print(flag)
    return 0


async def _status(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        flag = await read_maintenance(storage.settings)
    if args.json:
        print(json.dumps(flag))
    else:
        _print(flag)
    return 0


def _print(flag: dict[str, Any]) -> None:
    if not flag["enabled"]:
        print("maintenance mode: disabled (new debates are accepted)")
        return
    print("maintenance mode: enabled (new debates get 503; running ones finish)")
    if flag["message"]:
        print(f"message: {flag['message']}")
