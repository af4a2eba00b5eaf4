"""``aragora webhooks add|list|remove|deliveries``: webhooks, on the database directly (as
``aragora tokens`` does, no server needed) or, with ``--server URL``, through a running
server's API (an admin token in ``--token``).

Both ways apply the same rules: the URL must pass the egress rule of this process's
settings (``ARAGORA_WEBHOOK_ENDPOINTS``) or the server's; the secret is printed once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

__all__ = ["add_webhooks_command"]

_EVENTS = ("debate.completed", "debate.failed", "knowledge.conflict")


def add_webhooks_command(commands: Any) -> None:
    """Register ``webhooks`` (``add``, ``list``, ``remove``, ``deliveries``)."""
    parser = commands.add_parser(
        "webhooks",
        help="register, list and remove webhooks; show their deliveries",
        description="Webhooks: signed POSTs to your endpoint when debates complete or fail "
        "or contradict past decisions. Straight on the database of ARAGORA_DATABASE_URL, or "
        "with --server through a running server's API (admin token).",
    )
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(parser)
    )

    def remote_options(action: argparse.ArgumentParser) -> None:
        action.add_argument("--server", metavar="URL", help="a running server, e.g. http://...")
        action.add_argument("--token", help="admin API token for --server")
        action.add_argument("--json", action="store_true", help="print the answer as JSON")

    add = actions.add_parser(
        "add",
        help="register an endpoint and print its signing secret (shown only this once)",
        description="Register URL for the events given with --event (repeat it).",
    )
    add.add_argument("url", metavar="URL")
    add.add_argument(
        "--event",
        dest="events",
        action="append",
        choices=_EVENTS,
        required=True,
        help="an event to deliver (repeatable)",
    )
    add.add_argument("--description", help="a note for whoever reads the list")
    add.add_argument(
        "--format",
        choices=("aragora", "slack"),
        default="aragora",
        help='the body: aragora (JSON of the contract) or slack ({"text": ...})',
    )
    remote_options(add)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="every webhook (never their secrets)")
    remote_options(listing)
    listing.set_defaults(handler=_list)

    remove = actions.add_parser("remove", help="remove a webhook; pending deliveries are dropped")
    remove.add_argument("webhook_id", metavar="ID")
    remote_options(remove)
    remove.set_defaults(handler=_remove)

    deliveries = actions.add_parser(
        "deliveries", help="a webhook's deliveries, newest first, with their attempts"
    )
    deliveries.add_argument("webhook_id", metavar="ID")
    deliveries.add_argument("--limit", type=int, default=20, help="how many (1..1000)")
    remote_options(deliveries)
    deliveries.set_defaults(handler=_deliveries)


class _Webhooks(Protocol):
    """What the commands need, served locally (the service) or by a server (its API)."""

    async def add(
        self, url: str, events: list[str], *, description: str | None, format: str
    ) -> dict[str, Any]: ...

    async def list(self) -> dict[str, Any]: ...

    async def remove(self, webhook_id: str) -> None: ...

    async def deliveries(self, webhook_id: str, *, limit: int) -> dict[str, Any]: ...


@asynccontextmanager
async def _webhooks(args: argparse.Namespace) -> AsyncIterator[_Webhooks]:
    if args.server:
        from aragora.cli.webhooks_remote import RemoteWebhooks

        async with RemoteWebhooks.open(args.server, args.token) as remote:
            yield remote
        return
    from aragora import wiring
    from aragora.cli.open_storage import open_storage
    from aragora.settings import load_settings

    settings = load_settings()
    async with open_storage() as storage:
        yield wiring.build_webhooks(settings, storage)


async def _add(args: argparse.Namespace) -> int:
    async with _webhooks(args) as webhooks:
        created = await webhooks.add(
            args.url, args.events, description=args.description, format=args.format
        )
    if args.json:
        print(json.dumps(created, indent=2))
        return 0
    print(f"id:     {created['id']}")
    print(f"url:    {created['url']}")
    print(f"events: {', '.join(created['events'])}")
    print(f"secret: {created['secret']}")
    print(
        "The secret is shown only this once: check X-Aragora-Signature with it "
        "(see the README's Webhooks section).",
        file=sys.stderr,
    )
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with _webhooks(args) as webhooks:
        body = await webhooks.list()
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    if not body["webhooks"]:
        print("no webhooks; add one with: aragora webhooks add URL --event debate.completed")
        return 0
    for hook in body["webhooks"]:
        note = f"  ({hook['description']})" if hook.get("description") else ""
        print(f"{hook['id']}  {hook['format']:<7}  {','.join(hook['events'])}  {hook['url']}{note}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    async with _webhooks(args) as webhooks:
        await webhooks.remove(args.webhook_id)
    if args.json:
        print(json.dumps({"deleted": args.webhook_id}))
    else:
        print(f"removed {args.webhook_id}")
    return 0


async def _deliveries(args: argparse.Namespace) -> int:
    async with _webhooks(args) as webhooks:
        body = await webhooks.deliveries(args.webhook_id, limit=args.limit)
    if args.json:
        print(json.dumps(body, indent=2))
        return 0
    if not body["deliveries"]:
        print(f"no deliveries for {args.webhook_id} yet")
    for delivery in body["deliveries"]:
        print(
            f"{delivery['id']}  {delivery['event']:<18}  {delivery['state']:<9}  "
            f"{delivery['created_at'][:19]}  attempts: {len(delivery['attempts'])}"
        )
        for attempt in delivery["attempts"]:
            status = attempt["status_code"] if attempt["status_code"] is not None else "-"
            error = f"  {attempt['error']}" if attempt["error"] else ""
            print(
                f"    #{attempt['number']}  {attempt['at'][:19]}  {status}  "
                f"{attempt['duration_ms']:.0f} ms{error}"
            )
        if delivery["state"] == "pending" and delivery["next_attempt_at"]:
            print(f"    next attempt at {delivery['next_attempt_at'][:19]}")
    return 0
