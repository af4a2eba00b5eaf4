"""The Open Decision Receipt (ODR v0.2) of a finished debate, built from its document and
event log.

Every member comes from what the debate recorded. Where Aragora has nothing to say, the
member is the absent marker ``{"status": "absent", "reason": ...}`` (or the literal
``"undisclosed"`` for a model family), never a plausible-looking invention:

================  ==============================================================
``subject``       the debate id, the task, and SHA-256 of the task's UTF-8 text
``claim``         ``CONSENSUS`` / ``NO_CONSENSUS`` and the final answer
``reasoning``     how it was decided (mode, rule, rounds, tally) and the reasons the
                  agents who support the verdict gave; failed agents as observations
``quorum``        the consensus rule, whether it was reached, supporting agents, every
                  panel member with model family and id, family diversity, and the
                  dissenting agents with their final positions and reasons
``confidence``    the debate's confidence; calibration is absent (Aragora does not
                  calibrate it against outcomes)
``cruxes``        the competing answers and who held each at the start and the end;
                  absent when every agent gave the same answer throughout
``attestation``   ``autonomous``: no human accepted the decision
``routing``       ``reserved``
``source``        Aragora's receipt id and SHA-256 of the JCS bytes of the event log
                  (``GET /api/v1/debates/{id}/events``, ``seq`` order, wire form)
================  ==============================================================

The digest is SHA-256 over the JCS bytes of the document without ``signatures``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from aragora.debate.events import Event
from aragora.receipts.jcs import sha256_hex

__all__ = [
    "ODR_VERSION",
    "PROFILE",
    "UNDISCLOSED",
    "absent",
    "build_receipt",
    "content_digest",
    "log_digest",
    "model_family",
]

ODR_VERSION = "0.2"
PROFILE = "https://aragora.ai/specs/open-decision-receipt/v0.2"
UNDISCLOSED = "undisclosed"

# Providers whose models all come from one family. Ollama and OpenAI-compatible servers
# answer with whatever model the operator loaded there: their family is not disclosed.
_PROVIDER_FAMILIES = {
    "anthropic": "claude",
    "openai": "openai",
    "gemini": "gemini",
    "demo": "aragora-demo",
}
# OpenRouter model ids are ``vendor/model``.
_VENDOR_FAMILIES = {"anthropic": "claude", "openai": "openai", "google": "gemini"}


def absent(reason: str) -> dict[str, str]:
    """The absent marker: Aragora has no data for this member, and says why."""
    return {"status": "absent", "reason": reason}


def model_family(provider: str, model: str) -> str:
    """The model family of an agent, or ``"undisclosed"`` when the provider does not say."""
    if provider in _PROVIDER_FAMILIES:
        return _PROVIDER_FAMILIES[provider]
    if provider == "openrouter" and "/" in model:
        vendor = model.split("/", 1)[0].strip().lower()
        if vendor:
            return _VENDOR_FAMILIES.get(vendor, vendor)
    return UNDISCLOSED


def content_digest(receipt: Mapping[str, Any]) -> str:
    """Hex SHA-256 over the JCS bytes of ``receipt`` without ``signatures``."""
    return sha256_hex({k: v for k, v in receipt.items() if k != "signatures"})


def log_digest(events: Sequence[Event]) -> str:
    """Hex SHA-256 over the JCS bytes of the stored events' wire form, in ``seq`` order."""
    stored = sorted((e for e in events if e.seq is not None), key=lambda e: e.seq or 0)
    return sha256_hex([event.to_wire() for event in stored])


def build_receipt(
    document: Mapping[str, Any],
    events: Sequence[Event],
    *,
    receipt_id: str,
    issued_at: str | None,
) -> dict[str, Any]:
    """The unsigned ODR v0.2 document (``signatures`` empty) for a finished debate;
    ``issued_at`` is ``None`` only when the time is not known."""
    task = str(document.get("task") or "")
    participants = _participants(document)
    return {
        "odr_version": ODR_VERSION,
        "profile": PROFILE,
        "receipt_id": receipt_id,
        "issued_at": issued_at,
        "subject": {
            "identifier": str(document["id"]),
            "digest": {
                "status": "present",
                "alg": "sha-256",
                "value": hashlib.sha256(task.encode("utf-8")).hexdigest(),
            },
            "summary": task,
        },
        "claim": _claim(document),
        "reasoning": _reasoning(document, participants),
        "quorum": _quorum(document, participants),
        "confidence": _confidence(document),
        "cruxes": _cruxes(document),
        "attestation": {"disposition": "autonomous"},
        "routing": {"status": "reserved"},
        "source": {
            "system": "aragora",
            "schema": "aragora.debate.events",
            "schema_version": "1",
            "receipt_id": receipt_id,
            "artifact_hash": "sha256:" + log_digest(events),
        },
        "signatures": [],
    }


