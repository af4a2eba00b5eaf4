"""Whether a reply counts: the rules that keep garbage out of a verdict.

Weak and base models, and servers on their bad days, return text that parses but says
nothing: the prompt's own placeholder (``<your answer on one line: …>``), chat-template
markup (``<<SYS>>``, ``<start_of_turn>``), the next exercise of a worksheet ("Question 1:
…"), the task echoed back, a line of the instructions, or an answer cut off at the token
limit. Counted as answers, they became confident verdicts. Here each such reply is an
*abstention* with a short reason that says which rule it broke; the debate records it and
the verdict is made from the answers that remain (when enough remain; see the planner).

The rules, in the order they are checked (the first that applies is the reason):

1. **empty** — nothing usable in the reply;
2. **markup** — chat-template or special tokens anywhere in the reply (``<<SYS>>``,
   ``[/INST]``, ``<start_of_turn>``, ``<|im_start|>``): a model that writes them is
   continuing a transcript, not answering;
3. **template** — a slot of the prompt's format anywhere in the reply (``<your answer on
   one line: …>``, ``<a number from 0 to 1>``): the reply echoes the format;
4. **unlabelled** — no ANSWER line (or JSON ``answer``): the prompt asks for one, and a
   first-line guess at free text has turned prose, echoes and worksheets into answers;
5. **placeholder** — the answer is a template slot (``[your answer]``, ``{x}``) or talks
   about itself ("Your answer appears here");
6. **several answers** — the reply labels two different answers (a worksheet);
7. **cut off** — the provider stopped at the token limit inside the answer line;
8. **too long** — over :data:`~aragora.debate.answers.MAX_ANSWER_CHARS` characters:
   not a one-line answer;
9. **declined** — "N/A", "unknown", "I don't know", "?" …: the agent gives no answer;
10. **both** — it names both yes and no ("yes/no", "Yes or no");
11. **new question** — it starts another question or task ("Question 2: …", "Q:");
12. **task** — it repeats the task (the same words, the task inside it, or a question
    much like it);
13. **instructions** — three or more words copied from the prompt's instructions that
    are not in the task or its background.

All functions are pure and total on ``str``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from aragora.debate.answers import ParsedAnswer
from aragora.debate.normalize import lexical_similarity, normalize_answer

__all__ = ["answer_abstention", "critique_abstention"]

_MARKUP = re.compile(
    r"<<\s*/?\s*SYS\s*>>|\[/?INST\]|<\|[^|<>\s]{1,40}\|>|</?s>|<\s*/?\s*(?:start|end)_of_turn\s*>"
    r"|<\s*/?\s*(?:bos|eos|pad|unk)\s*>|\bendoftext\b",
    re.IGNORECASE,
)
_SLOT_WORDS = (
    r"your|the|a|an|one|answer|option|number|choice|short|final|critique|reasoning|why|"
    r"insert|fill|label|response|text|value|here"
)
_PLACEHOLDER = re.compile(
    rf"^\s*(?:<\s*(?:{_SLOT_WORDS})\b[^<>]*>|\[\s*(?:{_SLOT_WORDS})\b[^\[\]]*\]"
    rf"|\{{\s*(?:{_SLOT_WORDS})\b[^{{}}]*\}})\s*[.!]?\s*$",
    re.IGNORECASE,
)
# A template slot anywhere in a reply: "<your answer on one line: …>", "<a number from 0 to
# 1>" (never an HTML tag: no "=" or quotes inside).
_SLOT_INSIDE = re.compile(rf"<\s*(?:{_SLOT_WORDS})\b[^<>=\"']{{0,200}}>", re.IGNORECASE)
_SELF_REFERENCE = re.compile(
    r"\byour (?:own )?answer\b|\b(?:goes|appears|comes) here\b|\binsert\b.{0,40}\bhere\b",
    re.IGNORECASE,
)
_DECLINED = frozenset(
    {
        *("n/a", "na", "n.a", "tbd", "todo", "unknown", "unsure", "not sure", "no idea"),
        *("i don't know", "i do not know", "i dont know", "don't know", "dont know"),
        *("cannot say", "can't say", "cannot determine", "can't determine", "no answer"),
        *("undetermined", "not applicable", "none given", "?", "..."),
    }
)
_BOTH = re.compile(r"^(?:yes|no)\s*(?:/|\||,|\bor\b|\band\b)\s*(?:yes|no)[.!]?$", re.IGNORECASE)
_NEW_QUESTION = re.compile(
    r"^\s*[#*>\s]*(?:(?:question|task|problem|exercise)\s*#?\s*(?:\d+\b|[:：])|q\s*[:：])",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_ECHO_MIN_WORDS = 3


def answer_abstention(
    parsed: ParsedAnswer,
    reply: str,
    *,
    task: str,
    instructions: str,
    background: str = "",
    truncated: bool = False,
) -> str | None:
    """Why this propose/revise reply is not an answer, or ``None`` when it counts.

    ``parsed`` is :func:`~aragora.debate.answers.parse_answer` of ``reply``; ``task`` and
    ``background`` are what the panel was asked and given; ``instructions`` is the text the
    debate itself wrote into the prompt (:meth:`~aragora.debate.prompting.PromptBook.
    instructions`: no task, background or other agents' answers); ``truncated`` says the
    provider stopped at its token limit. See the module docstring for the rules."""
    answer = parsed.answer.strip()
    if not answer:
        return "empty reply" if not reply.strip() else "reply held no usable answer"
    if _MARKUP.search(reply):
        return "reply holds chat-template markup, not an answer"
    if _SLOT_INSIDE.search(reply):
        return "reply echoes the prompt's template"
    if not parsed.labelled:
        return "reply did not follow the ANSWER/CONFIDENCE/REASONING format"
    if _PLACEHOLDER.match(answer) or _SELF_REFERENCE.search(answer):
        return "answer is the prompt's placeholder, not an answer"
    if parsed.conflicting:
        return "reply gives more than one answer"
    if truncated and _ends_with(reply, answer):
        return "reply was cut off at the token limit inside its answer"
    if any(problem.startswith("answer longer than") for problem in parsed.problems):
        return "answer is longer than one line of text"
    key = normalize_answer(answer)
    if key in _DECLINED or not any(ch.isalnum() for ch in key):
        return "the agent declined to answer"
    if _BOTH.match(" ".join(answer.split())):
        return "answer names both yes and no"
    if _NEW_QUESTION.match(answer):
        return "reply starts a new question instead of answering"
    if _repeats(answer, task):
        return "answer repeats the task"
    if _copied(answer, instructions, f"{task}\n{background}"):
        return "answer repeats the prompt's instructions"
    return None


def critique_abstention(content: str, *, task: str, instructions: str) -> str | None:
    """Why a critique's content is not a critique (empty, markup, a placeholder, the task
    or the instructions echoed), or ``None`` when it counts. An invalid critique is not
    shown to the other agents."""
    text = content.strip()
    if not text:
        return "empty critique"
    if _MARKUP.search(text):
        return "critique holds chat-template markup"
    if _PLACEHOLDER.match(text) or _SLOT_INSIDE.search(text):
        return "critique echoes the prompt's template"
    if _repeats(text, task):
        return "critique repeats the task"
    if _copied(text, instructions, task):
        return "critique repeats the prompt's instructions"
    return None


def _ends_with(reply: str, answer: str) -> bool:
    """Whether the answer runs to the very end of the reply (nothing after its line)."""
    tail = reply.rstrip().rstrip("*`_\"' ")
    return bool(tail) and tail.endswith(answer.rstrip().rstrip("*`_\"' ")[-40:])


def _repeats(answer: str, task: str) -> bool:
    answer_key, task_key = normalize_answer(answer), normalize_answer(task)
    if not task_key:
        return False
    if answer_key == task_key:
        return True
    task_words = _words(task)
    if len(task_words) >= 4 and f" {' '.join(task_words)} " in f" {' '.join(_words(answer))} ":
        return True
    return answer.rstrip().endswith("?") and lexical_similarity(answer, task) >= 0.5


def _copied(text: str, instructions: str, quoted: str) -> bool:
    """Three or more words of ``text`` that all appear, in order, in the instructions but
    not in what the prompt quoted (task, background)."""
    words = _words(text)
    if len(words) < _ECHO_MIN_WORDS:
        return False
    phrase = f" {' '.join(words)} "
    return phrase in _padded_words(instructions) and phrase not in _padded_words(quoted)


@lru_cache(maxsize=256)
def _padded_words(text: str) -> str:
    return f" {' '.join(_words(text))} "


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD.findall(text)]
