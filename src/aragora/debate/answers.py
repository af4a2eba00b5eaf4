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

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aragora.debate._text import (
    every_value,
    first_key,
    first_meaningful_line,
    json_object,
    json_text,
    prepare,
    read_fraction,
    reply_format,
    sections,
    shorten,
)
from aragora.debate.normalize import normalize_answer

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_SCORE",
    "MAX_ANSWER_CHARS",
    "ParsedAnswer",
    "ParsedCritique",
    "ParsedVote",
    "format_answer",
    "format_critique",
    "format_vote",
    "parse_answer",
    "parse_critique",
    "parse_vote",
]

DEFAULT_CONFIDENCE = 0.5
DEFAULT_SCORE = 0.5
MAX_ANSWER_CHARS = 1000
"""A labelled answer longer than this is cut, with a problem: answers are meant to be one line."""
_CHOICE_CHARS = 300


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """``answer`` is empty only when the text held nothing usable. ``labelled`` says the
    answer came from the reply's ANSWER label (or a JSON ``answer`` key), not from a guess
    at its first line; only a labelled answer can count (see :mod:`aragora.debate.validity`)."""

    answer: str
    confidence: float
    reasoning: str
    problems: tuple[str, ...] = ()
    labelled: bool = True
    conflicting: bool = False
    """The reply labelled more than one different answer ("Answer: A" … "Answer: A, C")."""


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


# The labels each format accepts besides its own, as models actually write them.
_REASONING_ALIASES = ("rationale", "explanation", "justification")
_CONFIDENCE_ALIASES = ("confidence level", "confidence score")
_ANSWER_FORMAT = reply_format(
    {
        "answer": ("final answer", "short answer"),
        "confidence": _CONFIDENCE_ALIASES,
        "reasoning": _REASONING_ALIASES,
    },
    frozenset({"reasoning"}),
)
_CRITIQUE_FORMAT = reply_format(
    {"critique": ("feedback", "review"), "score": ("rating",)}, frozenset({"critique"})
)
_VOTE_FORMAT = reply_format(
    {
        # A voter echoing the answer format ("ANSWER: 2") still names its choice.
        "choice": (
            *("vote", "my vote", "my choice", "chosen option", "selected option", "option"),
            *("final answer", "answer"),
        ),
        "confidence": _CONFIDENCE_ALIASES,
        "reasoning": _REASONING_ALIASES,
    },
    frozenset({"reasoning"}),
)
_ANSWER_JSON_KEYS = ("answer", "final_answer", "final answer")
_REASONING_JSON_KEYS = ("reasoning", "rationale", "explanation")
_CRITIQUE_JSON_KEYS = ("critique", "content", "feedback")
_CHOICE_JSON_KEYS = ("choice", "option", "vote")

_CONFIDENCE_MENTION = re.compile(
    r"\bconfidence(?:[ \t]+(?:level|score))?[ \t]*(?:[:=]|\bis\b|\bof\b)[ \t]*"
    r"(?P<value>[^\n]{1,40})",
    re.IGNORECASE | re.ASCII,
)
_CHOICE_NUMBER = re.compile(
    r"[ \t*_`\"'(\[#>]*(?:(?:option|choice|answer|number|no\.?)[ \t]*)?#?[ \t]*"
    r"(?P<n>[0-9]{1,6})(?![0-9]|[.,][0-9])",
    re.IGNORECASE | re.ASCII,
)
_OPTION_MENTION = re.compile(
    r"\b(?:option|choice)[ \t]*#?[ \t]*(?P<n>[0-9]{1,6})(?![0-9]|[.,][0-9])",
    re.IGNORECASE | re.ASCII,
)
_WORD = re.compile(r"[^\W_]+")

