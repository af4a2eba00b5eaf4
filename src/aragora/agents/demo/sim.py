"""Simulated agents: known accuracy, error correlation and sycophancy, for evaluation.

``sim:ACCURACY[/corr=C][/syc=S][#label]`` (e.g. ``sim:0.7``, ``sim:0.7/corr=0.5``) builds a
:class:`SimLLM`, an offline agent that answers through the same :class:`~aragora.debate.ports.LLM`
seam as every model, in the reply formats of :mod:`aragora.debate.answers`, so the engine's
parsing, clustering, voting and stopping rules apply to it unchanged. Its reasoning is tagged
``[simulated ...]`` so nobody mistakes it for a model.

The model of one agent on one question (all draws are pure functions of seeds and the task,
from SHA-256, so a run is reproducible in any process):

- **Proposal.** With probability ``C`` the agent takes the panel's *shared* draw for the
  question (correct when a draw common to every agent falls below its accuracy; when wrong,
  the one shared wrong answer); otherwise its own independent draw (when wrong, an answer of
  its own, different from every other agent's). So each agent is right with probability
  ``ACCURACY``, and given that it is wrong, its error is the panel's shared error with
  probability ``C`` (the contract's definition of C).
- **Revision** (after seeing the peers' answers). With probability ``S`` it switches to the
  majority of the answers it sees (its own included; no strict majority, no switch).
  Otherwise it keeps a right answer, and replaces a wrong one with the right answer when a
  peer offers it, with probability ``ACCURACY`` (it checks an offered answer as well as it
  solves: the modelling assumption that gives debate something to add over a vote).
- **Critique** and **vote**: it critiques by agreement and votes for its own current answer.

The agent must know the right answer to play this. It looks it up in an :class:`AnswerKey`
(``aragora eval`` fills one per question, kept in the evaluating process and never shown to
the debate); without one it solves the task itself only when the task is plain arithmetic
it can evaluate exactly; otherwise it refuses with a :class:`~aragora.errors.ProviderError`
saying why, so a simulated agent can never pretend to answer a real question.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aragora.agents.demo.personas import estimate_usage
from aragora.agents.demo.questions import analyse
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.model import AgentSpec
from aragora.debate.normalize import normalize_answer
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import InvalidAgentSpecError, ProviderError

if TYPE_CHECKING:
    from aragora.agents.registry import ProviderFactory

__all__ = [
    "AnswerKey",
    "KeyedAnswer",
    "MemoryAnswerKey",
    "SimLLM",
    "SimProfile",
    "parse_profile",
    "sim_factory",
]

_PROFILE_RE = re.compile(r"^(?P<acc>[0-9]*\.?[0-9]+)(?P<opts>(?:/[a-z]+=[0-9]*\.?[0-9]+)*)$")


@dataclass(frozen=True, slots=True)
class SimProfile:
    """A simulated agent's traits, each a probability."""

    accuracy: float
    corr: float = 0.0
    syc: float = 0.0


def parse_profile(spec_text: str, model: str) -> SimProfile:
    """The profile in ``model`` (``ACCURACY[/corr=C][/syc=S]``); :class:`InvalidAgentSpecError`
    naming ``spec_text`` when it is malformed or a value lies outside [0, 1]."""
    found = _PROFILE_RE.match(model.strip())
    if found is None:
        raise InvalidAgentSpecError(
            spec_text, "expected sim:ACCURACY[/corr=C][/syc=S], e.g. sim:0.7 or sim:0.7/corr=0.5"
        )
    values = {"accuracy": float(found["acc"])}
    for part in filter(None, found["opts"].split("/")):
        name, _, raw = part.partition("=")
        if name not in ("corr", "syc"):
            raise InvalidAgentSpecError(spec_text, f"unknown sim option {name!r} (corr, syc)")
        if name in values:
            raise InvalidAgentSpecError(spec_text, f"sim option {name!r} given twice")
        values[name] = float(raw)
    for name, value in values.items():
        if not 0.0 <= value <= 1.0:
            raise InvalidAgentSpecError(spec_text, f"sim {name} must be in [0, 1], got {value:g}")
    return SimProfile(**values)


@dataclass(frozen=True, slots=True)
class KeyedAnswer:
    """The right answer to one task, and its kind (``number``, ``choice``, ``yesno`` or
    ``exact``) so wrong answers look like answers; ``options`` are a choice's letters or
    texts; ``salt`` varies the panel's shared draws between evaluation runs."""

    answer: str
    kind: str = "exact"
    options: tuple[str, ...] = ()
    salt: str = ""


class AnswerKey(Protocol):
    """Right answers by task text, as the evaluating process knows them."""

    def lookup(self, task: str) -> KeyedAnswer | None: ...


@dataclass(slots=True)
class MemoryAnswerKey:
    """An :class:`AnswerKey` in memory: ``add`` the tasks an evaluation will ask."""

    entries: dict[str, KeyedAnswer] = field(default_factory=dict)

    def add(self, task: str, answer: KeyedAnswer) -> None:
        """Record the right answer to ``task`` (matched after stripping whitespace)."""
        self.entries[task.strip()] = answer

    def lookup(self, task: str) -> KeyedAnswer | None:
        return self.entries.get(task.strip())


