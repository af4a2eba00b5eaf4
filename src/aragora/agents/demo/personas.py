"""Offline demo agents: personas that debate without any provider or network.

A :class:`DemoLLM` answers every debate phase in the reply formats of
:mod:`aragora.debate.answers`. Every decision is a pure function of (seed, persona,
request), drawn from SHA-256 rather than Python's salted ``hash()``, so replaying a
debate reproduces it exactly in any process. Reasoning and critiques are tagged
``[demo <persona>]`` so nobody mistakes them for a real model; ANSWER lines stay clean.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aragora.agents.demo.questions import Question, analyse, normalise
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback, Usage
from aragora.errors import InvalidInputError

__all__ = ["PERSONAS", "DemoLLM", "estimate_usage", "persona_for", "word_chunks"]


@dataclass(frozen=True, slots=True)
class _Persona:
    stubbornness: float  # how strongly it holds a minority position when revising
    confidence: tuple[float, float]
    slip: float  # chance of an arithmetic slip in its first answer
    lean: str  # on "X or Y" questions: first, last, short, any, or against the panel
    yesno: tuple[float, float, float]  # prior weights for Yes, No, It depends
    stance: int  # favoured open-question stance (index into the question's options)
    opener: str
    closer: str
    objection: str  # critique of an answer unlike its own
    hold: str  # revise: keeping its answer
    move: str  # revise: adopting the majority's


_TRAITS = {
    "pragmatist": (0.3, (0.65, 0.8), 0.1, "short", (0.35, 0.2, 0.45), 0),
    "skeptic": (0.6, (0.45, 0.65), 0.05, "last", (0.15, 0.7, 0.15), 1),
    "optimist": (0.4, (0.8, 0.95), 0.25, "first", (0.75, 0.1, 0.15), 2),
    "analyst": (0.35, (0.6, 0.78), 0.0, "any", (0.25, 0.25, 0.5), 3),
    "contrarian": (0.8, (0.55, 0.75), 0.15, "against", (1.0, 1.0, 1.0), 0),
}
_THEIRS = "The answer from {labels}, '{theirs}',"
_VOICES = {
    "pragmatist": (
        "Let's keep this practical.",
        "Revisit it when real usage says otherwise.",
        _THEIRS + " is defensible but asks more of {topic} than '{mine}' does.",
        "I've read the critiques and '{own}' still looks like the practical call.",
        "{labels} make a workable case for '{target}'; good enough, so I'm moving from '{own}'.",
    ),
    "skeptic": (
        "Let me push on the assumptions first.",
        "I'd still want evidence before betting heavily either way.",
        _THEIRS + " is asserted rather than shown; what says it fits {topic}?",
        "None of the critiques gave me evidence against '{own}', so I'm staying put.",
        "I still have doubts, but {labels} answered them better than I expected; "
        "I'm moving from '{own}' to '{target}'.",
    ),
    "optimist": (
        "I see real upside here.",
        "Teams that aim a little higher usually get further.",
        _THEIRS + " plays it too safe; '{mine}' leaves {topic} more upside.",
        "I'm sticking with '{own}'; the objections describe risks, not reasons to aim lower.",
        "{labels} convinced me that '{target}' is the better bet, so I'm moving from '{own}'.",
    ),
    "analyst": (
        "I'll weigh this by cost, risk and reversibility.",
        "The margin isn't huge, so the assumptions deserve a second look.",
        _THEIRS + " and my '{mine}' rest on different, unquantified assumptions about {topic}.",
        "Rechecking the assumptions, '{own}' still comes out ahead.",
        "Weighing the critiques, the case from {labels} for '{target}' beats mine for '{own}'.",
    ),
    "contrarian": (
        "Somebody has to argue the other side.",
        "Consensus reached too quickly is usually consensus reached too cheaply.",
        _THEIRS + " is the comfortable choice, and comfort is not an argument.",
        "Agreement is not evidence; I'm keeping '{own}'.",
        "Fine: {labels} earned '{target}' on the merits, though '{own}' was underrated.",
    ),
}
_PERSONAS = {name: _Persona(*_TRAITS[name], *_VOICES[name]) for name in _TRAITS}
PERSONAS: tuple[str, ...] = tuple(_PERSONAS)
"""Persona names in the order the registry hands them to plain ``demo`` specs."""

_CHOICE_REASONS = {  # why a persona prefers {pick} over {other}, by its lean
    "first": "{pick} gives {topic} room to grow instead of planning around today's limits.",
    "last": "The case for {other} rests on assumptions about {topic} nobody has checked; "
    "{pick} has fewer ways to fail.",
    "short": "For {topic}, {pick} does the job with the least ceremony, while {other} solves "
    "problems that may never arrive.",
    "any": "Weighing effort, risk and reversibility for {topic}, {pick} edges out {other} on two "
    "of the three.",
    "adopted": "Having heard the others, {pick} fits {topic} better than {other}.",
    "against": "Most people will reach for {other}, which is exactly why {pick} deserves a serious "
    "look for {topic}.",
}


def persona_for(name: str) -> str:
    """The persona a ``demo:NAME`` agent plays: NAME itself if it is a persona, else one
    chosen deterministically from NAME."""
    key = name.strip().casefold()
    if key in _PERSONAS:
        return key
    return PERSONAS[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(PERSONAS)]


def word_chunks(text: str) -> list[str]:
    """Split text into word-sized stream deltas that concatenate back to ``text``."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def estimate_usage(request: CompletionRequest, text: str) -> Usage:
    """A rough token count (four characters a token) for agents that have no tokenizer."""
    return Usage(
        input_tokens=len(request.system + request.prompt) // 4,
        output_tokens=max(1, len(text) // 4),
        cost_usd=0.0,
    )


class DemoLLM:
    """An offline agent playing one persona; implements :class:`aragora.debate.ports.LLM`.

    ``delay`` is the time one answer takes in total, spread over its streamed words
    (0 never sleeps). ``seed`` varies the panel's opinions while staying reproducible.
    """

    def __init__(self, persona: str, *, seed: int = 0, delay: float = 0.0) -> None:
        key = persona.strip().casefold()
        if key not in _PERSONAS:
            raise InvalidInputError(
                f"unknown demo persona {persona!r}; expected one of {', '.join(PERSONAS)}"
            )
        if not math.isfinite(delay) or delay < 0:
            raise InvalidInputError(f"demo delay must be a non-negative number, got {delay!r}")
        self._name = key
        self._persona = _PERSONAS[key]
        self._seed = seed
        self._delay = delay

    @property
    def provider(self) -> str:
        return "demo"

    @property
    def model(self) -> str:
        return self._name

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Answer ``request``, streaming it word by word over ``delay`` seconds."""
        text = self.reply(request)
        chunks = word_chunks(text)
        pause = self._delay / len(chunks) if self._delay > 0 and chunks else 0.0
        for chunk in chunks:
            if pause:
                await asyncio.sleep(pause)
            if on_token is not None:
                on_token(chunk)
        return Completion(text=text, usage=estimate_usage(request, text), model=self._name)

    def reply(self, request: CompletionRequest) -> str:
        """The full reply text for ``request``: the same request always gets the same text."""
        task = request.metadata.get("task") or request.prompt
        question = analyse(task)
        if request.phase == "critique":
            return self._critique(question, request)
        if request.phase == "revise":
            return self._revise(question, request)
        if request.phase in ("vote", "judge"):
            return self._vote(question, request)
        return self._propose(question)

    # -- phases ------------------------------------------------------------------------

    def _propose(self, q: Question) -> str:
        answer = self._initial_answer(q)
        reasoning = self._tag([*self._intro(q), self._reason(q, answer), self._persona.closer])
        return format_answer(answer, self._confidence(q, answer, "propose"), reasoning)

    def _critique(self, q: Question, request: CompletionRequest) -> str:
        mine = self._own(q, request)
        groups = _group(request.choices)
        if not groups:
            return format_critique(self._tag(["There are no other answers to critique yet."]), 0.5)
        sentences = []
        for key, (theirs, labels) in groups.items():
            names = _join_labels(labels)
            if key == normalise(mine):
                sentences.append(f"I agree with {names} on '{mine}'.")
            elif q.kind == "arithmetic":
                sentences.append(
                    f"The answer from {names}, '{theirs}', does not match my evaluation of "
                    f"{q.expr} ({mine})."
                )
            else:
                sentences.append(
                    self._persona.objection.format(
                        labels=names, theirs=theirs, mine=mine, topic=q.topic
                    )
                )
        agree = sum(1 for c in request.choices if normalise(c) == normalise(mine))
        noise = (self._unit(q, "score", *request.choices) - 0.5) / 10
        score = min(0.95, max(0.05, 0.25 + 0.6 * agree / len(request.choices) + noise))
        return format_critique(self._tag(sentences[:4]), score)

    def _revise(self, q: Question, request: CompletionRequest) -> str:
        own = self._own(q, request)
        pool = [*request.choices, own]
        counts = Counter(normalise(a) for a in pool)
        text_of = {normalise(a): a for a in reversed(pool)}  # first spelling wins
        rnd = _round(request)
        u = self._unit(q, "revise", rnd, own, *request.choices)
        target, why = own, self._persona.hold.format(own=own)
        if q.kind == "arithmetic":
            if normalise(own) == normalise(q.value):
                why = f"I re-checked {q.expr} and still get {own}."
            elif u < 1 - self._persona.stubbornness / 4:  # facts beat pride
                target = q.value
                why = f"Re-checking {q.expr}, I get {q.value}, so I'm correcting '{own}'."
        else:
            best = max(counts.values())
            top = sorted(
                (k for k, n in counts.items() if n == best), key=lambda k: _digest(q.text, k)
            )
            focal = top[0]  # every agent breaks ties the same way, so ties can resolve
            ramp = min(1.0, 0.5 + 0.25 * rnd) * (0.5 if normalise(own) in top else 1.0)
            if focal != normalise(own) and u < (1 - self._persona.stubbornness) * ramp:
                target = text_of[focal]
                labels = [_label(i) for i, c in enumerate(request.choices) if normalise(c) == focal]
                why = self._persona.move.format(labels=_join_labels(labels), target=target, own=own)
        reasoning = self._tag([why, self._reason(q, target)])
        return format_answer(target, self._confidence(q, target, f"revise{rnd}"), reasoning)

    def _vote(self, q: Question, request: CompletionRequest) -> str:
        options = request.choices
        if not options:
            return format_vote(
                1, 0.1, self._tag(["No options were offered, so this vote is empty."])
            )
        own = self._own(q, request)
        keys = [normalise(o) for o in options]
        preferred = [own, q.value] if q.kind == "arithmetic" else [own, self._initial_answer(q)]
        index = next((keys.index(normalise(p)) for p in preferred if normalise(p) in keys), None)
        if index is not None:
            why = f"Option {index + 1} ('{options[index]}') matches my position."
        else:
            counts = Counter(keys)
            index = max(
                range(len(options)), key=lambda i: (counts[keys[i]], _overlap(own, options[i]))
            )
            why = f"Option {index + 1} ('{options[index]}') is closest to my answer, '{own}'."
        if request.phase == "judge":
            why = f"As judge: {why[0].lower()}{why[1:]}"
        confidence = self._confidence(q, options[index], request.phase)
        return format_vote(index + 1, confidence, self._tag([why, self._reason(q, options[index])]))

    # -- decisions -----------------------------------------------------------------------

    def _initial_answer(self, q: Question) -> str:
        if q.kind == "arithmetic":
            misses = q.options[1:]
            if misses and self._unit(q, "slip") < self._persona.slip:
                return misses[int(self._unit(q, "miss") * len(misses))]
            return q.value
        return q.options[_initial_index(self._name, q, self._seed)]

    def _own(self, q: Question, request: CompletionRequest) -> str:
        return request.metadata.get("own_answer") or self._initial_answer(q)

    def _intro(self, q: Question) -> list[str]:
        return [] if q.kind == "arithmetic" else [self._persona.opener]

    def _reason(self, q: Question, answer: str) -> str:
        if q.kind == "arithmetic":
            return f"Evaluating {q.expr} step by step gives {answer}."
        keys = [normalise(o) for o in q.options]
        if normalise(answer) not in keys:
            return f"'{answer}' is the most direct response to {q.topic} on the table."
        index = keys.index(normalise(answer))
        if q.reasons:
            return q.reasons[index]
        other = q.options[1 if index == 0 else 0]
        own_pick = normalise(answer) == normalise(self._initial_answer(q))
        lean = self._persona.lean if own_pick else "adopted"
        return _CHOICE_REASONS[lean].format(pick=answer, other=other, topic=q.topic)

    def _confidence(self, q: Question, answer: str, salt: str) -> float:
        low, high = self._persona.confidence
        value = low + (high - low) * self._unit(q, "confidence", salt, answer)
        if q.kind == "arithmetic":
            value = min(0.99, value + 0.2)
        elif normalise(answer) == "it depends":
            value -= 0.1
        return round(value, 2)

    def _tag(self, sentences: Sequence[str]) -> str:
        return f"[demo {self._name}] " + " ".join(s for s in sentences if s)

    def _unit(self, q: Question, *parts: object) -> float:
        return _fraction(self._seed, self._name, q.text, *parts)


# -- pure helpers ----------------------------------------------------------------------------


def _initial_index(name: str, q: Question, seed: int) -> int:
    """Which option persona ``name`` first proposes: its priors, perturbed by a stable hash."""
    persona = _PERSONAS[name]
    u = _fraction(seed, name, q.text, "stance")
    n = len(q.options)
    if persona.lean == "against":
        picks = Counter(
            _initial_index(o, q, seed) for o in PERSONAS if _PERSONAS[o].lean != "against"
        )
        least = min(picks[i] for i in range(n))
        pool = [i for i in range(n) if picks[i] == least]
        return pool[min(len(pool) - 1, int(u * len(pool)))]
    if q.kind == "yesno":
        weights = list(persona.yesno)
    elif q.kind == "open":
        weights = [0.7 if i == persona.stance else 0.1 for i in range(n)]
    elif persona.lean in ("first", "last"):
        weights = [0.8 if i == 0 else 0.2 / (n - 1) for i in range(n)]
        weights = weights if persona.lean == "first" else weights[::-1]
    elif persona.lean == "short":
        inverse = [1 / len(o) for o in q.options]
        weights = [0.3 / n + 0.7 * x / sum(inverse) for x in inverse]
    else:
        weights = [1.0] * n
    target, total = u * sum(weights), 0.0
    for i, w in enumerate(weights):
        total += w
        if target < total:
            return i
    return n - 1


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _fraction(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) named by ``parts``."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def _round(request: CompletionRequest) -> int:
    try:
        return max(1, int(request.metadata.get("round", "1")))
    except ValueError:
        return 1


def _label(index: int) -> str:
    return f"Agent {chr(ord('A') + index)}" if index < 26 else f"Agent {index + 1}"


def _join_labels(labels: Sequence[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    letters = [label.removeprefix("Agent ") for label in labels]
    return f"Agents {', '.join(letters[:-1])} and {letters[-1]}"


def _group(choices: Sequence[str]) -> dict[str, tuple[str, list[str]]]:
    groups: dict[str, tuple[str, list[str]]] = {}
    for i, choice in enumerate(choices):
        groups.setdefault(normalise(choice), (choice, []))[1].append(_label(i))
    return groups


def _overlap(a: str, b: str) -> float:
    wa, wb = set(normalise(a).split()), set(normalise(b).split())
    return len(wa & wb) / len(wa | wb) if wa | wb else 0.0