# Fast paths: a reply exactly in the requested format, one plain line per label, is read
# directly; it parses the same as the tolerant reader would (a property test checks this).
# Anything else - markdown, extra lines, colons, odd numbers - goes the tolerant way.
_FRACTION_TEXT = r"(?:0(?:\.[0-9]{1,4})?|1(?:\.0{1,4})?)"
_CANONICAL_ANSWER = re.compile(
    rf"ANSWER: (?P<answer>[^\n]+)\nCONFIDENCE: (?P<confidence>{_FRACTION_TEXT})"
    r"\nREASONING: (?P<reasoning>[^\n]+)"
)
_CANONICAL_CRITIQUE = re.compile(
    rf"CRITIQUE: (?P<critique>[^\n]+)\nSCORE: (?P<score>{_FRACTION_TEXT})"
)
_CANONICAL_VOTE = re.compile(
    rf"CHOICE: (?P<choice>[1-9][0-9]{{0,2}})\nCONFIDENCE: (?P<confidence>{_FRACTION_TEXT})"
    r"\nREASONING: (?P<reasoning>[^\n]+)"
)
_PLAIN_EXCLUDED = frozenset(":*`~<>{}[]#|_\\\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029：")


def _plain(value: str, limit: int = 100_000) -> bool:
    """A value the tolerant reader would return unchanged: trimmed, within ``limit``, and
    free of anything it treats specially (labels, markup, fences, tags, JSON, line breaks)."""
    return 0 < len(value) <= limit and value == value.strip() and _PLAIN_EXCLUDED.isdisjoint(value)


def parse_answer(text: str) -> ParsedAnswer:
    """Read a propose/revise reply; never raises. See :func:`_parse_answer_tolerant`."""
    match = _CANONICAL_ANSWER.fullmatch(text)
    if match and _plain(match["answer"], MAX_ANSWER_CHARS) and _plain(match["reasoning"]):
        return ParsedAnswer(match["answer"], float(match["confidence"]), match["reasoning"])
    return _parse_answer_tolerant(text)


def _parse_answer_tolerant(text: str) -> ParsedAnswer:
    """Read a propose/revise reply; never raises.

    Accepts the labelled format with labels in any case, markdown-styled (``**Answer:**``,
    ``## Answer`` with the value on the next line), inside code fences or prose, or a JSON
    object with ``answer``/``confidence``/``reasoning`` keys. The answer is the text on the
    ANSWER line (or the next non-blank line when that is empty). Without an ANSWER label the
    first meaningful line (at most 300 characters) is the answer and a problem is recorded;
    blank text gives answer ``""`` and the problem ``"empty reply"``; a labelled answer over
    :data:`MAX_ANSWER_CHARS` is shortened with a problem. Confidence may be ``0.8``, ``80%``,
    ``8/10``, ``8`` (tenths), ``85`` (percent) or high/medium/low (0.85/0.6/0.35), and is
    clamped to [0, 1] with a problem; missing, NaN, infinite or unreadable means
    :data:`DEFAULT_CONFIDENCE` plus a problem. Without a CONFIDENCE label a "confidence: x"
    in the prose counts. Reasoning is the REASONING section, else the rest of the text.
    """
    body = prepare(text)
    if not body.strip():
        return ParsedAnswer("", DEFAULT_CONFIDENCE, "", ("empty reply",), labelled=False)
    problems: list[str] = []
    data = json_object(body, _ANSWER_JSON_KEYS)
    if data is not None:
        answer = _limit(json_text(first_key(data, _ANSWER_JSON_KEYS)), problems)
        confidence = _confidence(first_key(data, ("confidence",)), "confidence", problems)
        reasoning = json_text(first_key(data, _REASONING_JSON_KEYS))
        return ParsedAnswer(answer, confidence, reasoning, tuple(problems), bool(answer))
    values, leftover = sections(body, _ANSWER_FORMAT)
    answer = values.get("answer", "")
    labelled = bool(answer)
    stated = {normalize_answer(v) for v in every_value(body, _ANSWER_FORMAT, "answer")}
    conflicting = len(stated - {""}) > 1
    if answer:
        answer = _limit(answer, problems)
    else:
        problems.append(
            "the ANSWER line was empty" if "answer" in values else _ANSWER_FORMAT.problem
        )
        answer, leftover = first_meaningful_line(leftover or values.get("reasoning", ""))
        if not answer:
            problems.append("reply held no usable answer")
    confidence = _confidence(values.get("confidence"), "confidence", problems, body=body)
    reasoning = values.get("reasoning") or leftover
    return ParsedAnswer(answer, confidence, reasoning, tuple(problems), labelled, conflicting)


