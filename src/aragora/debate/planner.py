"""The next step of a debate as a pure function of its state.

``Planner.next_step(state)`` returns one of: an event to append (:class:`Emit`), a set of
agent calls to make concurrently (:class:`Calls`, only calls whose results are not yet in
the log), or :class:`Done`. The engine executes the step, appends what happened, folds it
into the state and asks again. Because nothing but the state decides the next step, a
debate resumed from any prefix of its log continues exactly as it would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aragora.debate.calls import AgentCall, CallBuilder
from aragora.debate.consensus import Ballot, Consensus, tally
from aragora.debate.convergence import RoundConvergence, measure_convergence
from aragora.debate.events import EventType, WarningCode
from aragora.debate.model import Participant
from aragora.debate.normalize import Similarity, cluster_answers
from aragora.debate.protocol import ConsensusRule, Mode
from aragora.debate.results import build_result, option_label_scores
from aragora.debate.state import CallKey, DebateState

__all__ = ["AgentCall", "Calls", "Done", "Emit", "Planner", "Step"]

CLUSTER_THRESHOLD = 0.8


@dataclass(frozen=True, slots=True)
class Emit:
    """Append one event computed from the state."""

    type: str
    data: dict[str, Any]
    round: int | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class Calls:
    calls: tuple[AgentCall, ...]


@dataclass(frozen=True, slots=True)
class Done:
    pass


Step = Emit | Calls | Done


@dataclass(slots=True)
class Planner:
    """Decides the next step; holds only configuration, never debate state."""

    calls: CallBuilder
    similarity: Similarity
    cluster_threshold: float = CLUSTER_THRESHOLD

    def next_step(self, s: DebateState) -> Step:
        """The next step for state ``s`` (which must have started)."""
        if s.ended:
            return Done()
        step = self._step(s)
        if isinstance(step, Calls) or not s.owed_warnings:
            return step
        # Warnings about malformed replies come once a batch of calls is complete, so a
        # resumed debate logs them in the same place as an uninterrupted one.
        ref = min(s.owed_warnings)
        problem = s.owed_warnings[ref][0]
        return Emit(
            EventType.WARNING,
            {**problem, "ref_seq": ref},
            round=s.round or None,
            agent=problem.get("agent"),
        )

    def _step(self, s: DebateState) -> Step:
        setup = s.require_setup()
        protocol = setup.protocol
        if s.consensus is not None:
            if s.consensus.reached and not s.consensus_announced:
                return Emit(
                    EventType.CONSENSUS_REACHED,
                    {
                        "final_answer": s.consensus.final_answer,
                        "confidence": s.consensus.confidence,
                        "rule": s.consensus.rule,
                    },
                )
            result = build_result(s, self.same_answer)
            return Emit(
                EventType.DEBATE_END,
                {"result": result.to_wire(), "total_rounds": s.round, "status": result.status},
            )
        if s.stop is not None:
            return self._conclude(s)
        if s.budget_reached():
            usage = s.total_usage()
            return _warning(
                WarningCode.BUDGET_EXHAUSTED,
                f"budget exhausted after {usage.total_tokens} tokens and ${usage.cost_usd:.4f}",
            )
        step = self._phase_step(s)
        if isinstance(step, Calls):
            # A phase's calls are all made even when some of them fail: quorum is judged
            # between phases, so a debate resumed mid-phase sees the same complete phase.
            return step
        if protocol.mode is not Mode.SINGLE and s.phase != "judge":
            need = protocol.quorum_for(len(setup.panel))
            working = len(s.alive())
            if working < need:
                reasons = "; ".join(f"{agent}: {error[:200]}" for agent, error in s.failed.items())
                return _warning(
                    WarningCode.QUORUM_LOST,
                    f"quorum lost: {working} of {len(setup.panel)} agents working, {need} needed"
                    f" ({reasons})",
                )
        return step

    def _phase_step(self, s: DebateState) -> Step:
        if s.round == 0:
            return Emit(EventType.ROUND_START, {"round": 1}, round=1)
        if s.phase is None:
            return _phase("propose" if s.round == 1 else "critique", s.round)
        if s.phase == "propose":
            return self._propose(s)
        if s.phase == "critique":
            return self._critique(s)
        if s.phase == "revise":
            return self._revise(s)
        if s.phase == "vote":
            return self._vote(s)
        if s.phase == "judge":
            return self._judge(s)
        raise ValueError(f"unknown phase {s.phase!r} in the log")

    # -- phases ---------------------------------------------------------------------------

    def _propose(self, s: DebateState) -> Step:
        setup = s.require_setup()
        mode = setup.protocol.mode
        if mode is Mode.SINGLE:
            return self._propose_single(s)
        missing = [p for p in s.alive() if CallKey("propose", 1, p.name) not in s.answered]
        if missing:
            return Calls(tuple(self.calls.propose(s, p) for p in missing))
        if mode is Mode.VOTE:
            return self._start_vote(s)
        options, _ = self._options(s)
        answered = sum(1 for p in s.alive() if s.latest(p.name))
        if mode is Mode.AUTO and len(options) == 1 and answered >= min(2, len(s.alive())):
            return self._start_vote(s)
        return _phase("critique", 1)

    def _propose_single(self, s: DebateState) -> Step:
        panel = s.require_setup().panel
        for index, participant in enumerate(panel):
            if participant.name in s.failed or CallKey("propose", 1, participant.name) in (
                s.abstained_at
            ):
                continue
            if index > 0 and ("agent_replaced", participant.name) not in s.warned:
                before = panel[index - 1].name
                what = "failed" if before in s.failed else "gave no valid answer"
                return _warning(
                    WarningCode.AGENT_REPLACED,
                    f"{before} {what}; {participant.name} answers instead",
                    agent=participant.name,
                )
            if CallKey("propose", 1, participant.name) not in s.answered:
                return Calls((self.calls.propose(s, participant),))
            return self._start_vote(s)
        return self._conclude(s)

    def _critique(self, s: DebateState) -> Step:
        missing = [p for p in s.alive() if CallKey("critique", s.round, p.name) not in s.answered]
        calls = self.calls.critiques(s, missing) if missing else ()
        if calls:
            return Calls(calls)
        return _phase("revise", s.round)

    def _revise(self, s: DebateState) -> Step:
        missing = [p for p in s.alive() if CallKey("revise", s.round, p.name) not in s.answered]
        if missing:
            return Calls(self.calls.revisions(s, missing))
        protocol = s.require_setup().protocol
        if s.round not in s.convergence:
            return Emit(EventType.CONVERGENCE, self._convergence(s), round=s.round)
        converged = s.convergence[s.round].converged
        if (converged and protocol.early_stop) or s.round >= protocol.rounds:
            return self._start_vote(s)
        return Emit(EventType.ROUND_START, {"round": s.round + 1}, round=s.round + 1)

    def _vote(self, s: DebateState) -> Step:
        setup = s.require_setup()
        options = s.options or ()
        derived = setup.protocol.mode in (Mode.SINGLE, Mode.VOTE) or len(options) <= 1
        missing = [
            p
            for p in (s.alive() if setup.protocol.mode is not Mode.SINGLE else setup.panel)
            if CallKey("vote", s.round, p.name) not in s.answered
            and (not derived or p.name in s.members)
        ]
        if missing and derived:
            voter = missing[0]
            position = s.latest(voter.name)
            assert position is not None
            option = s.members[voter.name]
            return Emit(
                EventType.VOTE,
                {
                    "agent": voter.name,
                    "phase": "vote",
                    "round_number": s.round,
                    "option": option,
                    "choice": options[option],
                    "confidence": position.confidence,
                    "reasoning": position.reasoning,
                    "derived": True,
                },
                round=s.round,
                agent=voter.name,
            )
        if missing:
            return Calls(tuple(self.calls.vote(s, p) for p in missing))
        if (
            setup.protocol.consensus is ConsensusRule.JUDGE
            and setup.protocol.mode is not Mode.SINGLE
        ):
            return self._start_judge(s)
        return self._conclude(s)

    def _judge(self, s: DebateState) -> Step:
        candidates = self._judge_candidates(s)
        attempts = s.judge_calls
        if attempts and attempts[-1].option is not None:
            return self._conclude(s)
        tried = {a.agent for a in attempts}
        remaining = [p for p in candidates if p.name not in tried and p.name not in s.failed]
        if not remaining or not s.options:
            if attempts and ("judge_unavailable", "") not in s.warned:
                return _warning(
                    WarningCode.JUDGE_UNAVAILABLE,
                    "no judge could decide; the verdict falls back to counting the votes",
                )
            return self._conclude(s)
        judge = remaining[0]
        if attempts and ("judge_replaced", judge.name) not in s.warned:
            return _warning(
                WarningCode.JUDGE_REPLACED,
                f"judge {attempts[-1].agent} failed; {judge.name} judges instead",
                agent=judge.name,
            )
        return Calls((self.calls.judge(s, judge),))

    # -- transitions ----------------------------------------------------------------------

    def _start_vote(self, s: DebateState) -> Step:
        options, members = self._options(s)
        return Emit(
            EventType.PHASE_CHANGE,
            {"phase": "vote", "round": s.round, "options": list(options), "members": members},
            round=s.round,
        )

    def _start_judge(self, s: DebateState) -> Step:
        return Emit(EventType.PHASE_CHANGE, {"phase": "judge", "round": s.round}, round=s.round)

    def _conclude(self, s: DebateState) -> Step:
        """The ``consensus`` event: the verdict from the votes (or, when the debate was cut
        short before voting, from each agent's latest valid position) — or no decision,
        and why. A verdict needs a quorum of valid answers from the whole panel; its
        confidence is measured against the whole panel."""
        setup = s.require_setup()
        protocol = setup.protocol
        if s.options is not None:
            options, members = s.options, s.members
        else:
            options, members = self._options(s)
        panel = 1 if protocol.mode is Mode.SINGLE else len(setup.panel)
        need = protocol.quorum_for(panel)
        verdict = _Verdict(protocol.consensus.value, options, panel, need)
        if s.stop == WarningCode.CANCELLED:
            return verdict.none("cancelled", s.stop_message or "the debate was cancelled")
        if s.stop == WarningCode.QUORUM_LOST:
            return verdict.none("quorum_lost", s.stop_message)
        if s.votes:
            ballots = [Ballot(v.agent, v.option, v.confidence) for v in s.votes.values()]
        else:
            ballots = []
            for agent, option in members.items():
                position = s.latest(agent)
                if position is not None:
                    ballots.append(Ballot(agent, option, position.confidence))
        ballots.sort(key=lambda b: b.agent)
        verdict.valid = len(ballots)
        if len(ballots) < need:
            missing = _missing_answers(s, {b.agent for b in ballots})
            reason = (
                f"no decision: {len(ballots)} of {panel} agent(s) gave a valid answer, "
                f"{need} needed" + (f" ({missing})" if missing else "")
            )
            if s.stop_message:
                reason = f"{s.stop_message}; {reason}"
            return verdict.none("no_quorum", reason)
        counted = tally(
            ballots,
            protocol.consensus,
            supermajority_threshold=protocol.supermajority_threshold,
            panel_size=panel,
        )
        winner, reached, confidence, tie = (
            counted.winner,
            counted.reached,
            counted.confidence,
            counted.tie,
        )
        judge_name = None
        if protocol.consensus is ConsensusRule.JUDGE and s.judge_calls:
            last = s.judge_calls[-1]
            if last.option is not None and s.stop is None:
                # The judge's certainty, discounted by the share of the panel whose valid
                # answers it chose among (a judge cannot lift a thin panel to 1.0).
                confidence = last.confidence * len(ballots) / panel
                winner, reached, tie = last.option, True, False
                judge_name = last.agent
        verdict.tally = option_label_scores(options, counted.scores)
        verdict.ballots = counted.ballots
        if tie or winner is None or winner >= len(options):
            top = max(counted.scores.values(), default=0.0)
            tied = [
                repr(_short(options[i]))
                for i, score in sorted(counted.scores.items())
                if i < len(options) and abs(score - top) <= 1e-9
            ]
            names = " and ".join(tied) or "no options"
            return verdict.none("tie", f"no decision: a tie between {names}", tie=True)
        return verdict.decided(
            winner,
            reached=reached,
            confidence=confidence,
            judge=judge_name,
            share=counted.scores.get(winner, 0.0),
            total=sum(counted.scores.values()),
        )

    # -- building blocks ------------------------------------------------------------------

    def _options(self, s: DebateState) -> tuple[tuple[str, ...], dict[str, int]]:
        """Distinct answers among working agents' latest positions, in panel order."""
        holders = [(p.name, pos) for p in s.alive() if (pos := s.latest(p.name)) is not None]
        if s.require_setup().protocol.mode is Mode.SINGLE:
            holders = [(name, pos) for name, pos in holders][:1]
        answers = [pos.answer for _, pos in holders]
        clusters = cluster_answers(answers, self.similarity, self.cluster_threshold)
        options = tuple(answers[cluster[0]] for cluster in clusters)
        members = {holders[i][0]: index for index, cluster in enumerate(clusters) for i in cluster}
        return options, members

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two answers count as the same option."""
        return len(cluster_answers([a, b], self.similarity, self.cluster_threshold)) == 1

    def _judge_candidates(self, s: DebateState) -> list[Participant]:
        setup = s.require_setup()
        first: list[Participant] = []
        if setup.judge is not None:
            first = [setup.judge]
        elif setup.protocol.judge:
            first = [p for p in setup.panel if p.name == setup.protocol.judge]
        rest = [p for p in setup.panel if p not in first]
        return first + rest

    def _convergence(self, s: DebateState) -> dict[str, Any]:
        """The ``convergence`` event's data for the round just revised."""
        previous: dict[str, str] = {}
        current: dict[str, str] = {}
        for participant in s.alive():
            history = s.positions.get(participant.name, [])
            if not history:
                continue
            current[participant.name] = history[-1].answer
            before = [
                pos for pos in history if not (pos.phase == "revise" and pos.round == s.round)
            ]
            if before:
                previous[participant.name] = before[-1].answer
        threshold = s.require_setup().protocol.convergence_threshold
        measured = measure_convergence(previous, current, threshold, self.similarity)
        options, _ = self._options(s)
        converged = measured.converged or (len(options) == 1 and len(current) >= 2)
        return RoundConvergence(
            round=s.round,
            similarity=round(measured.similarity, 4),
            per_agent={k: round(v, 4) for k, v in measured.per_agent.items()},
            converged=converged,
            status="converged" if converged else measured.status,
            distinct_answers=len(options),
        ).to_wire()


@dataclass(slots=True)
class _Verdict:
    """Builds the ``consensus`` event (a :class:`Consensus`), so every way a debate
    concludes says the same fields."""

    rule: str
    options: tuple[str, ...]
    panel: int
    quorum: int
    valid: int = 0
    tally: dict[str, float] | None = None
    ballots: int = 0

    def none(self, outcome: str, reason: str, *, tie: bool = False) -> Emit:
        return self._emit(
            outcome, None, None, reached=False, confidence=0.0, reason=reason, tie=tie
        )

    def decided(
        self,
        winner: int,
        *,
        reached: bool,
        confidence: float,
        judge: str | None,
        share: float,
        total: float,
    ) -> Emit:
        reason = None
        if not reached:
            reason = (
                f"no consensus under the {self.rule} rule: the leading answer has "
                f"{share:g} of {total:g}"
            )
        return self._emit(
            "consensus" if reached else "plurality",
            winner,
            judge,
            reached=reached,
            confidence=round(confidence, 4),
            reason=reason,
        )

    def _emit(
        self,
        outcome: str,
        winner: int | None,
        judge: str | None,
        *,
        reached: bool,
        confidence: float,
        reason: str | None,
        tie: bool = False,
    ) -> Emit:
        verdict = Consensus(
            rule=self.rule,
            outcome=outcome,
            reached=reached,
            final_answer=self.options[winner] if winner is not None else None,
            confidence=confidence,
            tie=tie,
            judge=judge,
            winner=winner,
            options=self.options,
            tally=self.tally or {},
            ballots=self.ballots,
            valid_answers=self.valid,
            panel=self.panel,
            quorum=self.quorum,
            reason=reason,
        )
        return Emit(EventType.CONSENSUS, verdict.to_wire())


def _missing_answers(s: DebateState, counted: set[str]) -> str:
    """Why each panel member without a counted answer has none, e.g. "b: timed out"."""
    parts = []
    for participant in s.require_setup().panel:
        name = participant.name
        if name in counted:
            continue
        why = s.failed.get(name) or s.abstained.get(name)
        if why:
            parts.append(f"{name}: {_short(why, 160)}")
    return "; ".join(parts)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _phase(name: str, round_number: int) -> Emit:
    return Emit(EventType.PHASE_CHANGE, {"phase": name, "round": round_number}, round=round_number)


def _warning(code: WarningCode, message: str, *, agent: str | None = None) -> Emit:
    data: dict[str, Any] = {"code": code.value, "message": message}
    if agent is not None:
        data["agent"] = agent
    return Emit(EventType.WARNING, data, agent=agent)
