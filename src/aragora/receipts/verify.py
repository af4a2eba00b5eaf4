"""Checking one receipt offline: its shape, its digest, and its signature.

The public ``aragora-verify`` tool checks the full ODR schema; this is Aragora's own
check, with no network and no dependency on that tool: the members an ODR v0.2 document
must have, a digest that can be computed, the quorum naming only disclosed participants,
and at least one v0.2 signature that verifies under a key given (never a key the receipt
names itself)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aragora.receipts.odr import ODR_VERSION, PROFILE, content_digest
from aragora.receipts.signing import PublicKey, signature_verifies

__all__ = ["REQUIRED_MEMBERS", "Verification", "verify_receipt"]

REQUIRED_MEMBERS = (
    "odr_version",
    "profile",
    "receipt_id",
    "issued_at",
    "subject",
    "claim",
    "reasoning",
    "quorum",
    "confidence",
    "cruxes",
    "attestation",
    "routing",
    "signatures",
)
_OPTIONAL_MEMBERS = ("source", "adjudication")


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome: ``ok`` only when nothing is wrong and a signature verified."""

    ok: bool
    receipt_id: str
    digest: str | None
    key_id: str | None = None
    """The key whose signature verified."""
    issuer: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        """The problems as one line ("" when valid)."""
        return "; ".join(self.problems)


def verify_receipt(
    receipt: Any,
    keys: Mapping[str, PublicKey] | PublicKey | None,
    *,
    require_issuer: str | None = None,
) -> Verification:
    """Verify ``receipt`` against ``keys`` (one key, or published keys by ``key_id``).

    Valid means: an ODR v0.2 document with every required member; supporting and
    dissenting agents among the participants; and a signature entry that verifies under a
    given key (from ``require_issuer`` if set), with no entry for a given key failing."""
    if not isinstance(receipt, Mapping):
        return Verification(False, "", None, problems=("a receipt is a JSON object",))
    receipt_id = str(receipt.get("receipt_id") or "")
    problems = _shape_problems(receipt)
    try:
        digest: str | None = content_digest(receipt)
    except (TypeError, ValueError) as exc:
        digest = None
        problems.append(f"cannot canonicalize the receipt: {exc}")
    if isinstance(keys, PublicKey):
        keys = {keys.key_id: keys}
    keys = keys or {}
    verified: list[Mapping[str, Any]] = []
    signatures = receipt.get("signatures")
    entries = (
        [s for s in signatures if isinstance(s, Mapping)] if isinstance(signatures, list) else []
    )
    failed = False
    if digest is not None:
        for index, entry in enumerate(entries):
            key = keys.get(str(entry.get("key_id")))
            if key is None:
                continue
            if signature_verifies(entry, digest, key):
                verified.append(entry)
            else:
                failed = True
                problems.append(
                    f"signatures[{index}] does not verify under key {key.key_id}: the receipt "
                    "or its signature was changed"
                )
        if not entries:
            problems.append("the receipt is not signed")
        elif not verified and not failed:
            named = ", ".join(sorted({str(e.get("key_id")) for e in entries}))
            given = ", ".join(sorted(keys)) or "none"
            problems.append(f"signed by key {named}, but the key given is {given}")
    if require_issuer is not None and not any(e.get("issuer") == require_issuer for e in verified):
        problems.append(f"no verifying signature from issuer {require_issuer!r}")
    first = verified[0] if verified else None
    return Verification(
        ok=not problems and first is not None,
        receipt_id=receipt_id,
        digest=digest,
        key_id=str(first["key_id"]) if first else None,
        issuer=str(first.get("issuer")) if first and first.get("issuer") else None,
        problems=tuple(problems),
    )


def _shape_problems(receipt: Mapping[str, Any]) -> list[str]:
    problems = [f"missing member {name!r}" for name in REQUIRED_MEMBERS if name not in receipt]
    allowed = set(REQUIRED_MEMBERS) | set(_OPTIONAL_MEMBERS)
    problems.extend(f"unknown member {name!r}" for name in sorted(set(receipt) - allowed))
    if receipt.get("odr_version") != ODR_VERSION or receipt.get("profile") != PROFILE:
        problems.append(f"not an ODR v{ODR_VERSION} document (odr_version, profile)")
    if not isinstance(receipt.get("signatures", []), list):
        problems.append("signatures must be a list")
    quorum = receipt.get("quorum")
    if isinstance(quorum, Mapping) and quorum.get("status") == "present":
        participants = {
            p.get("agent") for p in quorum.get("participants") or () if isinstance(p, Mapping)
        }
        dissent = quorum.get("dissent")
        named = list(quorum.get("supporting_agents") or ())
        if isinstance(dissent, Mapping):
            named.extend(dissent.get("dissenting_agents") or ())
        strangers = sorted({str(a) for a in named if a not in participants})
        if strangers:
            problems.append(
                f"quorum names agents that are not participants: {', '.join(strangers)}"
            )
    return problems
