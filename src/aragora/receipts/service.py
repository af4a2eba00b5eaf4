"""Issuing, reading and checking receipts: the sub-service the runtime and the faces use.

A completed debate gets one receipt, issued by :meth:`ReceiptService.finish` (a runtime
``Finisher``) as the debate ends: built from the document and the event log, digested,
signed, and appended to the chain with the previous head's digest. Concurrent issuers
race on the chain's head; the loser re-reads it and tries again, so the chain never forks.

Every public key that ever signed a receipt is published in the shared settings store
(``receipts.public_keys``), so after a key rotation, or with replicas holding different
keys, every receipt's key stays available by its ``key_id``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aragora.debate.events import Event
from aragora.errors import ConflictError, InvalidInputError, NotFoundError
from aragora.receipts.chain import ChainLink, ChainReport, link_of, verify_chain
from aragora.receipts.odr import build_receipt, content_digest
from aragora.receipts.signing import PublicKey, SigningKey, load_public_key
from aragora.records.debates import (
    NewReceipt,
    ReceiptRepository,
    SettingsRepository,
    StoredReceipt,
)

__all__ = ["KEYS_SETTING", "ReceiptService", "envelope", "receipt_links"]

_log = logging.getLogger("aragora.receipts")

KEYS_SETTING = "receipts.public_keys"
_KEY_SETTING = "receipts.public_key."
_ATTEMPTS = 50
_PAGE = 500


def _utc_now() -> datetime:
    return datetime.now(UTC)


def receipt_links(receipt_id: str, debate_id: str, key_id: str | None) -> dict[str, str]:
    """Where a receipt and what verifies it are served."""
    base = f"/api/v2/receipts/{receipt_id}"
    links = {
        "self": base,
        "odr": f"{base}/export?format=odr",
        "markdown": f"{base}/export?format=md",
        "html": f"{base}/export?format=html",
        "debate": f"/api/v1/debates/{debate_id}",
    }
    if key_id:
        links["signing_key"] = f"/api/v2/receipts/signing-key?key_id={key_id}"
    return links


class ReceiptService:
    """Receipts of one deployment, signed with ``key`` as ``issuer``."""

    def __init__(
        self,
        *,
        receipts: ReceiptRepository,
        settings: SettingsRepository,
        key: SigningKey,
        issuer: str,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._receipts = receipts
        self._settings = settings
        self.key = key
        self.issuer = issuer
        self._now = now
        self._published = False
        # One issuer at a time in this process: concurrent appends would only race for
        # the chain's head and retry (replicas still race each other, and retry).
        self._chain_lock = asyncio.Lock()

    # --- issuing ------------------------------------------------------------------------
    async def finish(
        self, debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """The runtime ``Finisher``: a completed debate's receipt (issued now, or the one
        it already has) as ``{"receipt": {...link...}}`` for its document; ``None`` for a
        debate that did not complete."""
        if document.get("status") != "completed":
            return None
        stored = await self.issue(debate_id, events, document)
        return {"receipt": self.link(stored)}

    async def issue(
        self, debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> StoredReceipt:
        """The debate's receipt: the existing one, else a new one appended to the chain.
        :class:`InvalidInputError` for a debate that did not complete."""
        existing = await self._receipts.for_debate(debate_id)
        if existing:
            return existing[0]
        if document.get("status") != "completed":
            raise InvalidInputError(f"debate {debate_id} has not completed; it gets no receipt")
        await self.publish_key()
        issued_at = self._now().isoformat()
        receipt = build_receipt(
            document, events, receipt_id=f"rcpt_{uuid.uuid4().hex}", issued_at=issued_at
        )
        digest = content_digest(receipt)
        receipt["signatures"] = [self.key.sign(digest, issuer=self.issuer, signed_at=issued_at)]
        async with self._chain_lock:
            return await self._append(debate_id, receipt, digest)

    async def _append(self, debate_id: str, receipt: dict[str, Any], digest: str) -> StoredReceipt:
        for attempt in range(_ATTEMPTS):
            head = await self._receipts.head()
            try:
                return await self._receipts.append(
                    NewReceipt(
                        id=str(receipt["receipt_id"]),
                        debate_id=debate_id,
                        digest=digest,
                        previous_digest=None if head is None else head.digest,
                        document=receipt,
                    )
                )
            except ConflictError:
                # Another issuer took the head; unless it was for this very debate, link
                # after the new head.
                existing = await self._receipts.for_debate(debate_id)
                if existing:
                    return existing[0]
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConflictError(
            f"receipt for debate {debate_id}: the chain kept moving for {_ATTEMPTS} attempts"
        )

    def link(self, stored: StoredReceipt) -> dict[str, Any]:
        """What the debate document records about its receipt."""
        links = receipt_links(stored.id, stored.debate_id, _key_id(stored.document))
        return {
            "id": stored.id,
            "digest": stored.digest,
            "key_id": _key_id(stored.document),
            "url": links["self"],
            "odr_url": links["odr"],
        }

    # --- reading ------------------------------------------------------------------------
    async def get(self, receipt_id: str) -> StoredReceipt:
        """The receipt; :class:`NotFoundError`."""
        return await self._receipts.get(receipt_id)

    async def for_debate(self, debate_id: str) -> StoredReceipt:
        """The debate's receipt; :class:`NotFoundError` if it has none (yet)."""
        found = await self._receipts.for_debate(debate_id)
        if not found:
            raise NotFoundError(
                f"debate {debate_id} has no receipt (only completed debates get one)"
            )
        return found[0]

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        """Receipts after chain position ``after``, in chain order."""
        return await self._receipts.chain(after=after, limit=limit)

    async def walk(self, *, page: int = _PAGE) -> AsyncIterator[StoredReceipt]:
        """Every receipt of the chain, in order."""
        after = 0
        while True:
            batch = await self._receipts.chain(after=after, limit=page)
            for stored in batch:
                yield stored
            if len(batch) < page:
                return
            after = batch[-1].position

    async def verify_chain(self) -> ChainReport:
        """Check the whole stored chain: links, digests, and signatures under the
        published keys."""
        keys = {key.key_id: key for key in await self.public_keys()}
        problems: list[str] = []
        length = 0
        last: ChainLink | None = None
        after = 0
        while True:  # a page at a time, so memory stays flat however long the chain
            batch = await self._receipts.chain(after=after, limit=_PAGE)
            links = [link_of(stored) for stored in batch]
            report = verify_chain(links, keys=keys, previous=last)
            problems.extend(report.problems)
            length += report.length
            last = links[-1] if links else last
            if len(batch) < _PAGE:
                break
            after = batch[-1].position
        return ChainReport(
            length=length, head=None if last is None else last.digest, problems=tuple(problems)
        )

    # --- keys ---------------------------------------------------------------------------
    async def publish_key(self) -> None:
        """Record this process's public key among the published ones (once per process;
        safe when replicas publish at the same time)."""
        if self._published:
            return
        public = self.key.public
        entry = {
            **public.to_dict(),
            "published_at": self._now().isoformat(),
        }
        if await self._settings.get(_KEY_SETTING + public.key_id) is None:
            await self._settings.set(_KEY_SETTING + public.key_id, entry)
        # The index is read-modify-write: re-read until this key is seen in it, so a
        # replica publishing at the same moment cannot drop it for good.
        for _ in range(10):
            index = await self._key_index()
            if any(item.get("key_id") == public.key_id for item in index):
                break
            await self._settings.set(KEYS_SETTING, {"keys": [*index, entry]})
        self._published = True

    async def public_keys(self) -> list[PublicKey]:
        """Every published key, oldest first; the current one included."""
        await self.publish_key()
        keys: dict[str, PublicKey] = {}
        for item in await self._key_index():
            try:
                key = load_public_key(str(item.get("public_key_pem") or "").encode("ascii"))
            except (InvalidInputError, UnicodeEncodeError):
                _log.warning("skipping an unreadable published receipt key %r", item.get("key_id"))
                continue
            keys[key.key_id] = key
        keys.setdefault(self.key.key_id, self.key.public)
        return list(keys.values())

    async def public_key(self, key_id: str | None = None) -> PublicKey:
        """The current signing key's public half, or the published key ``key_id``;
        :class:`NotFoundError` for a key never published."""
        if key_id is None or key_id == self.key.key_id:
            return self.key.public
        entry = await self._settings.get(_KEY_SETTING + key_id)
        if isinstance(entry, Mapping):
            try:
                key = load_public_key(str(entry.get("public_key_pem") or "").encode("ascii"))
            except (InvalidInputError, UnicodeEncodeError):
                key = None
            if key is not None and key.key_id == key_id:
                return key
        raise NotFoundError(f"no receipt signing key {key_id} was ever published here")

    async def _key_index(self) -> list[Mapping[str, Any]]:
        value = await self._settings.get(KEYS_SETTING)
        items = value.get("keys") if isinstance(value, Mapping) else None
        return [item for item in items or () if isinstance(item, Mapping)]


