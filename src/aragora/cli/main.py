"""The ``aragora`` command: parse arguments, call the service, render. No business logic."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import NoReturn

from aragora import __version__
from aragora.cli.agents import add_agents_command
from aragora.cli.debate import add_debate_command
from aragora.cli.knowledge import add_knowledge_command
from aragora.cli.maintenance import add_maintenance_command
from aragora.cli.receipt import add_receipt_command
from aragora.cli.serve import add_serve_command
from aragora.cli.storage import add_storage_commands
from aragora.cli.tokens import add_tokens_command
from aragora.cli.worker import add_worker_command
from aragora.errors import AragoraError, UserError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line grammar."""
    parser = _Parser(
        prog="aragora",
        description="Multi-agent deliberation: a panel of LLM agents proposes, critiques, "
        "revises and votes; you get a decision with its confidence, dissent and cost.",
    )
    parser.add_argument("--version", action="version", version=f"aragora {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    add_debate_command(commands)
    add_agents_command(commands)
    add_storage_commands(commands)
    add_serve_command(commands)
    add_worker_command(commands)
    add_tokens_command(commands)
    add_maintenance_command(commands)
    add_receipt_command(commands)
    add_knowledge_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
