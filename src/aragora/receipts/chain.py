"""The receipt chain: every receipt records the digest of the one issued before it.

The chain is stored beside the receipts (``position``, ``digest``, ``previous_digest``;
an ODR document has no member for it) and exported as JSON Lines, one link a line::

    {"position": 2, "receipt_id": "...", "debate_id": "...",
     "hash": "<digest>", "prev_hash": "<previous digest>", "odr": {...the receipt...}}

``hash``/``prev_hash`` are the names ``aragora-verify --chain`` reads. :func:`verify_chain`
goes further than that tool: it recomputes every receipt's digest from its ``odr``, so an
edited receipt, a removed or reordered link, or a forged digest are all detected.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aragora.errors import InvalidInputError
from aragora.receipts.odr import content_digest
from aragora.receipts.signing import PublicKey
from aragora.receipts.verify import verify_receipt
from aragora.records.debates import StoredReceipt

__all__ = ["ChainLink", "ChainReport", "link_of", "parse_chain", "verify_chain"]


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One receipt's place in the chain."""

    position: int
    receipt_id: str
    digest: str
    previous_digest: str | None
    debate_id: str = ""
    receipt: Mapping[str, Any] | None = None
    """The ODR document, when the link carries it (its digest is then recomputed)."""

    def to_line(self) -> dict[str, Any]:
        """The JSON Lines form (see the module docstring)."""
        line: dict[str, Any] = {
            "position": self.position,
            "receipt_id": self.receipt_id,
            "debate_id": self.debate_id,
            "hash": self.digest,
            "prev_hash": self.previous_digest,
        }
        if self.receipt is not None:
            line["odr"] = dict(self.receipt)
        return line


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify_chain` found; ``ok`` when ``problems`` is empty."""

    length: int
    head: str | None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.ok,
            "length": self.length,
            "head": self.head,
            "problems": list(self.problems),
        }


def link_of(stored: StoredReceipt) -> ChainLink:
    """The chain link of a stored receipt."""
    return ChainLink(
        position=stored.position,
        receipt_id=stored.id,
        digest=stored.digest,
        previous_digest=stored.previous_digest,
        debate_id=stored.debate_id,
        receipt=stored.document,
    )


def verify_chain(
    links: Iterable[ChainLink],
    *,
    keys: Mapping[str, PublicKey] | None = None,
    previous: ChainLink | None = None,
) -> ChainReport:
    """Check ``links`` (in chain order) link up: positions consecutive from 1 (or from
    ``previous``, the link before a segment), each ``previous_digest`` the digest before it,
    each carried receipt hashing to its digest and, with ``keys``, signed by one of them."""
    problems: list[str] = []
    count = 0
    last = previous
    for link in links:
        count += 1
        where = f"position {link.position} ({link.receipt_id})"
        expected_position = 1 if last is None else last.position + 1
        if link.position != expected_position:
            problems.append(
                f"{where}: expected position {expected_position}; "
                + ("a link is missing" if link.position > expected_position else "out of order")
            )
        expected_previous = None if last is None else last.digest
        if link.previous_digest != expected_previous:
            problems.append(
                f"{where}: previous digest {link.previous_digest} is not "
                f"{expected_previous} (the digest of the link before it)"
            )
        if link.receipt is not None:
            try:
                actual = content_digest(link.receipt)
            except (TypeError, ValueError) as exc:
                problems.append(f"{where}: the receipt cannot be canonicalized: {exc}")
            else:
                if actual != link.digest:
                    problems.append(f"{where}: the receipt hashes to {actual}, not {link.digest}")
            if keys is not None:
                checked = verify_receipt(link.receipt, keys)
                if not checked.ok:
                    problems.append(f"{where}: {checked.reason}")
        last = link
    return ChainReport(
        length=count, head=None if last is None else last.digest, problems=tuple(problems)
    )


def parse_chain(lines: Sequence[str]) -> list[ChainLink]:
    """Links from JSON Lines (blank lines skipped); :class:`InvalidInputError` naming the
    first bad line."""
    links = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            receipt = entry.get("odr")
            links.append(
                ChainLink(
                    position=int(entry["position"]),
                    receipt_id=str(entry.get("receipt_id") or ""),
                    digest=str(entry["hash"]),
                    previous_digest=None
                    if entry.get("prev_hash") is None
                    else str(entry["prev_hash"]),
                    debate_id=str(entry.get("debate_id") or ""),
                    receipt=receipt if isinstance(receipt, dict) else None,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"chain line {number} is not a chain link: {exc}") from exc
    return links