def parse_critique(text: str) -> ParsedCritique:
    """Read a critique reply; never raises. See :func:`_parse_critique_tolerant`."""
    match = _CANONICAL_CRITIQUE.fullmatch(text)
    if match and _plain(match["critique"]):
        return ParsedCritique(match["critique"], float(match["score"]))
    return _parse_critique_tolerant(text)


def _parse_critique_tolerant(text: str) -> ParsedCritique:
    """Read a critique reply; never raises.

    The content is the CRITIQUE section (labels as tolerant as in :func:`parse_answer`), or
    the ``critique``/``content``/``feedback`` value of a JSON object; without a label it is
    the whole reply apart from the SCORE line, with a problem. The score reads like a
    confidence; missing or unreadable means :data:`DEFAULT_SCORE` plus a problem. Blank text
    gives content ``""`` and the problem ``"empty reply"``.
    """
    body = prepare(text)
    if not body.strip():
        return ParsedCritique("", DEFAULT_SCORE, ("empty reply",))
    problems: list[str] = []
    data = json_object(body, _CRITIQUE_JSON_KEYS)
    if data is not None:
        content = json_text(first_key(data, _CRITIQUE_JSON_KEYS))
        score = _confidence(first_key(data, ("score",)), "score", problems, DEFAULT_SCORE)
        return ParsedCritique(content, score, tuple(problems))
    values, leftover = sections(body, _CRITIQUE_FORMAT)
    content = values.get("critique", "")
    if not content:
        problems.append(
            "the CRITIQUE section was empty" if "critique" in values else _CRITIQUE_FORMAT.problem
        )
        content = leftover
    score = _confidence(values.get("score"), "score", problems, DEFAULT_SCORE)
    return ParsedCritique(content, score, tuple(problems))


def parse_vote(text: str, option_count: int, options: Sequence[str] = ()) -> ParsedVote:
    """Read a vote or judge reply; never raises. See :func:`_parse_vote_tolerant`."""
    match = _CANONICAL_VOTE.fullmatch(text)
    if match and _plain(match["reasoning"]) and 1 <= int(match["choice"]) <= option_count:
        return ParsedVote(
            int(match["choice"]) - 1,
            match["choice"],
            float(match["confidence"]),
            match["reasoning"],
        )
    return _parse_vote_tolerant(text, option_count, options)


def _parse_vote_tolerant(text: str, option_count: int, options: Sequence[str] = ()) -> ParsedVote:
    """Read a vote or judge reply naming one of ``option_count`` options; never raises.

    The choice is the CHOICE (or VOTE) line, or the ``choice``/``option``/``vote`` value of a
    JSON object; without a label, the first meaningful line, with a problem. A number in it
    ("2", "Option 2", "option #2", "2.", "**2**") within 1..``option_count`` picks that option
    (0-based in the result). Otherwise the choice text is matched against ``options`` (the
    texts shown, in order): first an option with the same :func:`normalize_answer` key, then
    the one option whose words contain, or are contained in, the choice's words; when nothing
    or more than one option matches, ``option`` is ``None`` with a problem and ``raw_choice``
    keeps what was said. Confidence and reasoning read as in :func:`parse_answer`.
    """
    body = prepare(text)
    if not body.strip():
        return ParsedVote(None, "", DEFAULT_CONFIDENCE, "", ("empty reply",))
    problems: list[str] = []
    data = json_object(body, _CHOICE_JSON_KEYS)
    if data is not None:
        raw = json_text(first_key(data, _CHOICE_JSON_KEYS))
        confidence = _confidence(first_key(data, ("confidence",)), "confidence", problems)
        reasoning = json_text(first_key(data, _REASONING_JSON_KEYS))
    else:
        values, leftover = sections(body, _VOTE_FORMAT)
        raw = values.get("choice", "")
        if not raw:
            problems.append(
                "the CHOICE line was empty" if "choice" in values else _VOTE_FORMAT.problem
            )
            raw, leftover = first_meaningful_line(leftover or values.get("reasoning", ""))
            if _choice_number(raw) is None:
                # Prose such as "After weighing them, I vote for option 2." names it later.
                mention = _OPTION_MENTION.search(body)
                raw = mention.group() if mention else raw
        confidence = _confidence(values.get("confidence"), "confidence", problems, body=body)
        reasoning = values.get("reasoning") or leftover
    raw = shorten(raw, _CHOICE_CHARS)
    option = _resolve_choice(raw, option_count, options, problems)
    return ParsedVote(option, raw, confidence, reasoning, tuple(problems))


