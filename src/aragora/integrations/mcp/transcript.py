"""A debate's transcript as Markdown, for the ``aragora://debates/{id}/transcript`` resource:
the task, every proposal, critique, revision and vote in order, and how it ended."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aragora.integrations.outcome import no_decision_text, outcome_of

__all__ = ["render_transcript"]

_ROLES = {
    "proposal": "proposes",
    "critique": "critiques",
    "revision": "revises",
    "vote": "votes",
}


def render_transcript(document: Mapping[str, Any]) -> str:
    """The document (``GET /api/v1/debates/{id}``) as Markdown, messages in full."""
    debate_id = str(document.get("id") or "")
    lines = [f"# Debate {debate_id}", "", f"**Task:** {document.get('task') or ''}"]
    context = document.get("context")
    if context:
        lines += ["", "**Context:**", "", str(context)]
    lines += [
        "",
        f"Mode {document.get('mode') or '?'}, status {document.get('status') or '?'}, "
        f"{document.get('rounds_used') or 0} round(s).",
    ]
    current_round: object = None
    for message in document.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        if message.get("round") != current_round:
            current_round = message.get("round")
            lines += ["", f"## Round {current_round}"]
        role = _ROLES.get(str(message.get("role")), str(message.get("role")))
        target = message.get("targets")
        aimed = f" ({', '.join(map(str, target))})" if isinstance(target, list) and target else ""
        lines += ["", f"### {message.get('agent')} {role}{aimed}", "", str(message.get("content"))]
    lines += ["", "## Outcome", ""]
    outcome = outcome_of(document)
    if document.get("status") in ("queued", "running"):
        lines.append(f"Still {document.get('status')}.")
    elif outcome.decided:
        confidence = f" (confidence {outcome.confidence:.2f})" if outcome.confidence else ""
        agreement = "consensus" if outcome.consensus_reached else (outcome.outcome or "decided")
        lines.append(f"**Verdict** ({agreement}){confidence}: {outcome.verdict}")
        for stance in outcome.dissent:
            lines.append(f"- {stance.get('agent')} dissents: {stance.get('final_position')}")
    else:
        lines.append(no_decision_text(outcome))
    return "\n".join(lines) + "\n"
