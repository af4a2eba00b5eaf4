"""Reading structure out of model replies: labelled sections, embedded JSON, numbers in words.

Private to :mod:`aragora.debate.answers`, which defines the reply formats and decides what a
missing or odd value means. Every function here is total on ``str``: models return anything,
and a parser that raises would fail a whole debate over one agent's bad reply.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ReplyFormat",
    "every_value",
    "first_key",
    "first_meaningful_line",
    "json_object",
    "json_text",
    "prepare",
    "read_fraction",
    "reply_format",
    "sections",
    "shorten",
]

_MAX_FENCES = 8
_FENCE = re.compile(r"(?:```|~~~)[\w+.-]*")
_LINE_MARKERS = re.compile(r"^[ \t]*(?:[#>]+[ \t]*|[-*+•][ \t]+|[0-9]{1,2}[.)][ \t]+)*")
_BLANK_RUN = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
# A number not glued to a word, optionally "%" or "/ 10" or "out of 10". Digit counts are capped
# so that a wall of digits is "not understood" rather than a huge float; "1e999" is read and
# then rejected as infinite.
_FRACTION = re.compile(
    r"(?<![\w.])(?P<number>[+-]?(?:[0-9]{1,9}(?:\.[0-9]{1,20})?|\.[0-9]{1,20})(?:e[+-]?[0-9]{1,4})?)"
    r"(?![0-9]|\.[0-9])"
    r"(?:[ \t]*(?P<percent>%)|[ \t]*(?:/|out[ \t]+of)[ \t]*"
    r"(?P<denominator>[0-9]{1,9}(?:\.[0-9]{1,20})?)(?![0-9]|\.[0-9]))?",
    re.IGNORECASE | re.ASCII,
)
_LEVEL_WORD = re.compile(
    r"\b(?:very[ \t]+high|very[ \t]+low|high|medium|moderate|low)\b", re.IGNORECASE | re.ASCII
)
_LEVELS = {
    "very high": 0.95,
    "high": 0.85,
    "medium": 0.6,
    "moderate": 0.6,
    "low": 0.35,
    "very low": 0.15,
}


@dataclass(frozen=True, slots=True)
class ReplyFormat:
    """One labelled reply format, compiled. Build it with :func:`reply_format`."""

    problem: str
    labels: Mapping[str, str]  # spoken label, lower case and single-spaced -> canonical label
    blocks: frozenset[str]  # labels whose value runs to the next label, not one line
    line_re: re.Pattern[str]
    inline_re: re.Pattern[str]


def reply_format(labels: Mapping[str, tuple[str, ...]], blocks: frozenset[str]) -> ReplyFormat:
    """Compile a format from its canonical labels (each with accepted synonyms); ``blocks``
    names the labels whose value may span lines. ``problem`` names the format for warnings."""
    spoken = {alias: canon for canon, aliases in labels.items() for alias in (canon, *aliases)}
    alternatives = "|".join(
        re.escape(alias).replace(r"\ ", r"[ \t]+")
        for alias in sorted(spoken, key=len, reverse=True)
    )
    names = [canon.upper() for canon in labels]
    # At a line start a label may be in any case, styled ("**Answer:**", "## Answer", "- 1.
    # Answer -"), and alone on its line with the value below. re.ASCII keeps IGNORECASE from
    # matching look-alikes ("ſ", "K") whose lower() is no known label.
    line_re = re.compile(
        rf"^[ \t>#*_`~|+-]*(?:[0-9]{{1,2}}[.)][ \t]*)?(?P<label>{alternatives})[ \t*_`]*"
        rf"(?:[:：=]|[-–—](?=[ \t])|$)[ \t*_`]*",
        re.IGNORECASE | re.MULTILINE | re.ASCII,
    )
    # Mid-line, a label counts only in the capitals the prompt asks for, so "the answer: ..."
    # inside the reasoning does not cut it short while "ANSWER: x CONFIDENCE: 0.9" still splits.
    inline_re = re.compile(
        rf"(?<![^\s*_(\[|;,.])(?:\*\*|__)?(?P<label>{'|'.join(names)})(?:\*\*|__)?[ \t]*[:：]"
        r"(?:\*\*|__)?",
        re.ASCII,
    )
    problem = f"reply did not follow the {'/'.join(names)} format"
    return ReplyFormat(problem, spoken, blocks, line_re, inline_re)


def prepare(text: str) -> str:
    """Unify line ends and drop the ``<think>`` blocks reasoning models put before a reply;
    when nothing but thinking is left, keep its text without the tags."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = text
    for tag in ("think", "thinking"):
        opening, closing = f"<{tag}>", f"</{tag}>"
        parts: list[str] = []
        position = 0
        while (start := kept.find(opening, position)) != -1:
            end = kept.find(closing, start)
            if end == -1:
                break
            parts.append(kept[position:start])
            position = end + len(closing)
        parts.append(kept[position:])
        kept = "".join(parts)
    if kept.strip():
        return kept
    for tag in ("<think>", "</think>", "<thinking>", "</thinking>"):
        text = text.replace(tag, "")
    return text


