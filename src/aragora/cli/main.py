"""The ``aragora`` command: parse arguments, call the service, render. No business logic.

Each command's module is imported only when that command runs: ``aragora --version``
loads no database, HTTP or model client, and ``aragora debate`` does not load the
server. Only a full listing (``aragora --help``, no command, an unknown one) imports them
all, for their help lines.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from aragora import __version__
from aragora.errors import AragoraError, UserError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: dict[str, tuple[str, str]] = {
    "debate": ("aragora.cli.debate", "add_debate_command"),
    "debates": ("aragora.cli.debates", "add_debates_command"),
    "agents": ("aragora.cli.agents", "add_agents_command"),
    "migrate": ("aragora.cli.storage", "add_storage_commands"),
    "backup": ("aragora.cli.storage", "add_storage_commands"),
    "serve": ("aragora.cli.serve", "add_serve_command"),
    "worker": ("aragora.cli.worker", "add_worker_command"),
    "tokens": ("aragora.cli.tokens", "add_tokens_command"),
    "maintenance": ("aragora.cli.maintenance", "add_maintenance_command"),
    "receipt": ("aragora.cli.receipt", "add_receipt_command"),
    "knowledge": ("aragora.cli.knowledge", "add_knowledge_command"),
    "mcp": ("aragora.cli.mcp", "add_mcp_command"),
    "eval": ("aragora.cli.evaluate", "add_eval_command"),
    "webhooks": ("aragora.cli.webhooks", "add_webhooks_command"),
}
"""Command name -> (module, function registering it on the sub-command parser)."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(command: str | None = None, *, listing: bool = True) -> argparse.ArgumentParser:
    """The command-line grammar: of ``command`` alone when it is a known command (its
    module is the only one imported), else of every command (``listing=False``: of none,
    for ``aragora --version``)."""
    parser = _Parser(
        prog="aragora",
        description="Multi-agent deliberation: a panel of LLM agents proposes, critiques, "
        "revises and votes; you get a decision with its confidence, dissent and cost.",
    )
    parser.add_argument("--version", action="version", version=f"aragora {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    if command in COMMANDS:
        wanted = [COMMANDS[command]]
    else:
        wanted = list(COMMANDS.values()) if listing else []
    for module_name, function in dict.fromkeys(wanted):
        getattr(importlib.import_module(module_name), function)(commands)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first argument that is not an option."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def _asks_help(argv: Sequence[str]) -> bool:
    return any(arg in ("-h", "--help") for arg in argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(arguments)
    listing = command is not None or "--version" not in arguments or _asks_help(arguments)
    parser = build_parser(command, listing=listing)
    args = parser.parse_args(arguments)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = asyncio.run(args.handler(args))
    except UserError as exc:
        print(f"aragora: error: {exc}", file=sys.stderr)
        return 2
    except AragoraError as exc:
        print(f"aragora: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aragora: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
