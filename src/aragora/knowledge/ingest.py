"""From a finished debate to knowledge items: its decision, its key claims, its dissent.

For a completed debate that reached consensus (with a quorum of valid answers):

- one ``decision`` item, ``dec-<debate_id>``: the question as title, the answer and the
  best reasons behind it as content, the debate's confidence, tags from its mode and
  consensus, provenance (debate, rule, rounds, agents, question, answer);
- one ``claim`` item per distinct final position, ``clm-<debate_id>-<n>`` (n = 1, 2, ...
  in panel order): the position with its holders' best reasons; it ``supports`` the
  decision when it is the decided answer and ``contradicts`` it otherwise;
- one ``dissent`` item per dissenting agent, ``dis-<debate_id>-<agent-slug>``, which
  ``contradicts`` the decision;
- and, when the debate ended with a ``knowledge_conflict`` warning, a ``contradicts``
  link from the new decision to the past one it disagrees with.

Ids and timestamps come from the debate (its id and its events), never the clock, so
ingesting the same debate again, after a resume or a re-run of the finisher, writes
identical items and changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aragora.debate.events import Event, EventType
from aragora.debate.normalize import normalize_answer
from aragora.errors import NotFoundError
from aragora.knowledge.format import parse_time
from aragora.records.knowledge import (
    MAX_CONTENT_CHARS,
    MAX_TITLE_CHARS,
    KnowledgeItem,
    KnowledgeLink,
    KnowledgeRepository,
)

__all__ = [
    "CONFLICT_CODE",
    "DebateKnowledge",
    "KnowledgeIngest",
    "claim_id",
    "conflicting_items",
    "decision_id",
    "dissent_id",
    "knowledge_of_debate",
]

CONFLICT_CODE = "knowledge_conflict"
_SLUG = re.compile(r"[^a-z0-9]+")
_log = logging.getLogger("aragora.knowledge")


def decision_id(debate_id: str) -> str:
    """The id of a debate's decision item."""
    return f"dec-{debate_id}"


def claim_id(debate_id: str, n: int) -> str:
    """The id of a debate's ``n``-th claim (1-based)."""
    return f"clm-{debate_id}-{n}"


def dissent_id(debate_id: str, agent: str) -> str:
    """The id of an agent's dissent in a debate (the agent's name as a slug)."""
    slug = _SLUG.sub("-", agent.casefold()).strip("-")[:60] or "agent"
    return f"dis-{debate_id}-{slug}"


class DebateKnowledge:
    """The items and links one finished debate contributes (see the module docstring)."""

    def __init__(self, items: Sequence[KnowledgeItem], links: Sequence[KnowledgeLink]) -> None:
        self.items = tuple(items)
        self.links = tuple(links)


