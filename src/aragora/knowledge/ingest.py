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
from dataclasses import dataclass
from datetime import datetime
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
    "DecidedDebate",
    "KnowledgeIngest",
    "Stance",
    "claim_id",
    "conflicting_items",
    "decided_debate",
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


@dataclass(frozen=True, slots=True)
class Stance:
    """An agent's final position in a debate document, with its reasons."""

    agent: str
    position: str
    agrees: bool
    reasons: str
    changed_mind: bool = False


@dataclass(frozen=True, slots=True)
class DecidedDebate:
    """What ingest reads of a debate document that reached a decision (see
    :func:`decided_debate`): values as the document has them, tolerant of older documents."""

    debate_id: str
    task: str
    final_answer: str
    when: datetime
    mode: str
    rule: str
    rounds: object
    """``rounds_used`` as the document says it (provenance only)."""
    confidence: float | None
    agents: tuple[str, ...]
    positions: tuple[Stance, ...]
    dissent: tuple[Stance, ...]
    vote_confidence: Mapping[str, float | None]
    """Each voter's stated confidence in [0, 1] (None when it gave no number)."""

    def confidence_of(self, agent: str) -> float | None:
        return self.vote_confidence.get(agent)


def decided_debate(document: Mapping[str, Any]) -> DecidedDebate | None:
    """Read a finished debate's document (as built or as stored); ``None`` unless it
    completed with consensus on a non-empty answer to a non-empty task, with a time.
    Entries of the wrong shape are skipped and missing fields read as empty."""
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
        return None
    votes = [v for v in document.get("votes") or () if isinstance(v, Mapping)]
    return DecidedDebate(
        debate_id=debate_id,
        task=task,
        final_answer=final,
        when=parse_time(when_text, "completed_at"),
        mode=str(document.get("mode") or "unknown"),
        rule=str(document.get("consensus_rule") or "unknown"),
        rounds=document.get("rounds_used"),
        confidence=_fraction(document.get("confidence")),
        agents=tuple(
            str(a.get("name")) for a in document.get("agents") or () if isinstance(a, dict)
        ),
        positions=tuple(
            _position(p) for p in document.get("positions") or () if isinstance(p, Mapping)
        ),
        dissent=tuple(_dissent(v) for v in document.get("dissent") or () if isinstance(v, Mapping)),
        vote_confidence={str(v.get("agent")): _fraction(v.get("confidence")) for v in votes},
    )


def _position(data: Mapping[str, Any]) -> Stance:
    return Stance(
        agent=str(data.get("agent")),
        position=str(data.get("final_position") or ""),
        agrees=bool(data.get("agrees")),
        reasons=str(data.get("reasons") or ""),
    )


def _dissent(data: Mapping[str, Any]) -> Stance:
    return Stance(
        agent=str(data.get("agent") or ""),
        position=str(data.get("final_position") or ""),
        agrees=False,
        reasons=str(data.get("reasons") or ""),
        changed_mind=bool(data.get("changed_mind")),
    )


def knowledge_of_debate(
    document: Mapping[str, Any], events: Sequence[Event] = ()
) -> DebateKnowledge:
    """The items and links of a finished debate's ``document`` (and its ``events``, for
    conflict warnings); nothing for a debate that did not reach a decision: only a
    consensus reached with a quorum of valid answers becomes knowledge that later debates
    are shown, never a plurality, a tie or a failure."""
    debate = decided_debate(document)
    if debate is None:
        return DebateKnowledge((), ())
    decision = _decision(debate)
    claims = _claims(debate)
    dissents = _dissents(debate)
    links = [
        KnowledgeLink(c.id, decision.id, "supports" if agrees else "contradicts", debate.when)
        for c, agrees in claims
    ]
    links += [KnowledgeLink(d.id, decision.id, "contradicts", debate.when) for d in dissents]
    links += [
        KnowledgeLink(decision.id, past, "contradicts", debate.when)
        for past in conflicting_items(events)
        if past != decision.id
    ]
    return DebateKnowledge([decision, *(c for c, _ in claims), *dissents], links)


