"""``aragora tokens create|list|revoke``: API tokens, straight on the database.

The secret is printed once, at creation; the database keeps only its SHA-256 hash, so a
lost secret is replaced by revoking the token and creating another.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from aragora.cli.open_storage import open_storage
from aragora.errors import InvalidInputError
from aragora.records.debates import ROLES, ApiToken, check_token_name

__all__ = ["add_tokens_command", "new_secret"]

SECRET_PREFIX = "arg_"


def new_secret() -> str:
    """A fresh token secret: ``arg_`` and 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def add_tokens_command(commands: Any) -> None:
    """Register ``tokens`` (``create``, ``list``, ``revoke``) on the sub-command parser."""
    tokens = commands.add_parser(
        "tokens",
        help="create, list and revoke API tokens",
        description="API tokens for the HTTP API and WebSocket, stored hashed in the "
        "database of ARAGORA_DATABASE_URL (no running server needed).",
    )
    actions = tokens.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(tokens)
    )

    create = actions.add_parser(
        "create",
        help="create a token and print its secret (shown only this once)",
        description="Create a token; its secret is printed once and stored only hashed.",
    )
    create.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    create.add_argument("--name", required=True, type=_token_name, help="who or what uses it")
    create.add_argument("--json", action="store_true", help="print the token as JSON")
    create.set_defaults(handler=_create)

    listing = actions.add_parser(
        "list",
        help="list every token, revoked ones included",
        description="List every token (never their secrets), oldest first.",
    )
    listing.add_argument("--json", action="store_true", help="print the tokens as JSON")
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a token by its id",
        description="Revoke a token at once for every replica; revoking twice is harmless.",
    )
    revoke.add_argument("token_id", metavar="ID", help="the token's id, as `tokens list` shows")
    revoke.set_defaults(handler=_revoke)


def _token_name(text: str) -> str:
    try:
        return check_token_name(text)
    except InvalidInputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


async def _create(args: argparse.Namespace) -> int:
    secret = new_secret()
    async with open_storage() as storage:
        token = await storage.tokens.create(name=args.name, role=args.role, secret=secret)
    if args.json:
        print(json.dumps({**_token_json(token), "secret": secret}, indent=2))
        return 0
    print(f"id:     {token.id}")
    print(f"name:   {token.name}")
    print(f"role:   {token.role}")
    print(f"secret: {secret}")
    print(
        "The secret is shown only this once; Aragora keeps only its hash. "
        "Send it as `Authorization: Bearer <secret>`.",
        file=sys.stderr,
    )
    return 0


async def _list(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        tokens = await storage.tokens.list()
    if args.json:
        body = {"tokens": [_token_json(t) for t in tokens], "total": len(tokens)}
        print(json.dumps(body, indent=2))
        return 0
    if not tokens:
        print("no tokens; create one with: aragora tokens create --role ROLE --name NAME")
        return 0
    header = ("ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED")
    rows = [
        (
            t.id,
            t.name,
            t.role,
            _when(t.created_at),
            _when(t.last_used_at, "never"),
            _when(t.revoked_at, "no"),
        )
        for t in tokens
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        token = await storage.tokens.revoke(args.token_id)
    print(f"revoked {token.id} ({token.name}, {token.role}) at {_when(token.revoked_at)}")
    return 0


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "created_at": token.created_at.isoformat(),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
        "revoked": token.revoked,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _when(moment: datetime | None, missing: str = "-") -> str:
    if moment is None:
        return missing
    if moment.tzinfo is None:  # stored as UTC; some drivers hand it back naive
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
