"""Building the agent calls of each phase: prompts, anonymised views and requests.

Every agent sees the others as "Agent A", "Agent B", ... (labels fixed per round and
shared by all readers, so critiques can refer to them) in an order shuffled per reader;
the shuffles are seeded by the debate's seed, so a resumed debate asks the same.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from aragora.debate.model import Participant
from aragora.debate.ports import CompletionRequest
from aragora.debate.prompting import PromptBook, Shown
from aragora.debate.state import CallKey, DebateState, Position

__all__ = ["AgentCall", "CallBuilder"]

Seen = tuple[str, Shown, str]
"""(agent, what is shown of its answer, the bare answer)."""


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One call to make. ``shown`` maps each option shown (vote/judge) to its option
    index, or lists the agents whose answers a critique covers."""

    key: CallKey
    request: CompletionRequest
    shown_options: tuple[int, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallBuilder:
    """Turns a state and the agents to ask into :class:`AgentCall` objects."""

    book: PromptBook

    def propose(self, s: DebateState, participant: Participant) -> AgentCall:
        """The first, independent answer."""
        prompt = self.book.propose(_task(s), _context(s))
        return AgentCall(
            key=CallKey("propose", 1, participant.name),
            request=self._request(s, participant, "propose", prompt, choices=()),
        )

    def critiques(self, s: DebateState, critics: Sequence[Participant]) -> tuple[AgentCall, ...]:
        """One critique call per critic that has someone else's answer to critique."""
        pool = self._pool(s)
        calls = []
        for participant in critics:
            others = self._others(s, pool, participant.name, "critique")
            if not others:
                continue  # nobody else has an answer to critique
            own = s.latest(participant.name)
            prompt = self.book.critique(
                _task(s), _context(s), own.answer if own else "", [o for _, o, _ in others]
            )
            calls.append(
                AgentCall(
                    key=CallKey("critique", s.round, participant.name),
                    request=self._request(s, participant, "critique", prompt, others, own),
                    targets=tuple(name for name, _, _ in others),
                )
            )
        return tuple(calls)

    def revisions(self, s: DebateState, agents: Sequence[Participant]) -> tuple[AgentCall, ...]:
        """One revision call per agent, showing the others' answers and the critiques."""
        labels = self.labels(s)
        pool = self._pool(s)
        calls = []
        for participant in agents:
            others = self._others(s, pool, participant.name, "revise")
            critiques = sorted(
                (
                    Shown(labels[c.agent], c.content)
                    for c in s.critiques.get(s.round, {}).values()
                    if c.agent != participant.name
                ),
                key=lambda shown: shown.label,
            )
            own = s.latest(participant.name)
            prompt = self.book.revise(
                _task(s),
                _context(s),
                label=labels[participant.name],
                own_answer=own.answer if own else "",
                own_reasoning=own.reasoning if own else "",
                others=[o for _, o, _ in others],
                critiques=critiques,
            )
            calls.append(
                AgentCall(
                    key=CallKey("revise", s.round, participant.name),
                    request=self._request(s, participant, "revise", prompt, others, own),
                )
            )
        return tuple(calls)

    def vote(self, s: DebateState, participant: Participant) -> AgentCall:
        """A vote among the options, shown in a per-voter order."""
        options = s.options or ()
        order = list(range(len(options)))
        salt = f"{s.require_setup().seed}:{s.round}:vote:{participant.name}"
        order.sort(key=lambda i: _shuffle_key(salt, options[i]))
        shown = [Shown(f"Option {n + 1}", options[i]) for n, i in enumerate(order)]
        own = s.latest(participant.name)
        prompt = self.book.vote(_task(s), _context(s), shown, own.answer if own else "")
        return AgentCall(
            key=CallKey("vote", s.round, participant.name),
            request=self._request(
                s, participant, "vote", prompt, own=own, choices=tuple(options[i] for i in order)
            ),
            shown_options=tuple(order),
        )

    def judge(self, s: DebateState, judge: Participant) -> AgentCall:
        """The judge's decision among the options other than its own answer."""
        options = s.options or ()
        own = s.members.get(judge.name)
        # A judge never decides for its own answer, unless it is the only one there is.
        order = [i for i in range(len(options)) if i != own] or list(range(len(options)))
        salt = f"{s.require_setup().seed}:{s.round}:judge:{judge.name}"
        order.sort(key=lambda i: _shuffle_key(salt, options[i]))
        reasons = {}
        for agent, option in sorted(s.members.items()):
            position = s.latest(agent)
            if position is not None and option not in reasons:
                reasons[option] = position.reasoning
        shown = [
            Shown(f"Option {n + 1}", f"{options[i]}\n(reasoning: {reasons.get(i, '')})")
            for n, i in enumerate(order)
        ]
        prompt = self.book.judge(_task(s), _context(s), shown)
        return AgentCall(
            key=CallKey("judge", s.round, judge.name),
            request=self._request(
                s, judge, "judge", prompt, choices=tuple(options[i] for i in order)
            ),
            shown_options=tuple(order),
        )

    def labels(self, s: DebateState) -> Mapping[str, str]:
        """Anonymous labels for this round, the same for every reader ("Agent A", ...)."""
        setup = s.require_setup()
        return _round_labels(setup.seed, s.round, tuple(p.name for p in setup.panel))

    def _pool(self, s: DebateState) -> list[Seen]:
        """The answers a phase shows: each present agent's latest answer, labelled:
        (agent, what is shown, the bare answer), in panel order."""
        labels = self.labels(s)
        return [
            (
                p.name,
                Shown(labels[p.name], f"{pos.answer}\n(reasoning: {pos.reasoning})"),
                pos.answer,
            )
            for p in s.present_this_phase()
            if (pos := s.latest(p.name)) is not None
        ]

    def _others(self, s: DebateState, pool: Sequence[Seen], viewer: str, phase: str) -> list[Seen]:
        """The pool without the viewer's own answer, in a per-reader random order."""
        salt = f"{s.require_setup().seed}:{s.round}:{phase}:{viewer}"
        others = [item for item in pool if item[0] != viewer]
        others.sort(key=lambda item: _shuffle_key(salt, item[0]))
        return others

    def _request(
        self,
        s: DebateState,
        participant: Participant,
        phase: str,
        prompt: str,
        others: Sequence[Seen] = (),
        own: Position | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> CompletionRequest:
        setup = s.require_setup()
        label = self.labels(s).get(participant.name, "the judge")
        metadata = {
            "debate_id": setup.debate_id,
            "task": setup.task.question,
            "agent": participant.name,
            "round": str(s.round),
            "phase": phase,
        }
        if own is not None:
            metadata["own_answer"] = own.answer
        if choices is None:
            choices = tuple(answer for _, _, answer in others)
        return CompletionRequest(
            system=self.book.system(label),
            prompt=prompt,
            phase=phase,
            choices=choices,
            max_tokens=setup.protocol.max_answer_tokens,
            metadata=metadata,
            timeout=setup.protocol.agent_timeout,
        )


def _task(s: DebateState) -> str:
    return s.require_setup().task.question


def _context(s: DebateState) -> str:
    return s.require_setup().task.context


def _shuffle_key(salt: str, item: str) -> int:
    """A seeded random order that is stable across processes (unlike ``hash()``): sort by
    a checksum of salt and item. Anonymisation needs an unpredictable-looking order per
    reader, not a cryptographic one, and this runs for every item shown."""
    return zlib.crc32(f"{salt}\x00{item}".encode())


@lru_cache(maxsize=1024)
def _round_labels(seed: int, round_number: int, names: tuple[str, ...]) -> Mapping[str, str]:
    """Anonymous labels for one round, the same for every reader ("Agent A", ...)."""
    salt = f"{seed}:{round_number}:labels"
    ordered = sorted(names, key=lambda name: _shuffle_key(salt, name))
    return {name: f"Agent {_letters(i)}" for i, name in enumerate(ordered)}


def _letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text
