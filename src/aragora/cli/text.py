"""Text for the terminal: agent output made safe to print, shortened with a pointer to the
full text, numbers in words people read, and colour only where it is wanted."""

from __future__ import annotations

import os
import re
import textwrap
from typing import TextIO

__all__ = ["Style", "clean", "count", "one_line", "shorten", "wrapped"]

# Escape sequences and other control characters in a model's reply could move the cursor,
# retitle the terminal or hide text: none of them reaches the screen.
_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e]")
_SPACES = re.compile(r"\s+")


def clean(text: object) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and
    tabs kept), so a reply cannot restyle or overwrite the terminal."""
    return _CONTROL.sub("", _ESCAPE.sub("", str(text or "")))


def one_line(text: object) -> str:
    """:func:`clean` text on a single line, runs of whitespace as one space."""
    return _SPACES.sub(" ", clean(text)).strip()


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``1,234 tokens``."""
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


def shorten(text: str, limit: int, pointer: str) -> str:
    """``text`` (one line) if it fits in ``limit`` characters, else its start cut at a
    word and ``… (1,234 chars; full text: POINTER)``."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return f"{cut.rstrip()} … ({len(text):,} chars; full text: {pointer})"


def wrapped(text: str, width: int, indent: str, *, max_lines: int, pointer: str) -> list[str]:
    """``text`` filled to ``width`` under ``indent``, paragraphs kept; past ``max_lines``
    the last line shown ends with the pointer to the full text."""
    lines: list[str] = []
    for paragraph in clean(text).splitlines():
        if paragraph.strip():
            lines.extend(
                textwrap.wrap(
                    _SPACES.sub(" ", paragraph).strip(),
                    max(20, width - len(indent)),
                    break_long_words=True,
                )
            )
    if len(lines) > max_lines:
        total = len(one_line(text))
        lines = lines[:max_lines]
        lines[-1] = f"{lines[-1]} … ({total:,} chars; full text: {pointer})"
    return [indent + line for line in lines]


class Style:
    """ANSI styling, on only for a terminal that wants colour (``NO_COLOR`` unset)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, out: TextIO) -> Style:
        """Colour when ``out`` is a terminal and ``NO_COLOR`` is not set."""
        isatty = getattr(out, "isatty", None)
        return cls(bool(isatty and isatty()) and not os.environ.get("NO_COLOR"))

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        """Bold."""
        return self(text, "1")

    def dim(self, text: str) -> str:
        """Faint."""
        return self(text, "2")

    def agent(self, text: str) -> str:
        """An agent's name."""
        return self(text, "1;36")

    def good(self, text: str) -> str:
        """A decision."""
        return self(text, "1;32")

    def warn(self, text: str) -> str:
        """A warning."""
        return self(text, "33")

    def bad(self, text: str) -> str:
        """A failure."""
        return self(text, "31")
