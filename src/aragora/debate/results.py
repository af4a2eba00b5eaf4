"""From agent replies to event data, and from a concluded state to the debate result."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aragora.debate._text import shorten
from aragora.debate.answers import parse_answer, parse_critique, parse_vote
from aragora.debate.consensus import Consensus
from aragora.debate.events import WarningCode
from aragora.debate.model import DebateResult, Dissent, Quorum, Vote
from aragora.debate.ports import Completion, Fallback
from aragora.debate.state import CallKey, DebateState
from aragora.debate.validity import answer_abstention, critique_abstention

__all__ = [
    "answer_data",
    "build_result",
    "critique_data",
    "error_data",
    "fallback_data",
    "option_label_scores",
    "vote_data",
]

SameAnswer = Callable[[str, str], bool]


def _base(key: CallKey, completion: Completion, seconds: float) -> dict[str, Any]:
    usage = completion.usage
    data: dict[str, Any] = {
        "agent": key.agent,
        "phase": key.phase,
        "round_number": key.round,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": usage.cost_usd,
        },
        "model": completion.model,
        "provider": completion.provider,
        "duration_seconds": round(seconds, 4),
        # the part of that time spent waiting in our own limits before the call was sent
        "queued_ms": round(completion.queued_seconds * 1000, 1),
    }
    if usage.estimated:
        data["usage"]["estimated"] = True
    if completion.truncated:
        data["truncated"] = True
    return data


def _problems(key: CallKey, problems: Sequence[str], empty: bool) -> list[dict[str, Any]]:
    code = WarningCode.EMPTY_OUTPUT if empty else WarningCode.MALFORMED_OUTPUT
    return [_problem(key, code, p) for p in problems]


def _problem(key: CallKey, code: WarningCode, text: str) -> dict[str, Any]:
    return {
        "code": code.value,
        "message": f"{key.agent} ({key.phase}): {text}",
        "agent": key.agent,
        "phase": key.phase,
    }


def _truncation(key: CallKey, completion: Completion) -> list[dict[str, Any]]:
    if not completion.truncated:
        return []
    return [
        _problem(
            key,
            WarningCode.TRUNCATED_OUTPUT,
            f"reply cut at the token limit after {completion.usage.output_tokens} tokens",
        )
    ]


def answer_data(
    key: CallKey,
    completion: Completion,
    seconds: float,
    previous: str | None,
    same: SameAnswer,
    *,
    task: str = "",
    background: str = "",
    instructions: str = "",
) -> dict[str, Any]:
    """Data of a ``propose`` or ``revision`` event.

    A reply that is no answer (see :mod:`aragora.debate.validity`) is an abstention: the
    event's ``answer`` is empty, ``abstained`` gives the reason, ``offered`` what the reply
    held where an answer should be, and an ``invalid_answer`` warning follows. A valid
    answer's formatting problems become ``malformed_output`` warnings; a reply cut at the
    token limit is marked ``truncated``."""
    parsed = parse_answer(completion.text)
    reason = answer_abstention(
        parsed,
        completion.text,
        task=task,
        background=background,
        instructions=instructions,
        truncated=completion.truncated,
    )
    answer = "" if reason else parsed.answer
    data = _base(key, completion, seconds)
    data.update(
        content=completion.text,
        answer=answer,
        confidence=parsed.confidence if answer else 0.0,
        reasoning=parsed.reasoning,
    )
    if key.phase == "revise":
        data["changed"] = bool(answer) and previous is not None and not same(previous, answer)
    problems = _truncation(key, completion)
    if reason:
        data["abstained"] = reason
        if parsed.answer:
            data["offered"] = shorten(parsed.answer, 300)
        problems.append(_problem(key, WarningCode.INVALID_ANSWER, f"abstains: {reason}"))
    elif parsed.problems:
        problems.extend(_problems(key, parsed.problems, empty=False))
    if problems:
        data["problems"] = problems
    return data


def critique_data(
    key: CallKey,
    completion: Completion,
    seconds: float,
    targets: Sequence[str],
    *,
    task: str = "",
    instructions: str = "",
) -> dict[str, Any]:
    """Data of a ``critique`` event covering the answers of ``targets``. A critique that
    is no critique (empty, markup, placeholder, an echo) keeps empty ``content`` (so no one
    is shown it) with the reason in ``abstained``."""
    parsed = parse_critique(completion.text)
    reason = critique_abstention(parsed.content, task=task, instructions=instructions)
    data = _base(key, completion, seconds)
    data.update(
        content="" if reason else parsed.content,
        score=parsed.score,
        target_agent=targets[0] if len(targets) == 1 else None,
        targets=list(targets),
    )
    problems = _truncation(key, completion)
    if reason:
        data["abstained"] = reason
        problems.append(_problem(key, WarningCode.INVALID_ANSWER, f"abstains: {reason}"))
    elif parsed.problems:
        problems.extend(_problems(key, parsed.problems, empty=False))
    if problems:
        data["problems"] = problems
    return data


def vote_data(
    key: CallKey,
    completion: Completion,
    seconds: float,
    shown: Sequence[int],
    options: Sequence[str],
    own_option: int | None,
) -> dict[str, Any]:
    """Data of a ``vote`` event (or a judge's decision, phase ``judge``).

    ``shown[i]`` is the option index displayed as "Option i+1". A vote naming no valid
    option counts for the voter's own answer; a judge's does not count at all."""
    parsed = parse_vote(completion.text, len(shown), [options[i] for i in shown])
    data = _base(key, completion, seconds)
    problems = list(parsed.problems)
    option: int | None = shown[parsed.option] if parsed.option is not None else None
    if option is None and key.phase == "vote" and own_option is not None:
        option = own_option
        problems.append("no valid option named; counted as a vote for its own answer")
    data.update(
        option=option,
        choice=options[option] if option is not None else None,
        confidence=parsed.confidence,
        reasoning=parsed.reasoning,
        raw=completion.text,
    )
    if problems:
        data["problems"] = _problems(key, problems, empty=not completion.text.strip())
    return data


def error_data(key: CallKey, exc: BaseException, seconds: float, kind: str) -> dict[str, Any]:
    """Data of an ``agent_error`` event; the agent takes no further part."""
    return {
        "agent": key.agent,
        "phase": key.phase,
        "round_number": key.round,
        "kind": kind,
        "error": str(exc) or type(exc).__name__,
        "duration_seconds": round(seconds, 4),
    }


def fallback_data(key: CallKey, hop: Fallback) -> dict[str, Any]:
    """Data of an ``agent_fallback`` event: the call moved to another provider/model."""
    return {
        "agent": key.agent,
        "phase": key.phase,
        "round_number": key.round,
        "from_provider": hop.from_provider,
        "from_model": hop.from_model,
        "to_provider": hop.to_provider,
        "to_model": hop.to_model,
        "reason": hop.reason,
    }


def option_label_scores(options: Sequence[str], scores: Mapping[int, float]) -> dict[str, float]:
    """Scores keyed by option text, for people reading the tally."""
    return {options[i]: round(score, 4) for i, score in sorted(scores.items()) if i < len(options)}


_NO_CONSENSUS = Consensus.from_wire({})


def build_result(s: DebateState, same: SameAnswer) -> DebateResult:
    """The final result of a debate whose ``consensus`` event is in the state. It repeats
    the consensus event's verdict (so the log never contradicts itself): ``failed`` when
    the debate could not decide for want of valid answers or working agents, ``cancelled``
    when cancelled, else ``completed`` (with or without consensus; a tie has no answer)."""
    setup = s.require_setup()
    consensus = s.consensus or _NO_CONSENSUS
    status, final, error = _verdict(s, consensus)
    reached = consensus.reached and final is not None
    return DebateResult(
        status=status,
        final_answer=final,
        confidence=float(consensus.confidence) if final is not None else 0.0,
        consensus_reached=reached,
        rule=str(consensus.rule or setup.protocol.consensus.value),
        votes=tuple(
            Vote(v.agent, v.choice, v.confidence, v.reasoning)
            for p in setup.panel
            if (v := s.votes.get(p.name)) is not None
        ),
        positions=_positions(s, same, final),
        rounds_used=s.round,
        partial=s.stop is not None,
        stop_reason=s.stop,
        error=error,
        tie=consensus.tie,
        judge=consensus.judge,
        tally=dict(consensus.tally),
        failed_agents=dict(s.failed),
        abstained_agents={
            agent: reason for agent, reason in s.abstained.items() if not s.positions.get(agent)
        },
        outcome=consensus.outcome or ("consensus" if reached else status),
        outcome_reason=consensus.reason if not reached else None,
        quorum=_quorum(consensus),
    )


def _quorum(consensus: Consensus) -> Quorum | None:
    """The verdict's quorum counts; none from a consensus event logged before them."""
    if consensus.valid_answers is None or consensus.panel is None or consensus.quorum is None:
        return None
    return Quorum(consensus.valid_answers, consensus.panel, consensus.quorum)


def _verdict(s: DebateState, consensus: Consensus) -> tuple[str, str | None, str | None]:
    """The result's status, final answer and error."""
    final = consensus.final_answer
    outcome = consensus.outcome
    if s.stop == WarningCode.CANCELLED:
        return "cancelled", final, None
    if outcome in ("no_quorum", "quorum_lost") or s.stop == WarningCode.QUORUM_LOST:
        return "failed", None, consensus.reason or s.stop_message
    if final is None and outcome != "tie":
        return "failed", final, consensus.reason or s.stop_message or _no_answer_reason(s)
    return "completed", final, None


def _positions(s: DebateState, same: SameAnswer, final: str | None) -> tuple[Dissent, ...]:
    """Each panel member's final stance (those with an answer or a vote), in panel order."""
    positions = []
    for participant in s.require_setup().panel:
        history = s.positions.get(participant.name, [])
        vote = s.votes.get(participant.name)
        if not history and vote is None:
            continue
        changed: list[int] = []
        for before, after in itertools.pairwise(history):
            if not same(before.answer, after.answer) and after.round not in changed:
                changed.append(after.round)
        latest = history[-1] if history else None
        final_position = vote.choice if vote else (latest.answer if latest else "")
        if vote and latest and not same(vote.choice, latest.answer) and s.round not in changed:
            changed.append(s.round)
        positions.append(
            Dissent(
                agent=participant.name,
                final_position=final_position,
                agrees=final is not None and same(final_position, final),
                reasons=vote.reasoning
                if vote and vote.reasoning
                else (latest.reasoning if latest else ""),
                changed_mind=bool(changed),
                changed_in_rounds=tuple(changed),
                initial_position=history[0].answer if history else "",
            )
        )
    return tuple(positions)


def _no_answer_reason(s: DebateState) -> str:
    if s.failed and len(s.failed) >= len(s.require_setup().panel):
        return "every agent failed: " + "; ".join(f"{a}: {e}" for a, e in s.failed.items())
    return "no agent produced a usable answer"
