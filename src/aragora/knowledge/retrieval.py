"""Past decisions for new debates: the context source that shows a debate the relevant
decisions of earlier ones, and the end check that warns when a verdict contradicts a past
decision on the same question.

Relevance is the full-text search of the index (to find candidates) re-ranked by
:func:`~aragora.debate.normalize.lexical_similarity` between the new question and each
past one: search scores are comparable within one search only, while the similarity is an
absolute measure in [0, 1] that a floor can be set on, the same for SQLite, PostgreSQL and
the in-memory index.

The index matches items holding *every* query word, so a question that differs from a
past one by a single word would find nothing with one search. Candidates therefore come
from a few searches on the question's key words (its longest content words, at most
:data:`KEY_WORDS`): all of them together, all but one, and each alone (at most
``2 * KEY_WORDS + 1`` indexed queries, made together in one round trip), taken in that
order until enough candidates are found; the index does not search past that point
(``search_each``'s ``enough``), so among many similar decisions the broad one-word
queries cost nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aragora.debate.events import Event, EventType
from aragora.debate.normalize import lexical_similarity, normalize_answer
from aragora.errors import DatabaseUnavailableError
from aragora.knowledge.ingest import CONFLICT_CODE, decision_id
from aragora.records.knowledge import KnowledgeIndex, KnowledgeItem, SearchFilters

__all__ = [
    "CONTEXT_TOKENS",
    "RELEVANCE_FLOOR",
    "SAME_ANSWER",
    "SAME_QUESTION",
    "ConflictCheck",
    "PastDecisions",
    "RelevantDecision",
    "relevant_decisions",
    "rough_tokens",
    "search_queries",
]

RELEVANCE_FLOOR = 0.3
"""Least similarity of questions for a past decision to be shown to a new debate
(``ARAGORA_KNOWLEDGE_RELEVANCE``). Paraphrases and questions on the same subject measure
0.43 to 0.73; questions sharing one content word and nothing else 0.14 to 0.26 (one shared
word between two short questions of two and three content words: 1/sqrt(15) = 0.258), so
0.3 keeps a merely shared word out. See README, "Past decisions as context"."""
CONTEXT_TOKENS = 800
"""Most tokens the past decisions shown to a debate may add to each prompt
(``ARAGORA_KNOWLEDGE_CONTEXT_TOKENS``): three decisions of a few sentences each."""
HEADING = "Relevant past decisions:"
SAME_QUESTION = 0.85
"""Least similarity of questions for two decisions to answer the same question. High on
purpose: a warning about a merely related question would be noise."""
SAME_ANSWER = 0.8
"""Free-text answers at least this similar count as the same answer."""
_log = logging.getLogger("aragora.knowledge")
KEY_WORDS = 6
"""How many of a question's words candidates are searched by."""
_CANDIDATES = 20
_ANSWER_CHARS = 300
_WORD = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset(
    (
        *("a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on"),
        *("at", "by", "for", "with", "from", "as", "into", "than", "that", "this", "these"),
        *("those", "it", "its", "is", "are", "was", "were", "be", "been", "being", "do"),
        *("does", "did", "have", "has", "had", "i", "we", "you", "he", "she", "they", "them"),
        *("my", "our", "your", "their", "me", "us", "not", "just", "also", "very", "can"),
        *("could", "would", "should", "will", "shall", "may", "might", "must", "there", "here"),
        *("which", "who", "whom", "what", "when", "where", "why", "how", "all", "any", "some"),
        *("such", "more", "most", "other", "use", "using", "new"),
    )
)


@dataclass(frozen=True, slots=True)
class RelevantDecision:
    """A past decision and how close its question is to the new one (0..1)."""

    item: KnowledgeItem
    score: float

    @property
    def question(self) -> str:
        return _question(self.item)

    @property
    def answer(self) -> str:
        return _answer(self.item)

    def reference(self) -> dict[str, Any]:
        """The attribution recorded in the debate (``references`` of its document)."""
        return {
            "id": self.item.id,
            "kind": self.item.kind,
            "title": self.item.title,
            "score": round(self.score, 4),
            "debate_id": self.item.source_debate_id,
        }


async def relevant_decisions(
    index: KnowledgeIndex,
    question: str,
    *,
    limit: int = 3,
    floor: float = RELEVANCE_FLOOR,
    exclude: Sequence[str] = (),
) -> list[RelevantDecision]:
    """Past decisions whose question is at least ``floor`` similar to ``question``, most
    similar first (newest first among equals), at most ``limit``. Only decisions tagged
    ``consensus`` count: a knowledge base written before no-consensus outcomes stopped
    being ingested (or imported from one) may hold others, and they are no decision."""
    candidates: dict[str, KnowledgeItem] = {}
    decisions = SearchFilters(kinds=("decision",), tags=("consensus",))
    queries = search_queries(question)
    found_each = await index.search_each(
        queries, limit=_CANDIDATES, filters=decisions, enough=_CANDIDATES
    )  # enough from the more specific searches: the broad ones are not made (they add noise)
    for items in found_each:
        for item in items:
            candidates.setdefault(item.id, item)
    found = []
    for item in candidates.values():
        if item.id in exclude or item.kind != "decision":
            continue
        score = lexical_similarity(question, _question(item))
        if score >= floor:
            found.append(RelevantDecision(item, score))
    found.sort(key=lambda d: (-d.score, -d.item.created_at.timestamp(), d.item.id))
    return found[:limit]


