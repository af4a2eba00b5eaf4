"""Answer extraction per answer type: from what a debate concluded to a comparable key.

:func:`extract` returns a canonical key or ``None`` (no answer of that type found); a
question is answered correctly when the key of the verdict equals the key of the right
answer (:func:`is_correct`). The rules, per type:

- ``number`` — the number after the last ``####`` if there is one (GSM8K's convention),
  else the answer itself when it is one number (units, currency, thousands commas and
  spelled-out numbers allowed: "$1,000", "42 km", "forty-two"), else the last number in the
  text; as an exact decimal ("18.00" and "18" are the same key; a percent sign is dropped).
- ``choice`` — a letter ("B", "(B)", "B)", "Option B", "the answer is B") or the text of an
  option; the key is the option's letter (its position for text options).
- ``yesno`` — "yes"/"no" (and their family, "True.", "Nope") leading the answer, else the
  only one of the two words in the text; both or neither give ``None``.
- ``exact`` — the engine's canonical answer key (case, wrapping and articles ignored).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from aragora.debate.normalize import normalize_answer
from aragora.errors import InvalidInputError

__all__ = ["extract", "is_correct"]

_NUMBER = re.compile(r"[-−]?\d[\d,]*(?:\.\d+)?|[-−]?\.\d+")
_LETTER = re.compile(
    r"^(?:(?:the )?(?:final )?(?:answer|option|choice)(?: is)?:? )?\(?([a-j])\)?(?:[.):]|\s|$)",
    re.I,
)
_LETTER_ANYWHERE = re.compile(
    r"\b(?:answer|option|choice)(?: is)?:? \(?([a-j])\)?(?![a-z0-9])", re.I
)
_YES_NO = re.compile(r"\b(yes|no)\b", re.I)


def extract(text: str | None, kind: str, choices: Sequence[str] = ()) -> str | None:
    """The canonical key of ``text`` read as an answer of ``kind`` (see the module), or
    ``None`` when it holds none; :class:`InvalidInputError` for an unknown kind."""
    if text is None or not text.strip():
        return None
    if kind == "number":
        return _number(text)
    if kind == "choice":
        return _choice(text, choices)
    if kind == "yesno":
        return _yes_no(text)
    if kind == "exact":
        return normalize_answer(text) or None
    raise InvalidInputError(f"unknown answer type {kind!r}")


def is_correct(text: str | None, gold: str, kind: str, choices: Sequence[str] = ()) -> bool:
    """Whether ``text`` gives the answer ``gold`` (both read as ``kind``)."""
    found = extract(text, kind, choices)
    return found is not None and found == extract(gold, kind, choices)


def _number(text: str) -> str | None:
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    key = normalize_answer(text).lstrip("$€£¥").rstrip("%")
    whole = _NUMBER.fullmatch(key.split(" ")[0]) if key else None
    if whole is not None and " " not in key.strip():
        return _decimal(whole.group())
    if whole is not None and len(key.split(" ")) == 2:  # "42 km", "3 replicas"
        return _decimal(whole.group())
    found = _NUMBER.findall(text)
    return _decimal(found[-1]) if found else None


def _decimal(raw: str) -> str | None:
    cleaned = raw.replace(",", "").replace("−", "-")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _letters(choices: Sequence[str]) -> list[str]:
    return [chr(ord("A") + i) for i in range(len(choices))]


def _choice(text: str, choices: Sequence[str]) -> str | None:
    options = list(choices) or ["A", "B", "C", "D", "E"]
    letters = _letters(options)
    plain = " ".join(text.strip().split())
    keys = [normalize_answer(o) for o in options]
    key = normalize_answer(plain)
    if key in keys:  # the option itself, e.g. "Paris" or "B"
        return letters[keys.index(key)]
    for pattern in (_LETTER, _LETTER_ANYWHERE):
        found = pattern.search(plain)
        if found is not None and found.group(1).upper() in letters:
            return found.group(1).upper()
    return None


def _yes_no(text: str) -> str | None:
    key = normalize_answer(text)
    if key in ("yes", "no"):
        return key
    words = {w.casefold() for w in _YES_NO.findall(text)}
    return words.pop() if len(words) == 1 else None