def _participants(document: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for agent in document.get("agents") or ():
        provider = str(agent.get("provider") or "")
        model = str(agent.get("model") or "")
        out.append(
            {
                "agent": str(agent["name"]),
                "model_family": model_family(provider, model),
                "model_id": model,
            }
        )
    return out


def _positions(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in document.get("positions") or () if isinstance(p, Mapping)]


def _supporting(document: Mapping[str, Any]) -> list[str]:
    positions = _positions(document)
    if positions:
        return [str(p["agent"]) for p in positions if p.get("agrees")]
    answer = document.get("final_answer")
    return [str(v["agent"]) for v in document.get("votes") or () if v.get("choice") == answer]


def _claim(document: Mapping[str, Any]) -> dict[str, Any]:
    answer = document.get("final_answer")
    statement: Any = answer if isinstance(answer, str) and answer.strip() else None
    return {
        "verdict": "CONSENSUS" if document.get("consensus_reached") else "NO_CONSENSUS",
        "statement": statement or absent("the debate ended without a final answer"),
    }


def _reasoning(document: Mapping[str, Any], participants: list[dict[str, str]]) -> dict[str, Any]:
    mode = document.get("mode") or "unknown"
    rule = document.get("consensus_rule") or "unknown"
    rounds = document.get("rounds_used") or 0
    lines = [
        f"{len(participants)} agent(s) deliberated in {mode} mode for {rounds} round(s); "
        f"the {rule} rule decided."
    ]
    tally = document.get("tally") or {}
    if tally:
        counted = ", ".join(f"{answer!r}: {_number(weight)}" for answer, weight in tally.items())
        lines.append(f"Tally: {counted}.")
    if document.get("tie"):
        lines.append("The vote was tied.")
    if document.get("judge"):
        lines.append(f"Judge: {document['judge']}.")
    if document.get("partial"):
        lines.append(
            f"The debate was cut short ({document.get('stop_reason') or 'no reason recorded'}); "
            "the verdict rests on the positions recorded by then."
        )
    reasons = [
        (str(p["agent"]), str(p.get("reasons") or "").strip())
        for p in _positions(document)
        if p.get("agrees")
    ]
    if any(text for _, text in reasons):
        lines.append("Reasons given for the verdict:")
        lines.extend(f"- {agent}: {text}" for agent, text in reasons if text)
    reasoning: dict[str, Any] = {"status": "present", "summary": "\n".join(lines)}
    families = {p["agent"]: p["model_family"] for p in participants}
    failed = [
        {
            "kind": "failure",
            "family": families.get(str(agent["name"]), UNDISCLOSED),
            "detail": f"{agent['name']} failed during the debate; the panel went on without it",
        }
        for agent in document.get("agents") or ()
        if agent.get("failed")
    ]
    if failed:
        reasoning["observations"] = failed
    return reasoning


def _quorum(document: Mapping[str, Any], participants: list[dict[str, str]]) -> dict[str, Any]:
    if not participants:
        return absent("the debate recorded no panel")
    families = [p["model_family"] for p in participants]
    named = sorted({f for f in families if f != UNDISCLOSED})
    notes = []
    if "aragora-demo" in named:
        notes.append("aragora-demo agents are Aragora's offline scripted agents, not models")
    hidden = families.count(UNDISCLOSED)
    if hidden:
        notes.append(
            f"{hidden} agent(s) run on servers (Ollama, OpenAI-compatible) that do not "
            "disclose their model family"
        )
    independence: dict[str, Any] = {
        "disclosed": hidden == 0,
        "distinct_model_families": len(named),
        "model_families": named,
    }
    if notes:
        independence["note"] = "; ".join(notes)
    dissenters = [p for p in document.get("dissent") or () if isinstance(p, Mapping)]
    mode = document.get("mode") or "unknown"
    rule = document.get("consensus_rule") or "unknown"
    by_agent = {p["agent"]: p for p in participants}
    quorum: dict[str, Any] = {
        "status": "present",
        "method": f"{mode}/{rule}",
        "reached": bool(document.get("consensus_reached")),
        "supporting_agents": _supporting(document),
        "participants": participants,
        "independence": independence,
        "dissent": {
            "present": bool(dissenters),
            "dissenting_agents": [str(p["agent"]) for p in dissenters],
            "views": [_view(p) for p in dissenters],
        },
    }
    verdicts = [
        {
            "issuer": str(vote["agent"]),
            "role": "voter",
            "verdict": str(vote.get("choice") or ""),
            "model_family": by_agent[str(vote["agent"])]["model_family"],
            "model_id": by_agent[str(vote["agent"])]["model_id"],
        }
        for vote in document.get("votes") or ()
        if str(vote.get("agent")) in by_agent
    ]
    if verdicts:
        quorum["verdicts"] = verdicts
    return quorum


def _view(position: Mapping[str, Any]) -> str:
    view = f"{position['agent']}: {position.get('final_position') or '(no answer)'}"
    reasons = str(position.get("reasons") or "").strip()
    return f"{view} — {reasons}" if reasons else view


def _confidence(document: Mapping[str, Any]) -> dict[str, Any]:
    value = document.get("confidence")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return absent("the debate recorded no confidence in its verdict")
    return {
        "status": "present",
        "value": value,
        "scale": "unit_interval",
        "calibration": absent(
            "Aragora does not calibrate confidence against outcomes; the value is the "
            "panel's own, as the consensus rule weighed it"
        ),
    }


def _cruxes(document: Mapping[str, Any]) -> dict[str, Any]:
    positions = _positions(document)
    if not positions:
        return absent("the debate recorded no positions")
    answers: list[str] = []
    for p in positions:
        for answer in (p.get("initial_position"), p.get("final_position")):
            if isinstance(answer, str) and answer and answer not in answers:
                answers.append(answer)
    if len(answers) < 2:
        return absent("the agents never disagreed: every recorded position was the same answer")
    tally = document.get("tally") or {}
    final = document.get("final_answer")
    items = []
    for answer in sorted(answers, key=lambda a: -float(tally.get(a, 0) or 0)):
        item: dict[str, Any] = {
            "position": answer,
            "held_at_start_by": [
                str(p["agent"]) for p in positions if p.get("initial_position") == answer
            ],
            "held_at_end_by": [
                str(p["agent"]) for p in positions if p.get("final_position") == answer
            ],
            "is_verdict": answer == final,
        }
        if answer in tally:
            item["weight"] = tally[answer]
        items.append(item)
    return {"status": "present", "items": items}


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