def sections(body: str, fmt: ReplyFormat) -> tuple[dict[str, str], str]:
    """Split a reply at its labels. Returns the first non-empty value of each label (one
    line for line labels, tidied text up to the next label for blocks) and the text that
    belongs to no value (preamble, lines after a one-line value, repeated labels), tidied."""
    marks: list[tuple[int, int, str | None]] = []
    for match in (*fmt.line_re.finditer(body), *fmt.inline_re.finditer(body)):
        label = fmt.labels.get(" ".join(match["label"].lower().split()))
        if label is not None:
            marks.append((match.start(), match.end(), label))
    marks.sort(key=lambda mark: (mark[0], mark[1]))
    marks.append((len(body), len(body), None))
    values: dict[str, str] = {}
    leftover: list[str] = []
    current: str | None = None
    position = 0
    for start, end, label in marks:
        if start < position:
            continue  # the same label found by both patterns
        chunk = body[position:start]
        if current is None or values.get(current):
            leftover.append(chunk)
        elif current in fmt.blocks:
            values[current] = _tidy(chunk)
        else:
            values[current], rest = _first_line(chunk)
            leftover.append(rest)
        current, position = label, end
    return values, _tidy("\n".join(leftover))


def every_value(body: str, fmt: ReplyFormat, label: str) -> list[str]:
    """The one-line value after every occurrence of ``label`` at a line start, in order
    (empty values skipped): a reply may state a label more than once."""
    values = []
    for match in fmt.line_re.finditer(body):
        if fmt.labels.get(" ".join(match["label"].lower().split())) != label:
            continue
        value, _ = _first_line(body[match.end() :].split("\n", 1)[0])
        if value:
            values.append(value)
    return values


def first_meaningful_line(text: str) -> tuple[str, str]:
    """The first line holding a letter or digit, without list/heading/emphasis markers and
    shortened to 300 characters, skipping lead-ins ending in ":" when a later line qualifies;
    and the tidied text after it. ``("", tidied text)`` when no line qualifies."""
    lines = text.split("\n")
    candidates = [
        index
        for index, line in enumerate(lines)
        if not _is_fence(line) and any(char.isalnum() for char in line)
    ]
    if not candidates:
        return "", _tidy(text)
    chosen = next(
        (i for i in candidates if not lines[i].rstrip().rstrip("*").endswith(":")), candidates[0]
    )
    line = _clean_line(_LINE_MARKERS.sub("", lines[chosen], count=1))
    return shorten(line, 300), _tidy("\n".join(lines[chosen + 1 :]))


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word boundary with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def json_object(body: str, keys: Sequence[str]) -> dict[str, object] | None:
    """The first JSON object in the reply (in a code fence, else from the first "{" to the
    last "}") that holds one of ``keys``, with its keys stripped and casefolded; else ``None``."""
    for candidate in _json_candidates(body):
        if not candidate.lstrip().startswith("{"):
            continue
        try:
            value = json.loads(candidate, strict=False)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            continue
        if isinstance(value, dict):
            data = {str(key).strip().casefold(): item for key, item in value.items()}
            if any(key in data for key in keys):
                return data
    return None


