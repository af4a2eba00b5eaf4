"""``aragora knowledge export FILE`` and ``aragora knowledge import FILE``: the knowledge
base backup of the HTTP endpoints (same document), straight on the database.

Export streams to a temporary file next to FILE and renames it into place once complete,
so an interrupted export never leaves a truncated backup under the real name. ``-`` is
standard output / input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from aragora import wiring
from aragora.cli.open_storage import open_storage
from aragora.errors import InvalidInputError

__all__ = ["add_knowledge_command"]


def add_knowledge_command(commands: Any) -> None:
    """Register ``knowledge`` (``export``, ``import``) on the sub-command parser."""
    knowledge = commands.add_parser(
        "knowledge",
        help="export or import the knowledge base",
        description="Back up and restore the Knowledge Mound of the database of "
        "ARAGORA_DATABASE_URL, in the format of POST /api/knowledge/export (no running "
        "server needed).",
    )
    actions = knowledge.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(knowledge)
    )
    export = actions.add_parser(
        "export",
        help="write every item and link to FILE",
        description="Write the whole knowledge base to FILE as one JSON document.",
    )
    export.add_argument("file", metavar="FILE", help="where to write it (- for stdout)")
    export.set_defaults(handler=_export)

    restore = actions.add_parser(
        "import",
        help="store every item of an export document, all or nothing",
        description="Import an export document: all or nothing; items already stored "
        "as they are stay unchanged, so importing twice changes nothing.",
    )
    restore.add_argument("file", metavar="FILE", help="the export document (- for stdin)")
    restore.add_argument("--json", action="store_true", help="print the counts as JSON")
    restore.set_defaults(handler=_import)


async def _export(args: argparse.Namespace) -> int:
    async with open_storage() as storage:
        service = wiring.build_knowledge(storage)
        if args.file == "-":
            async for chunk in service.export():
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        target = Path(args.file)
        directory = target.parent if str(target.parent) else Path(".")
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
        try:
            with os.fdopen(handle, "wb") as sink:
                async for chunk in service.export():
                    sink.write(chunk)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    print(f"exported the knowledge base to {target}", file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> int:
    # The document is streamed from a file (standard input is spooled to one first), so
    # a backup of any size is imported in flat memory.
    with contextlib.ExitStack() as files:
        body: IO[bytes]
        if args.file == "-":
            body = files.enter_context(tempfile.TemporaryFile())
            shutil.copyfileobj(sys.stdin.buffer, body)
            body.seek(0)
        else:
            try:
                body = files.enter_context(Path(args.file).open("rb"))  # noqa: ASYNC230 - a CLI, one file
            except OSError as exc:
                raise InvalidInputError(f"cannot read {args.file}: {exc.strerror}") from exc
        async with open_storage() as storage:
            result = await wiring.build_knowledge(storage).import_document(body)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"imported {result['imported']} items ({result['unchanged']} unchanged); "
            f"the knowledge base holds {result['count']}"
        )
    return 0