def envelope(stored: StoredReceipt) -> dict[str, Any]:
    """``GET /api/v2/receipts/{id}``: the signed ODR document under ``odr`` with its chain
    place, links, and the decision's headline fields beside it (not signed themselves)."""
    receipt = stored.document
    claim = _member(receipt, "claim")
    quorum = _member(receipt, "quorum")
    dissent = _member(quorum, "dissent")
    confidence = _member(receipt, "confidence")
    signature = next((s for s in receipt.get("signatures") or () if isinstance(s, Mapping)), {})
    statement = claim.get("statement")
    return {
        "receipt_id": stored.id,
        "id": stored.id,
        "debate_id": stored.debate_id,
        "position": stored.position,
        "digest": stored.digest,
        "previous_digest": stored.previous_digest,
        "issued_at": receipt.get("issued_at"),
        "issuer": signature.get("issuer"),
        "key_id": signature.get("key_id"),
        "verdict": claim.get("verdict"),
        "statement": statement if isinstance(statement, str) else None,
        "consensus_reached": bool(quorum.get("reached")),
        "confidence": confidence.get("value"),
        "participating_agents": [
            p.get("agent") for p in quorum.get("participants") or () if isinstance(p, Mapping)
        ],
        "supporting_agents": list(quorum.get("supporting_agents") or ()),
        "dissenting_agents": list(dissent.get("dissenting_agents") or ()),
        "links": receipt_links(stored.id, stored.debate_id, _key_id(receipt)),
        "odr": dict(receipt),
    }


def _member(container: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = container.get(name)
    return value if isinstance(value, Mapping) else {}


def _key_id(receipt: Mapping[str, Any]) -> str | None:
    for entry in receipt.get("signatures") or ():
        if isinstance(entry, Mapping) and entry.get("key_id"):
            return str(entry["key_id"])
    return None
