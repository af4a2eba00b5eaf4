"""``aragora receipt verify FILE [--pubkey PEM]`` and ``aragora receipt show FILE``: a
decision receipt checked or rendered offline, with no server and no database.

``verify`` exits 0 when the receipt is valid (a verifying signature under the key), 1 when
it is not (the reason on stderr), 2 when the input cannot be read. Without ``--pubkey`` it
uses this installation's own signing key (``ARAGORA_RECEIPT_SIGNING_KEY_FILE``, else the
one generated in the data dir), if there is one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aragora.errors import InvalidInputError
from aragora.receipts.chain import parse_chain, verify_chain
from aragora.receipts.render import render_html, render_markdown
from aragora.receipts.signing import (
    GENERATED_KEY_FILE,
    PublicKey,
    load_public_key,
    load_signing_key,
)
from aragora.receipts.verify import verify_receipt
from aragora.settings import load_settings

__all__ = ["add_receipt_command"]


def add_receipt_command(commands: Any) -> None:
    """Register ``receipt`` (``verify``, ``show``) on the sub-command parser."""
    receipt = commands.add_parser(
        "receipt",
        help="verify or show a decision receipt offline",
        description="Decision receipts (Open Decision Receipt v0.2), checked or rendered "
        "offline from a file: GET /api/v2/receipts/ID/export?format=odr.",
    )
    actions = receipt.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=type(receipt)
    )
    verify = actions.add_parser(
        "verify",
        help="check a receipt's digest and signature",
        description="Check a receipt offline: its shape, its RFC 8785 digest, and its "
        "Ed25519 signature under the issuer's public key. Exit 0 valid, 1 invalid, 2 when "
        "an input cannot be read.",
    )
    verify.add_argument("file", metavar="FILE", help="the receipt (ODR JSON, or the API's body)")
    verify.add_argument(
        "--pubkey",
        metavar="PEM",
        help="the issuer's public key (GET /.well-known/aragora-odr-signing-key); default: "
        "this installation's signing key",
    )
    verify.add_argument(
        "--require-issuer", metavar="NAME", help="require a signature from this issuer"
    )
    verify.add_argument(
        "--chain",
        metavar="JSONL",
        help="also check this chain export (GET /api/v2/receipts/chain?format=jsonl) "
        "links up and holds the receipt",
    )
    verify.set_defaults(handler=_verify)

    show = actions.add_parser("show", help="print a receipt for people")
    show.add_argument("file", metavar="FILE", help="the receipt (ODR JSON, or the API's body)")
    show.add_argument("--format", choices=("md", "html"), default="md", help="md (default) or html")
    show.set_defaults(handler=_show)


async def _verify(args: argparse.Namespace) -> int:
    return verify_file(args.file, args.pubkey, args.require_issuer, args.chain)


async def _show(args: argparse.Namespace) -> int:
    receipt = _read_receipt(args.file)
    render = render_html if args.format == "html" else render_markdown
    sys.stdout.write(render(receipt))
    return 0


def verify_file(
    file: str, pubkey: str | None, require_issuer: str | None, chain: str | None
) -> int:
    """Verify the receipt in ``file``; print the verdict; the exit status."""
    receipt = _read_receipt(file)
    key = _read_key(pubkey) if pubkey else _local_key()
    if key is None:
        print(
            "aragora: cannot check the signature: no --pubkey given and no local signing key "
            "(fetch the issuer's key from GET /.well-known/aragora-odr-signing-key)",
            file=sys.stderr,
        )
        return 1
    result = verify_receipt(receipt, key, require_issuer=require_issuer)
    problems = list(result.problems)
    if chain is not None:
        links = parse_chain(_read_text(chain).splitlines())
        report = verify_chain(links, keys={key.key_id: key})
        problems.extend(f"chain: {problem}" for problem in report.problems)
        if result.digest is not None and not any(link.digest == result.digest for link in links):
            problems.append("chain: the receipt's digest is not in the chain")
    if problems or not result.ok:
        print(
            f"aragora: receipt {result.receipt_id or '?'} is NOT valid: " + "; ".join(problems),
            file=sys.stderr,
        )
        return 1
    print(
        f"receipt {result.receipt_id} is valid: signed by {result.issuer} with key "
        f"{result.key_id}; digest sha-256:{result.digest}"
        + (f"; anchored in a chain of {len(links)}" if chain is not None else "")
    )
    return 0


def _read_text(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {file}: {_reason(exc)}") from exc


def _read_receipt(file: str) -> dict[str, Any]:
    try:
        value = json.loads(_read_text(file))
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{file} is not JSON: {exc}") from exc
    if isinstance(value, dict) and isinstance(value.get("odr"), dict):
        value = value["odr"]  # the body of GET /api/v2/receipts/{id}
    if not isinstance(value, dict):
        raise InvalidInputError(f"{file} does not hold a receipt (a JSON object)")
    return value


def _read_key(file: str) -> PublicKey:
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {_reason(exc)}") from exc
    try:
        return load_public_key(data)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{file}: {exc}") from exc


def _local_key() -> PublicKey | None:
    settings = load_settings()
    path = settings.receipt_signing_key_file or settings.data_dir / GENERATED_KEY_FILE
    if not path.exists():
        return None
    return load_signing_key(path).public


def _reason(exc: Exception) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
