"""The token estimate used when a provider reports no usage: the method, and its error
against real tokenizers on texts like a debate's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aragora.agents.tokens import (
    PER_MESSAGE,
    REPLY_PRIMING,
    estimate_prompt_tokens,
    estimate_text_tokens,
)

SAMPLES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "token_samples.json").read_text("utf-8")
)["samples"]
TOKENIZERS = ["cl100k_base", "o200k_base", "gemma3"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("Hello world", 2),  # two common words (cl100k: 2, gemma3: 2)
        ("What is 2 + 2?", 8),  # cl100k: 8
        (" antidisestablishmentarianism", 7),  # 28 letters: 1 + ceil(21 / 4)
        ("12345678", 3),  # digit groups of three, as cl100k splits them
        ("ANSWER: 4\nCONFIDENCE: 0.9", 12),  # cl100k: 14 (capitals split finely)
        ("東京", 2),  # one token per non-ASCII letter
        ("a  \n\n b", 3),  # a whitespace run is one token
        ("--> ...", 4),  # punctuation: one token per two characters (cl100k: 2)
    ],
)
def test_the_method(text: str, tokens: int) -> None:
    assert estimate_text_tokens(text) == tokens


def test_a_prompt_adds_framing_per_message_and_for_the_reply() -> None:
    system, user = "You are Agent A.", "What is 2 + 2?"
    expected = estimate_text_tokens(system) + estimate_text_tokens(user)
    assert estimate_prompt_tokens([system, user]) == expected + 2 * PER_MESSAGE + REPLY_PRIMING
    assert estimate_prompt_tokens([]) == REPLY_PRIMING


def test_the_samples_cover_docs_prompts_and_replies() -> None:
    assert {sample["kind"] for sample in SAMPLES} == {"docs", "prompt", "reply"}
    assert len(SAMPLES) >= 12


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
def test_the_estimate_is_close_to_real_tokenizers(tokenizer: str) -> None:
    estimates = [estimate_text_tokens(sample["text"]) for sample in SAMPLES]
    real = [sample[tokenizer] for sample in SAMPLES]
    for estimate, count, sample in zip(estimates, real, SAMPLES, strict=True):
        assert abs(estimate - count) <= 0.25 * count, (tokenizer, count, sample["text"][:60])
    assert abs(sum(estimates) - sum(real)) <= 0.08 * sum(real)
