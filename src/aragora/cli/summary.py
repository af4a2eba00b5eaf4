"""The closing summary of a debate, rendered from its final document only.

The live lines come from events; this comes from the document that ``GET
/api/v1/debates/{id}`` serves, so what it says (the decision, why there is none, dissent,
changed minds, cost) is exactly what the record says. Every field is read defensively:
a document from an older or newer server may lack some or carry more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from aragora.cli.text import Style, count, one_line, shorten, wrapped

__all__ = ["has_decision", "print_outcome", "summary_lines"]

WIDTH = 96


def has_decision(document: Mapping[str, Any]) -> bool:
    """Whether the debate decided: it completed with consensus reached on a final answer."""
    return (
        document.get("status") == "completed"
        and bool(document.get("consensus_reached"))
        and document.get("final_answer") not in (None, "")
    )


def summary_lines(document: Mapping[str, Any], style: Style, *, pointer: str) -> list[str]:
    """The summary: the decision (or why there is none), dissent, changed minds, cost,
    what was recorded, and the time taken."""

    def name(agent: object) -> str:
        return one_line(agent) or "?"

    lines = [""]
    lines += _decision(document, style, name, pointer)
    if document.get("mode") != "single":
        lines += _positions(document, name, pointer)
    lines += _cost(document, name)
    lines += _record(document)
    return lines


def _decision(document: Mapping[str, Any], style: Style, name: Any, pointer: str) -> list[str]:
    status = one_line(document.get("status")) or "unknown"
    mode = document.get("mode")
    rule = one_line(document.get("consensus_rule"))
    final = document.get("final_answer")
    answer = shorten(one_line(final), 300, pointer) if final not in (None, "") else None
    confidence = _number(document.get("confidence"))
    confident = f"confidence {confidence:.2f}" if confidence is not None else None
    if status in ("queued", "running"):
        line = f"Not finished: status {status}"
        if document.get("awaiting_resumption"):
            line += " (awaiting resumption: its worker stopped; another will resume it)"
        return [style.warn(line)]
    if has_decision(document):
        assert answer is not None
        if mode == "single":
            positions = [p for p in document.get("positions") or () if isinstance(p, Mapping)]
            who = name(positions[0].get("agent")) if positions else "one agent"
            details = [f"from {who} alone (mode single: no panel, no vote)"]
            head = style.good(f"Answer: {answer}")
        else:
            details = [f"consensus reached ({rule})" if rule else "consensus reached"]
            head = style.good(f"Verdict: {answer}")
        if document.get("judge"):
            details.append(f"decided by judge {name(document['judge'])}")
        if confident:
            details.append(confident)
        details.append(_rounds(document))
        lines = [head, "  " + " · ".join(d for d in details if d)]
        if document.get("partial"):
            lines.append(style.warn(f"  partial result: {_why(document)}"))
        return lines
    # No decision: say so plainly, and why, from the record.
    if status == "cancelled":
        head = "Cancelled: no decision"
    elif document.get("tie"):
        head = "No decision: the vote is tied"
    elif status == "failed":
        head = "No decision: the debate failed"
    elif answer is not None:
        head = f"No consensus under the {rule} rule" if rule else "No consensus"
    else:
        head = "No decision"
    lines = [style.bad(head) if status == "failed" else style.warn(head)]
    reason = _why(document)
    if reason:
        lines.append(f"  why: {reason}")
    tally = _tally(document)
    if tally:
        lines.append(f"  tally: {tally}")
    if answer is not None and not document.get("tie"):
        support = f" ({confident})" if confident else ""
        lines.append(f"  most support, short of a decision: {answer}{support}")
    return lines


def _rounds(document: Mapping[str, Any]) -> str:
    mode = document.get("mode")
    used = document.get("rounds_used")
    debated = any(
        isinstance(m, Mapping) and m.get("role") == "critique"
        for m in document.get("messages") or ()
    )
    if mode in ("single", "vote") or not isinstance(used, int):
        return ""
    if mode == "auto" and not debated:
        return "the independent answers agreed, no debate needed"
    return f"{count(used, 'round')} of debate"


def _why(document: Mapping[str, Any]) -> str:
    """The record's own reason: its error, else the message of the warning that stopped
    it, else the warnings about unusable answers."""
    error = one_line(document.get("error"))
    if error:
        return error
    warnings = [w for w in document.get("warnings") or () if isinstance(w, Mapping)]
    stop = document.get("stop_reason")
    if stop:
        for warning in warnings:
            if warning.get("code") == stop:
                return one_line(warning.get("message")) or one_line(stop)
        return f"stopped: {one_line(stop)}"
    problems = [one_line(w.get("message")) for w in warnings if w.get("message")]
    return "; ".join(problems[:3])


def _tally(document: Mapping[str, Any]) -> str:
    tally = document.get("tally")
    if not isinstance(tally, Mapping) or not tally:
        return ""
    ordered = sorted(tally.items(), key=lambda item: -(_number(item[1]) or 0.0))
    return " · ".join(
        f"{shorten(one_line(option), 60, '…')} {_score(score)}" for option, score in ordered
    )


def _positions(document: Mapping[str, Any], name: Any, pointer: str) -> list[str]:
    lines: list[str] = []
    if has_decision(document):
        dissent = [d for d in document.get("dissent") or () if isinstance(d, Mapping)]
        if not dissent:
            lines.append("Dissent: none")
        else:
            lines.append("Dissent:")
            for entry in dissent:
                held = shorten(one_line(entry.get("final_position")), 160, pointer)
                lines.append(f"  {name(entry.get('agent'))} holds: {held}")
                reasons = entry.get("reasons")
                if isinstance(reasons, str) and reasons.strip():
                    lines.extend(wrapped(reasons, WIDTH, "    ", max_lines=2, pointer=pointer))
    else:
        positions = [p for p in document.get("positions") or () if isinstance(p, Mapping)]
        if positions:
            lines.append("Final positions:")
            for entry in positions:
                held = shorten(one_line(entry.get("final_position")), 160, pointer) or "(none)"
                lines.append(f"  {name(entry.get('agent'))}: {held}")
    changed = []
    for entry in document.get("positions") or ():
        if isinstance(entry, Mapping) and entry.get("changed_mind"):
            rounds = [str(r) for r in entry.get("changed_in_rounds") or ()]
            when = f" (round {', '.join(rounds)})" if rounds else ""
            changed.append(f"{name(entry.get('agent'))}{when}")
    if changed:
        lines.append(f"Changed their minds: {', '.join(changed)}")
    return lines


def _cost(document: Mapping[str, Any], name: Any) -> list[str]:
    cost = document.get("cost")
    if not isinstance(cost, Mapping):
        return []
    per_agent = cost.get("per_agent")
    per_agent = per_agent if isinstance(per_agent, Mapping) else {}
    calls = sum(_int(e.get("calls")) for e in per_agent.values() if isinstance(e, Mapping))
    estimated = bool(cost.get("estimated"))
    line = (
        f"Cost: {_tokens(cost, estimated)} ({_int(cost.get('input_tokens')):,} in, "
        f"{_int(cost.get('output_tokens')):,} out) · ${_number(cost.get('usd')) or 0.0:.4f} · "
        f"{count(calls, 'call')}"
    )
    lines = [line]
    if estimated:
        lines.append("  estimated: a provider reported no usage, so tokens were counted locally")
    queued = _number(document.get("queued_ms")) or 0.0
    if queued >= 1:
        lines.append(
            f"  waited {queued / 1000:.3g} s in all in provider limits before calls were sent"
            " (ARAGORA_AGENT_LIMITS)"
        )
    references = document.get("references")
    knowledge = _int(document.get("knowledge_tokens"))
    if knowledge and isinstance(references, Sequence):
        lines.append(
            f"  past decisions in the context: {count(len(references), 'item')}, "
            f"{count(knowledge, 'token')} in every prompt"
        )
    for agent, entry in sorted(per_agent.items()):
        if not isinstance(entry, Mapping):
            continue
        agent_estimated = bool(entry.get("estimated"))
        lines.append(
            f"  {name(agent)}: {_tokens(entry, agent_estimated)} · "
            f"${_number(entry.get('usd')) or 0.0:.4f} · {count(_int(entry.get('calls')), 'call')}"
        )
    return lines


def _tokens(usage: Mapping[str, Any], estimated: bool) -> str:
    text = count(_int(usage.get("tokens")), "token")
    return f"~{text} (estimated)" if estimated else text


def _record(document: Mapping[str, Any]) -> list[str]:
    recorded: list[str] = []
    receipt = document.get("receipt")
    if isinstance(receipt, Mapping) and receipt.get("id"):
        recorded.append(f"receipt {one_line(receipt['id'])}")
    items = document.get("knowledge_items")
    if isinstance(items, Sequence) and not isinstance(items, str) and items:
        recorded.append(count(len(items), "knowledge item"))
    lines = [f"Recorded: {', '.join(recorded)}"] if recorded else []
    duration = _number(document.get("duration_seconds"))
    if duration is not None:
        lines.append(f"Time: {duration:.1f} s")
    return lines


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: object) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _score(value: object) -> str:
    number = _number(value)
    return f"{number:g}" if number is not None else one_line(value)


def print_outcome(
    document: Mapping[str, Any],
    out: TextIO,
    err: TextIO,
    *,
    style: Style,
    as_json: bool,
    pointer: str,
) -> int:
    """Print the final document (``as_json``: exactly as ``GET /api/v1/debates/{id}``
    serves it) or its summary; the exit status: 0 when the debate completed (with or
    without a decision: the summary says which), 1 when it failed or was cancelled."""
    if as_json:
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        for line in summary_lines(document, style, pointer=pointer):
            out.write(line + "\n")
    out.flush()
    status = document.get("status")
    if status == "completed":
        return 0
    reason = _why(document) or status
    err.write(f"aragora: debate {one_line(status)}: {reason}\n")
    return 1