def first_key(data: Mapping[str, object], keys: Sequence[str]) -> object:
    """The value of the first of ``keys`` present in ``data``, else ``None``."""
    return next((data[key] for key in keys if key in data), None)


def json_text(value: object) -> str:
    """A JSON value as text: strings stripped, numbers and booleans as written, ``null`` and
    non-finite numbers as ``""``, arrays and objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return ""


def read_fraction(value: object) -> tuple[float | None, bool]:
    """Read a confidence-like value as a fraction in [0, 1]; ``(None, False)`` when it
    cannot be read (including NaN and infinities), and ``(fraction, True)`` when it had to
    be clamped into range.

    Understood: ``0.8``; ``80%``; ``8/10``, ``80/100``, ``4 out of 5``; a bare number above
    1 as tenths up to 10 (``8`` → 0.8) and as a percentage up to 100 (``85`` → 0.85);
    the words very high/high/medium/moderate/low/very low → 0.95/0.85/0.6/0.6/0.35/0.15.
    Strings may surround the value with prose; the first number wins over a level word.
    """
    if isinstance(value, bool):
        return None, False
    if isinstance(value, int | float):
        try:
            return _clamp(_scale_bare(float(value)))
        except OverflowError:  # an int too large for a float
            return None, False
    if not isinstance(value, str):
        return None, False
    match = _FRACTION.search(value)
    if match is not None:
        number = float(match["number"])
        if match["percent"]:
            return _clamp(number / 100)
        if match["denominator"]:
            denominator = float(match["denominator"])
            return _clamp(number / denominator) if denominator else (None, False)
        return _clamp(_scale_bare(number))
    word = _LEVEL_WORD.search(value)
    if word is not None:
        return _LEVELS[" ".join(word.group().lower().split())], False
    return None, False


def _scale_bare(number: float) -> float:
    # Models asked for 0..1 still answer "8" (of 10) or "85" (percent); beyond 100 is junk.
    if 1 < number <= 10:
        return number / 10
    if 10 < number <= 100:
        return number / 100
    return number


def _clamp(number: float) -> tuple[float | None, bool]:
    if not math.isfinite(number):
        return None, False
    if number < 0:
        return 0.0, True
    if number > 1:
        return 1.0, True
    return number, False


def _is_fence(line: str) -> bool:
    return _FENCE.fullmatch(line.strip()) is not None


def _tidy(text: str) -> str:
    """Strip blank and code-fence lines from both ends; collapse runs of blank lines."""
    lines = text.split("\n")
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _is_fence(lines[start])):
        start += 1
    while end > start and (not lines[end - 1].strip() or _is_fence(lines[end - 1])):
        end -= 1
    return _BLANK_RUN.sub("\n\n", "\n".join(lines[start:end])).strip()


def _clean_line(line: str) -> str:
    # A label in bold ("**Answer:** x**") or code ("`x`") leaves its markers on the value.
    return line.strip().strip("*`").strip()


def _first_line(chunk: str) -> tuple[str, str]:
    lines = chunk.split("\n")
    for index, line in enumerate(lines):
        value = _clean_line(line)
        if value and not _is_fence(line):
            return value, "\n".join(lines[index + 1 :])
    return "", ""


def _json_candidates(body: str) -> Iterator[str]:
    position = 0
    for _ in range(_MAX_FENCES):
        opening = body.find("```", position)
        line_end = body.find("\n", opening) if opening != -1 else -1
        closing = body.find("```", line_end) if line_end != -1 else -1
        if closing == -1:
            break
        yield body[line_end + 1 : closing]
        position = closing + 3
    first, last = body.find("{"), body.rfind("}")
    if first != -1 and first < last:
        yield body[first : last + 1]