def knowledge_of_debate(
    document: Mapping[str, Any], events: Sequence[Event] = ()
) -> DebateKnowledge:
    """The items and links of a finished debate's ``document`` (and its ``events``, for
    conflict warnings); nothing for a debate that did not reach a decision: only a
    consensus reached with a quorum of valid answers becomes knowledge that later debates
    are shown, never a plurality, a tie or a failure."""
    debate_id = str(document.get("id") or "")
    final = document.get("final_answer")
    task = document.get("task")
    when_text = document.get("completed_at") or document.get("started_at")
    if (
        document.get("status") != "completed"
        or not document.get("consensus_reached")
        or not isinstance(final, str)
        or not final.strip()
        or not isinstance(task, str)
        or not task.strip()
        or not debate_id
        or not isinstance(when_text, str)
    ):
        return DebateKnowledge((), ())
    when = parse_time(when_text, "completed_at")
    agents = [str(a.get("name")) for a in document.get("agents") or () if isinstance(a, dict)]
    votes = {str(v.get("agent")): v for v in document.get("votes") or () if isinstance(v, Mapping)}
    positions = [p for p in document.get("positions") or () if isinstance(p, Mapping)]
    mode = str(document.get("mode") or "unknown")
    rule = str(document.get("consensus_rule") or "unknown")
    reached = bool(document.get("consensus_reached"))
    confidence = _fraction(document.get("confidence"))

    decision = KnowledgeItem(
        id=decision_id(debate_id),
        kind="decision",
        title=_clip(task, MAX_TITLE_CHARS),
        content=_clip(
            _decision_text(final, [p for p in positions if p.get("agrees")], votes),
            MAX_CONTENT_CHARS,
        ),
        created_at=when,
        updated_at=when,
        source_debate_id=debate_id,
        confidence=confidence,
        tags=(f"mode:{mode}", f"consensus:{rule}", "consensus" if reached else "no-consensus"),
        provenance={
            "debate_id": debate_id,
            "question": task,
            "answer": final,
            "rule": rule,
            "mode": mode,
            "rounds": document.get("rounds_used"),
            "agents": agents,
            "consensus_reached": reached,
        },
    )
    items = [decision]
    links: list[KnowledgeLink] = []

    # Claims: one per distinct final position, holders in panel order.
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for position in positions:
        text = str(position.get("final_position") or "")
        key = normalize_answer(text)
        if key:
            groups.setdefault(key, []).append(position)
    for n, holders in enumerate(groups.values(), start=1):
        stance = str(holders[0].get("final_position"))
        agrees = bool(holders[0].get("agrees"))
        held_by = [str(h.get("agent")) for h in holders]
        confidences = [
            c
            for h in holders
            if (c := _fraction((votes.get(str(h.get("agent"))) or {}).get("confidence")))
            is not None
        ]
        claim = KnowledgeItem(
            id=claim_id(debate_id, n),
            kind="claim",
            title=_clip(stance, MAX_TITLE_CHARS),
            content=_clip(_reasons_text(holders, votes), MAX_CONTENT_CHARS),
            created_at=when,
            updated_at=when,
            source_debate_id=debate_id,
            source_agent=held_by[0],
            confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
            tags=("claim", "agrees" if agrees else "disagrees"),
            provenance={"debate_id": debate_id, "question": task, "held_by": held_by},
        )
        items.append(claim)
        links.append(
            KnowledgeLink(claim.id, decision.id, "supports" if agrees else "contradicts", when)
        )

    # Dissent: one per agent whose final position is not the decision.
    used: set[str] = set()
    for view in document.get("dissent") or ():
        if not isinstance(view, Mapping):
            continue
        agent = str(view.get("agent") or "")
        item_id = dissent_id(debate_id, agent)
        suffix = 2
        while item_id in used:  # two names with the same slug
            item_id = f"{dissent_id(debate_id, agent)}-{suffix}"
            suffix += 1
        used.add(item_id)
        stance = str(view.get("final_position") or "")
        dissent = KnowledgeItem(
            id=item_id,
            kind="dissent",
            title=_clip(f"{agent} dissents: {stance or 'no answer'}", MAX_TITLE_CHARS),
            content=_clip(str(view.get("reasons") or ""), MAX_CONTENT_CHARS),
            created_at=when,
            updated_at=when,
            source_debate_id=debate_id,
            source_agent=agent,
            confidence=_fraction((votes.get(agent) or {}).get("confidence")),
            tags=("dissent",),
            provenance={
                "debate_id": debate_id,
                "question": task,
                "position": stance,
                "decision": final,
                "changed_mind": bool(view.get("changed_mind")),
            },
        )
        items.append(dissent)
        links.append(KnowledgeLink(dissent.id, decision.id, "contradicts", when))

    for past in conflicting_items(events):
        if past != decision.id:
            links.append(KnowledgeLink(decision.id, past, "contradicts", when))
    return DebateKnowledge(items, links)


def conflicting_items(events: Sequence[Event]) -> list[str]:
    """Ids of past decisions the debate's ``knowledge_conflict`` warnings name, in order."""
    found: list[str] = []
    for event in events:
        if event.type == EventType.WARNING and event.data.get("code") == CONFLICT_CODE:
            item_id = event.data.get("item_id")
            if isinstance(item_id, str) and item_id not in found:
                found.append(item_id)
    return found


class KnowledgeIngest:
    """The runner's finisher that stores a finished debate's knowledge (idempotent).

    Adds ``knowledge_items`` (the ids written) to the debate document. A conflict link
    to a past decision deleted meanwhile is left out rather than failing the write."""

    def __init__(self, repository: KnowledgeRepository) -> None:
        self._repository = repository

    async def __call__(
        self, debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        knowledge = knowledge_of_debate(document, events)
        if not knowledge.items:
            return None
        own = {item.id for item in knowledge.items}
        links = []
        for link in knowledge.links:
            if link.target_id not in own and not await self._exists(link.target_id):
                continue
            links.append(link)
        changed = await self._repository.put(knowledge.items, links)
        if changed:
            _log.info("ingested debate %s: %d knowledge items written", debate_id, changed)
        return {"knowledge_items": [item.id for item in knowledge.items]}

    async def _exists(self, item_id: str) -> bool:
        try:
            await self._repository.get(item_id)
        except NotFoundError:
            return False
        return True


def _decision_text(
    final: str, supporters: Sequence[Mapping[str, Any]], votes: Mapping[str, Mapping[str, Any]]
) -> str:
    text = f"Decision: {final}"
    reasons = _reasons_text(supporters, votes)
    return f"{text}\n\n{reasons}" if reasons else text


def _reasons_text(
    holders: Sequence[Mapping[str, Any]], votes: Mapping[str, Mapping[str, Any]]
) -> str:
    """The holders' reasons, most confident first, each once."""

    def confidence(holder: Mapping[str, Any]) -> float:
        value = _fraction((votes.get(str(holder.get("agent"))) or {}).get("confidence"))
        return -1.0 if value is None else value

    lines: list[str] = []
    for holder in sorted(holders, key=confidence, reverse=True):
        reasons = str(holder.get("reasons") or "").strip()
        line = f"- {holder.get('agent')}: {reasons}"
        if reasons and line not in lines:
            lines.append(line)
    return ("Reasons:\n" + "\n".join(lines)) if lines else ""


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(1.0, max(0.0, float(value)))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