def search_queries(question: str) -> list[str]:
    """The searches that find candidates for ``question``: its key words all together,
    all but one, and each alone (see the module docstring)."""
    words: list[str] = []
    for word in _WORD.findall(question.casefold()):
        if word not in _STOPWORDS and word not in words and (len(word) > 1 or word.isdigit()):
            words.append(word)
    if not words:
        return []
    key = sorted(words, key=len, reverse=True)[:KEY_WORDS]
    key.sort(key=words.index)  # back in the question's order
    queries = [" ".join(key)]
    if len(key) > 2:
        queries += [" ".join(key[:n] + key[n + 1 :]) for n in range(len(key))]
    if len(key) > 1:
        queries += key
    return queries


def rough_tokens(text: str) -> int:
    """Four characters a token, the usual rule of thumb for English (the composition root
    passes the calibrated estimate of :mod:`aragora.agents.tokens` instead)."""
    return -(-len(text) // 4)


class PastDecisions:
    """The context source: the most relevant past decisions (at most ``k``, each at least
    ``floor`` similar) as background, each with its id, within ``budget_tokens`` of context
    as ``count_tokens`` counts them; and their references for attribution, each with the
    ``tokens`` its line costs every prompt (the first one's includes the heading line).

    A decision that does not fit in what is left of the budget is left out (a shorter,
    less relevant one may still fit); a budget of 0 shows none."""

    def __init__(
        self,
        index: KnowledgeIndex,
        *,
        k: int = 3,
        floor: float = RELEVANCE_FLOOR,
        budget_tokens: int = CONTEXT_TOKENS,
        count_tokens: Callable[[str], int] = rough_tokens,
    ):
        if k < 0 or budget_tokens < 0 or not 0 <= floor <= 1:
            raise ValueError("past decisions need k >= 0, budget_tokens >= 0, 0 <= floor <= 1")
        self._index = index
        self._k = k
        self._floor = floor
        self._budget = budget_tokens
        self._count = count_tokens

    async def __call__(self, task: str, context: str) -> tuple[str, list[dict[str, Any]]]:
        if self._k == 0 or self._budget == 0:
            return "", []
        found = await relevant_decisions(self._index, task, limit=self._k, floor=self._floor)
        block = HEADING
        references: list[dict[str, Any]] = []
        spent = 0  # tokens of the block shown so far (0 while it shows nothing)
        for decision in found:
            item = decision.item
            confidence = "" if item.confidence is None else f", confidence {item.confidence:.2f}"
            line = (
                f"- [{item.id}] {_clip(decision.question)} -> {_clip(decision.answer)}"
                f" (decided {item.created_at.date().isoformat()}{confidence})"
            )
            grown = f"{block}\n{line}"
            cost = self._count(grown) - spent  # so the items' costs add up to the block's
            if spent + cost > self._budget:
                continue
            block, spent = grown, spent + cost
            references.append({**decision.reference(), "tokens": cost})
        if not references:
            return "", []
        return block, references


class ConflictCheck:
    """The end check: a ``knowledge_conflict`` warning for each past decision on the same
    question (similarity ≥ :data:`SAME_QUESTION`) whose answer differs from the new
    verdict. Idempotent: nothing when the debate already carries such a warning."""

    def __init__(self, index: KnowledgeIndex, *, limit: int = 3) -> None:
        self._index = index
        self._limit = limit

    async def __call__(
        self, debate_id: str, events: Sequence[Event], end: Event
    ) -> list[dict[str, Any]]:
        if any(e.type == EventType.WARNING and e.data.get("code") == CONFLICT_CODE for e in events):
            return []
        result = end.data.get("result")
        if not isinstance(result, Mapping) or result.get("status", "completed") != "completed":
            return []
        new_answer = result.get("final_answer")
        question = _task_of(events)
        if not isinstance(new_answer, str) or not new_answer.strip() or not question:
            return []
        try:
            same_question = await relevant_decisions(
                self._index,
                question,
                limit=self._limit,
                floor=SAME_QUESTION,
                exclude=(decision_id(debate_id),),
            )
        except DatabaseUnavailableError:
            raise  # the debate ends again later, when the database is back
        except Exception:  # a warning is a help, never a reason for a debate not to end
            _log.exception("knowledge conflict check failed for debate %s", debate_id)
            return []
        warnings = []
        for past in same_question:
            if _same_answer(past.answer, new_answer):
                continue
            warnings.append(
                {
                    "code": CONFLICT_CODE,
                    "message": f"the verdict {_clip(new_answer, 80)!r} contradicts past decision "
                    f"{past.item.id} on the same question ({_clip(past.answer, 80)!r})",
                    "item_id": past.item.id,
                    "past_answer": past.answer,
                    "new_answer": new_answer,
                    "similarity": round(past.score, 4),
                }
            )
        return warnings


def _same_answer(a: str, b: str) -> bool:
    key_a, key_b = normalize_answer(a), normalize_answer(b)
    return key_a == key_b or lexical_similarity(a, b) >= SAME_ANSWER


def _task_of(events: Sequence[Event]) -> str:
    for event in events:
        if event.type == EventType.DEBATE_START:
            return str(event.data.get("task") or "")
    return ""


def _question(item: KnowledgeItem) -> str:
    value = item.provenance.get("question")
    return value if isinstance(value, str) and value else item.title


def _answer(item: KnowledgeItem) -> str:
    value = item.provenance.get("answer")
    if isinstance(value, str) and value:
        return value
    first = item.content.split("\n", 1)[0]
    return first.removeprefix("Decision: ")


def _clip(text: str, limit: int = _ANSWER_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