def _limit(answer: str, problems: list[str]) -> str:
    if not answer:
        problems.append("reply held no usable answer")
    elif len(answer) > MAX_ANSWER_CHARS:
        problems.append(f"answer longer than {MAX_ANSWER_CHARS} characters; shortened")
        return shorten(answer, MAX_ANSWER_CHARS)
    return answer


def _confidence(
    value: object,
    what: str,
    problems: list[str],
    default: float = DEFAULT_CONFIDENCE,
    body: str | None = None,
) -> float:
    """Read a confidence (or score) value, recording a problem when it is missing, unreadable
    or out of range. With ``body``, a missing value is looked for in the prose as well."""
    if (value is None or value == "") and body is not None:
        mention = _CONFIDENCE_MENTION.search(body)
        value = mention["value"] if mention else None
    if value is None or value == "":
        problems.append(f"no {what} given; using {default}")
        return default
    fraction, clamped = read_fraction(value)
    shown = shorten(str(value), 40)
    if fraction is None:
        problems.append(f"{what} {shown!r} not understood; using {default}")
        return default
    if clamped:
        problems.append(f"{what} {shown!r} out of range; clamped to {fraction}")
    return fraction


def _resolve_choice(
    raw: str, option_count: int, options: Sequence[str], problems: list[str]
) -> int | None:
    if option_count <= 0:
        problems.append("no options were offered")
        return None
    number = _choice_number(raw)
    if number is not None and 1 <= number <= option_count:
        return number - 1
    # Text matching also rescues numbers that are answers themselves ("CHOICE: 2020").
    matched, ambiguous = _match_option(raw, options[:option_count])
    if matched is not None:
        return matched
    if ambiguous:
        problems.append(f"choice {shorten(raw, 80)!r} matches more than one option")
    elif number is not None:
        problems.append(f"choice {number} is not one of the options 1-{option_count}")
    elif raw:
        problems.append(f"choice {shorten(raw, 80)!r} names none of the options")
    else:
        problems.append("reply named no option")
    return None


def _choice_number(raw: str) -> int | None:
    match = _CHOICE_NUMBER.match(raw) or _OPTION_MENTION.search(raw)
    return int(match["n"]) if match else None


def _match_option(raw: str, options: Sequence[str]) -> tuple[int | None, bool]:
    """The option a choice names by text, and whether several did. Exact keys first; then
    word-sequence containment either way, so "SQL" never matches "PostgreSQL"."""
    key = normalize_answer(raw)
    if not key:
        return None, False
    keys = [normalize_answer(option) for option in options]
    if key in keys:
        return keys.index(key), False
    said = _words(key)
    words = [_words(option_key) if option_key else "" for option_key in keys]
    inside = [i for i, w in enumerate(words) if w.strip() and w in said]
    if inside:
        # "Use PostgreSQL with replicas" names that option, not the shorter "PostgreSQL".
        longest = max(inside, key=lambda i: len(words[i]))
        if all(words[i] in words[longest] for i in inside):
            return longest, False
        return None, True
    around = [i for i, w in enumerate(words) if said.strip() and said in w]
    if len(around) == 1:
        return around[0], False
    return None, len(around) > 1


def _words(key: str) -> str:
    # Padded with spaces so containment tests match whole words only.
    return f" {' '.join(_WORD.findall(key))} "
