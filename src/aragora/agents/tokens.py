"""Token counts estimated without a tokenizer, for providers that report no usage.

Some servers never report usage on a stream (llama-cpp-python's server ignores
``stream_options.include_usage``), yet their tokens are real work and budgets are counted
in tokens. The adapters then count the tokens themselves with this estimate and mark the
usage ``estimated``.

The estimate (no vocabulary, no network, pure Python):

1. Split the text with a pre-tokenizer regex modelled on OpenAI's ``cl100k_base`` split
   pattern (words with their leading space or punctuation mark, digit groups of at most
   three, runs of punctuation, runs of whitespace), written for Python's ``re`` (letters are
   ``[^\\W\\d_]``).
2. Count each piece: a word of at most :data:`WORD_LETTERS` ASCII letters is one token, a
   longer one one more per further :data:`LETTERS_PER_TOKEN` letters (rare long words are
   split by BPE vocabularies); every non-ASCII letter (accents, Cyrillic, CJK …) counts one
   token, an upper-ish bound for most scripts; a digit group is one token; a run of
   punctuation one token per :data:`PUNCT_PER_TOKEN` characters; a run of whitespace one
   token.
3. A prompt adds :data:`PER_MESSAGE` tokens of chat framing per message (role markers,
   turn separators) and :data:`REPLY_PRIMING` for the assistant turn the template opens.

The constants were calibrated on English prose and structured text (this project's
documentation, its debate prompts rendered with tasks, and replies of a small local model)
against three real tokenizers: ``cl100k_base`` and ``o200k_base`` (OpenAI) and Gemma 3's
262k SentencePiece vocabulary as llama.cpp loads it. See README ("Token counts when a
provider reports none") for the measured error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "LETTERS_PER_TOKEN",
    "PER_MESSAGE",
    "PUNCT_PER_TOKEN",
    "REPLY_PRIMING",
    "WORD_LETTERS",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
]

WORD_LETTERS = 7
"""A word of up to this many ASCII letters counts as one token."""
LETTERS_PER_TOKEN = 4
"""Beyond :data:`WORD_LETTERS`, one more token per this many letters."""
PUNCT_PER_TOKEN = 2
"""A run of punctuation counts one token per this many characters."""
PER_MESSAGE = 4
"""Chat framing per message (e.g. ``<start_of_turn>user\\n`` … ``<end_of_turn>\\n``)."""
REPLY_PRIMING = 3
"""Framing that opens the assistant's turn."""

# cl100k_base: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
#              ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
_PIECES = re.compile(
    r"'(?i:[sdmt]|ll|ve|re)"
    r"|(?:[^\r\n\w]|_)?[^\W\d_]+"
    r"|\d{1,3}"
    r"| ?(?:[^\s\w]|_)+[\r\n]*"
    r"|\s*[\r\n]+"
    r"|\s+(?!\S)"
    r"|\s+"
)
_LETTERS = re.compile(r"[^\W\d_]+")


def estimate_text_tokens(text: str) -> int:
    """An estimate of the tokens ``text`` takes (0 for an empty text); see the module
    docstring for the method and README for its measured error."""
    total = 0
    for match in _PIECES.finditer(text):
        piece = match.group()
        letters = _LETTERS.search(piece)
        if letters is None:
            if piece.isspace() or piece[:1].isdigit():
                total += 1
            else:
                total += -(-len(piece.strip()) // PUNCT_PER_TOKEN)
            continue
        word = letters.group()
        ascii_letters = sum(1 for char in word if char.isascii())
        total += len(word) - ascii_letters  # each non-ASCII letter: one token
        if ascii_letters:
            extra = max(0, ascii_letters - WORD_LETTERS)
            total += 1 + -(-extra // LETTERS_PER_TOKEN)
    return total


def estimate_prompt_tokens(messages: Iterable[str]) -> int:
    """An estimate of the input tokens of a chat request made of ``messages`` (their texts
    as sent, e.g. the system prompt and the user prompt), chat framing included."""
    texts = list(messages)
    return sum(estimate_text_tokens(text) + PER_MESSAGE for text in texts) + REPLY_PRIMING
