"""What a webhook delivery says: the events a debate's end reports, the request body in
each format, and its signature.

Wire format (CONTRACT.md, "Webhooks"): a POST with the JSON body ``{"id", "event",
"created_at", "data"}`` (``id`` is the delivery's, the same on every retry) and the headers
``X-Aragora-Event``, ``X-Aragora-Delivery`` and ``X-Aragora-Signature: t=<unix seconds>,
v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the webhook's secret>``. The timestamp is
signed with the body, so a receiver that refuses signatures older than a few minutes
refuses a replayed request, and one that remembers delivery ids drops a repeated one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aragora.records.debates import ClaimedDelivery, OutboxEvent

__all__ = [
    "CONFLICT_CODE",
    "SIGNATURE_HEADER",
    "delivery_body",
    "outbox_events",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-Aragora-Signature"
CONFLICT_CODE = "knowledge_conflict"
"""The warning code of the Knowledge Mound's conflict check (``aragora.knowledge``)."""
_TEXT_CHARS = 300


def outbox_events(document: Mapping[str, Any]) -> list[OutboxEvent]:
    """The webhook events a debate's terminal ``document`` reports: ``debate.completed``
    or ``debate.failed`` with the document as data (a cancelled debate reports nothing),
    and ``knowledge.conflict`` when its verdict contradicts a past decision (the
    ``knowledge_conflict`` warnings the Knowledge Mound's end check added to the log)."""
    status = document.get("status")
    events: list[OutboxEvent] = []
    if status == "completed":
        events.append(OutboxEvent("debate.completed", document))
    elif status == "failed":
        events.append(OutboxEvent("debate.failed", document))
    conflicts = [
        dict(warning)
        for warning in document.get("warnings") or ()
        if isinstance(warning, Mapping) and warning.get("code") == CONFLICT_CODE
    ]
    if conflicts:
        events.append(
            OutboxEvent(
                "knowledge.conflict",
                {
                    "debate_id": document.get("id"),
                    "task": document.get("task"),
                    "final_answer": document.get("final_answer"),
                    "conflicts": conflicts,
                },
            )
        )
    return events


def delivery_body(delivery: ClaimedDelivery) -> bytes:
    """The request body of ``delivery`` in its webhook's format (the same bytes on every
    attempt)."""
    if delivery.format == "slack":
        body: dict[str, Any] = {"text": slack_text(delivery.event, delivery.data)}
    else:
        body = {
            "id": delivery.id,
            "event": delivery.event,
            "created_at": delivery.created_at.isoformat(),
            "data": dict(delivery.data),
        }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Aragora-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256 of
    "<timestamp>.<body>" keyed by secret>``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver checks: some ``v1`` of ``header`` is the signature of ``body`` at its
    ``t``, and ``t`` is within ``tolerance`` seconds of ``now`` (older is a replay)."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))


def slack_text(event: str, data: Mapping[str, Any]) -> str:
    """One Slack message (mrkdwn) describing ``event``."""
    debate = _clip(data.get("id") or data.get("debate_id"))
    task = _clip(data.get("task"))
    if event == "debate.completed":
        answer = _clip(data.get("final_answer")) or "no decision"
        confidence = data.get("confidence")
        shown = f" (confidence {confidence:.2f})" if isinstance(confidence, int | float) else ""
        return f"*Debate {debate} completed*: {task}\n> {answer}{shown}"
    if event == "debate.failed":
        return f"*Debate {debate} failed*: {task}\n> {_clip(data.get('error')) or 'no reason'}"
    conflicts: Sequence[Any] = data.get("conflicts") or ()
    pasts = ", ".join(_clip(c.get("item_id")) for c in conflicts if isinstance(c, Mapping))
    return (
        f"*Debate {debate} contradicts past decisions* ({pasts}): {task}\n"
        f"> {_clip(data.get('final_answer'))}"
    )


def _clip(value: object) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"
