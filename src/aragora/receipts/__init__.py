"""Decision receipts: every completed debate gets a signed Open Decision Receipt (ODR v0.2),
hash-chained to the receipt issued before it.

- :mod:`~aragora.receipts.jcs` — RFC 8785 canonical JSON (the bytes digested and signed);
- :mod:`~aragora.receipts.odr` — the document, built from a debate's document and events;
- :mod:`~aragora.receipts.signing` — Ed25519 keys, key ids, v0.2 signatures;
- :mod:`~aragora.receipts.verify` and :mod:`~aragora.receipts.chain` — offline checks;
- :mod:`~aragora.receipts.render` — Markdown and HTML for people;
- :mod:`~aragora.receipts.service` — issue (a runtime finisher), read, publish keys.
"""

from aragora.receipts.chain import ChainLink, ChainReport, parse_chain, verify_chain
from aragora.receipts.jcs import canonicalize
from aragora.receipts.odr import build_receipt, content_digest
from aragora.receipts.render import render_html, render_markdown
from aragora.receipts.service import ReceiptService, envelope
from aragora.receipts.signing import (
    PublicKey,
    SigningKey,
    ensure_signing_key,
    key_id_of,
    load_public_key,
    load_signing_key,
)
from aragora.receipts.verify import Verification, verify_receipt

__all__ = [
    "ChainLink",
    "ChainReport",
    "PublicKey",
    "ReceiptService",
    "SigningKey",
    "Verification",
    "build_receipt",
    "canonicalize",
    "content_digest",
    "ensure_signing_key",
    "envelope",
    "key_id_of",
    "load_public_key",
    "load_signing_key",
    "parse_chain",
    "render_html",
    "render_markdown",
    "verify_chain",
    "verify_receipt",
]