def _decision(debate: DecidedDebate) -> KnowledgeItem:
    """The ``decision`` item: the question, the answer and the best reasons behind it."""
    supporters = [p for p in debate.positions if p.agrees]
    return KnowledgeItem(
        id=decision_id(debate.debate_id),
        kind="decision",
        title=_clip(debate.task, MAX_TITLE_CHARS),
        content=_clip(_decision_text(debate, supporters), MAX_CONTENT_CHARS),
        created_at=debate.when,
        updated_at=debate.when,
        source_debate_id=debate.debate_id,
        confidence=debate.confidence,
        tags=(f"mode:{debate.mode}", f"consensus:{debate.rule}", "consensus"),
        provenance={
            "debate_id": debate.debate_id,
            "question": debate.task,
            "answer": debate.final_answer,
            "rule": debate.rule,
            "mode": debate.mode,
            "rounds": debate.rounds,
            "agents": list(debate.agents),
            "consensus_reached": True,
        },
    )


def _claims(debate: DecidedDebate) -> list[tuple[KnowledgeItem, bool]]:
    """One ``claim`` item per distinct final position (holders in panel order), each with
    whether it agrees with the decision."""
    groups: dict[str, list[Stance]] = {}
    for position in debate.positions:
        key = normalize_answer(position.position)
        if key:
            groups.setdefault(key, []).append(position)
    claims = []
    for n, holders in enumerate(groups.values(), start=1):
        agrees = holders[0].agrees
        held_by = [h.agent for h in holders]
        confidences = [c for h in holders if (c := debate.confidence_of(h.agent)) is not None]
        claim = KnowledgeItem(
            id=claim_id(debate.debate_id, n),
            kind="claim",
            title=_clip(holders[0].position, MAX_TITLE_CHARS),
            content=_clip(_reasons_text(debate, holders), MAX_CONTENT_CHARS),
            created_at=debate.when,
            updated_at=debate.when,
            source_debate_id=debate.debate_id,
            source_agent=held_by[0],
            confidence=round(sum(confidences) / len(confidences), 4) if confidences else None,
            tags=("claim", "agrees" if agrees else "disagrees"),
            provenance={"debate_id": debate.debate_id, "question": debate.task, "held_by": held_by},
        )
        claims.append((claim, agrees))
    return claims


def _dissents(debate: DecidedDebate) -> list[KnowledgeItem]:
    """One ``dissent`` item per agent whose final position is not the decision."""
    items: list[KnowledgeItem] = []
    used: set[str] = set()
    for view in debate.dissent:
        item_id = dissent_id(debate.debate_id, view.agent)
        suffix = 2
        while item_id in used:  # two names with the same slug
            item_id = f"{dissent_id(debate.debate_id, view.agent)}-{suffix}"
            suffix += 1
        used.add(item_id)
        title = f"{view.agent} dissents: {view.position or 'no answer'}"
        items.append(
            KnowledgeItem(
                id=item_id,
                kind="dissent",
                title=_clip(title, MAX_TITLE_CHARS),
                content=_clip(view.reasons, MAX_CONTENT_CHARS),
                created_at=debate.when,
                updated_at=debate.when,
                source_debate_id=debate.debate_id,
                source_agent=view.agent,
                confidence=debate.confidence_of(view.agent),
                tags=("dissent",),
                provenance={
                    "debate_id": debate.debate_id,
                    "question": debate.task,
                    "position": view.position,
                    "decision": debate.final_answer,
                    "changed_mind": view.changed_mind,
                },
            )
        )
    return items


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


def _decision_text(debate: DecidedDebate, supporters: Sequence[Stance]) -> str:
    text = f"Decision: {debate.final_answer}"
    reasons = _reasons_text(debate, supporters)
    return f"{text}\n\n{reasons}" if reasons else text


def _reasons_text(debate: DecidedDebate, holders: Sequence[Stance]) -> str:
    """The holders' reasons, most confident first, each once."""

    def confidence(holder: Stance) -> float:
        value = debate.confidence_of(holder.agent)
        return -1.0 if value is None else value

    lines: list[str] = []
    for holder in sorted(holders, key=confidence, reverse=True):
        reasons = holder.reasons.strip()
        line = f"- {holder.agent}: {reasons}"
        if reasons and line not in lines:
            lines.append(line)
    return ("Reasons:\n" + "\n".join(lines)) if lines else ""


def _fraction(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return min(1.0, max(0.0, float(value)))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