class SimLLM:
    """One simulated agent; implements :class:`aragora.debate.ports.LLM` (see the module)."""

    def __init__(
        self,
        profile: SimProfile,
        *,
        name: str,
        seed: int = 0,
        answer_key: AnswerKey | None = None,
    ) -> None:
        self._profile = profile
        self._name = name
        self._seed = seed
        self._key = answer_key

    @property
    def provider(self) -> str:
        return "sim"

    @property
    def model(self) -> str:
        return self._name

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """The reply to ``request`` (see the module for how it is decided)."""
        text = self.reply(request)
        if on_token is not None:
            on_token(text)
        return Completion(text=text, usage=estimate_usage(request, text), model=self._name)

    def reply(self, request: CompletionRequest) -> str:
        """The full reply text; the same request always gets the same text."""
        task = request.metadata.get("task") or request.prompt
        truth = self._truth(task)
        own = request.metadata.get("own_answer") or self._propose(task, truth)
        if request.phase == "critique":
            agree = sum(1 for c in request.choices if _same(c, own))
            score = 0.2 + 0.6 * agree / max(1, len(request.choices))
            return format_critique(self._tag(f"{agree} of the answers shown match mine."), score)
        if request.phase in ("vote", "judge"):
            index = next((i for i, c in enumerate(request.choices) if _same(c, own)), 0)
            return format_vote(index + 1, self._profile.accuracy, self._tag("My own answer."))
        if request.phase == "revise":
            own = self._revise(task, truth, own, request)
        return format_answer(own, self._profile.accuracy, self._tag("Simulated answer."))

    # -- decisions ------------------------------------------------------------------------

    def _truth(self, task: str) -> KeyedAnswer:
        if self._key is not None:
            found = self._key.lookup(task)
            if found is not None:
                return found
        question = analyse(task)
        if question.kind == "arithmetic":
            return KeyedAnswer(question.value, "number")
        raise ProviderError(
            "simulated agent: no answer for this task (it answers only aragora eval's "
            "questions, from their answer key, and plain arithmetic)",
            kind="invalid_request",
            provider="sim",
        )

    def _propose(self, task: str, truth: KeyedAnswer) -> str:
        p = self._profile
        if self._unit(task, "copy") < p.corr:
            right = _fraction("shared", truth.salt, task) < p.accuracy
            return truth.answer if right else _wrong(truth, _digest("shared", truth.salt, task))
        if self._unit(task, "own") < p.accuracy:
            return truth.answer
        return _wrong(truth, _digest("own", self._seed, self._name, truth.salt, task))

    def _revise(self, task: str, truth: KeyedAnswer, own: str, request: CompletionRequest) -> str:
        round_tag = request.metadata.get("round", "1")
        seen = [*request.choices, own]
        if self._unit(task, "syc", round_tag) < self._profile.syc:
            counts = Counter(normalize_answer(a) for a in seen)
            top, votes = counts.most_common(1)[0]
            if votes * 2 > len(seen):
                return next(a for a in seen if normalize_answer(a) == top)
            return own
        if _same(own, truth.answer):
            return own
        offered = any(_same(c, truth.answer) for c in request.choices)
        if offered and self._unit(task, "check", round_tag) < self._profile.accuracy:
            return truth.answer
        return own

    def _unit(self, task: str, *parts: object) -> float:
        return _fraction(self._seed, self._name, task, *parts)

    def _tag(self, text: str) -> str:
        return f"[simulated {self._name}] {text}"


def sim_factory(answer_key: AnswerKey | None = None) -> ProviderFactory:
    """The ``sim`` provider: ``sim:ACCURACY[/corr=C][/syc=S]`` with ``answer_key``'s answers."""

    def make(spec: AgentSpec, *, seed: int) -> LLM:
        profile = parse_profile(str(spec), spec.model)
        # A label names a distinct agent: its draws differ from an unlabelled twin's.
        name = f"{spec.model}#{spec.label}" if spec.label else spec.model
        return SimLLM(profile, name=name, seed=seed, answer_key=answer_key)

    return make


# -- pure helpers ----------------------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    key = normalize_answer(a)
    return bool(key) and key == normalize_answer(b)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()


def _fraction(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) named by ``parts``."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


def _wrong(truth: KeyedAnswer, digest: bytes) -> str:
    """A wrong answer of the right kind, chosen by ``digest``: different digests give
    different numbers and exact answers (choices and yes/no have only so many)."""
    pick = int.from_bytes(digest[:8], "big")
    if truth.kind == "yesno":
        return "no" if normalize_answer(truth.answer) == "yes" else "yes"
    if truth.kind == "choice":
        others = [o for o in truth.options if not _same(o, truth.answer)]
        if others:
            return others[pick % len(others)]
    if truth.kind == "number":
        value = _as_number(truth.answer)
        if value is not None:
            offset = 1 + pick % 1_000_000
            wrong = value + offset if pick & 1 << 40 else value - offset
            return str(int(wrong)) if wrong == int(wrong) else f"{wrong:g}"
    return f"not {truth.answer} ({pick % 1_000_000})"


def _as_number(text: str) -> float | None:
    key = normalize_answer(text).lstrip("$€£¥").replace(",", "")
    try:
        value = float(key)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
