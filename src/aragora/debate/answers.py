"""The structured answer formats agents are asked to use, and tolerant parsers for them.

Agents are asked to reply in labelled lines::

    ANSWER: <one line, the short answer>          propose / revise
    CONFIDENCE: <0..1, or a percentage>
    REASONING: <free text, may span lines>

    CRITIQUE: <free text>                          critique
    SCORE: <0..1, how sound the answers critiqued are>

    CHOICE: <option number>                        vote / judge
    CONFIDENCE: <0..1>
    REASONING: <free text>

Parsers never raise: whatever a model returns (prose, JSON, markdown, garbage, nothing)
becomes a parsed value plus a list of ``problems`` the engine records as warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ParsedAnswer",
    "ParsedCritique",
    "ParsedVote",
    "format_answer",
    "format_critique",
    "format_vote",
]

DEFAULT_CONFIDENCE = 0.5


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """``answer`` is empty only when the text held nothing usable."""

    answer: str
    confidence: float
    reasoning: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedCritique:
    content: str
    score: float
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedVote:
    """``option`` is a 0-based index into the options shown, or ``None`` when the reply
    named no valid option (``raw_choice`` then holds what it said, for text matching)."""

    option: int | None
    raw_choice: str
    confidence: float
    reasoning: str
    problems: tuple[str, ...] = ()


def format_answer(answer: str, confidence: float, reasoning: str) -> str:
    """The reply format for propose/revise prompts (what a well-behaved agent returns)."""
    return f"ANSWER: {answer}\nCONFIDENCE: {confidence:.2f}\nREASONING: {reasoning}"


def format_critique(content: str, score: float) -> str:
    """The reply format for critique prompts."""
    return f"CRITIQUE: {content}\nSCORE: {score:.2f}"


def format_vote(option_number: int, confidence: float, reasoning: str) -> str:
    """The reply format for vote and judge prompts; ``option_number`` is 1-based as shown."""
    return f"CHOICE: {option_number}\nCONFIDENCE: {confidence:.2f}\nREASONING: {reasoning}"
