"""Simulated agents (``sim:ACCURACY[/corr=C][/syc=S]``): parsing, the answer key, refusal,
and the aggregation maths against theory at n >= 2,000.

The large-n checks run the agents' own replies through the engine's own aggregation
functions in-process (``cluster_answers`` and ``tally``, as the planner uses them), since
2,000 debates through the service would take minutes here; ``tests/eval/test_harness.py``
checks at a smaller n that the service path gives exactly these per-question verdicts.

Intervals are 99 % percentile-bootstrap intervals (the report's method at a wider level):
the seeds are fixed, so each check is one draw, and at 95 % one of these six checks would
miss by chance about a quarter of the time for any given seed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from aragora.agents.demo.sim import KeyedAnswer, MemoryAnswerKey, SimLLM, SimProfile, parse_profile
from aragora.agents.registry import default_registry
from aragora.debate.answers import parse_answer
from aragora.debate.consensus import Ballot, tally
from aragora.debate.normalize import cluster_answers
from aragora.debate.ports import CompletionRequest
from aragora.debate.protocol import ConsensusRule
from aragora.errors import InvalidAgentSpecError, ProviderError
from aragora.eval.stats import bootstrap_ci, compare
from aragora.settings import Settings

N = 2000


def test_profiles_parse_and_bad_ones_name_the_spec() -> None:
    assert parse_profile("sim:0.7", "0.7") == SimProfile(0.7)
    assert parse_profile("s", "0.7/corr=0.5/syc=0.25") == SimProfile(0.7, 0.5, 0.25)
    assert parse_profile("s", ".9/syc=1") == SimProfile(0.9, 0.0, 1.0)
    for bad, why in [
        ("1.5", "accuracy must be in [0, 1]"),
        ("0.7/corr=2", "corr must be in [0, 1]"),
        ("0.7/heat=0.1", "unknown sim option 'heat'"),
        ("0.7/corr=0.1/corr=0.2", "given twice"),
        ("seven", "expected sim:ACCURACY"),
    ]:
        with pytest.raises(InvalidAgentSpecError, match="sim:x") as caught:
            parse_profile("sim:x", bad)
        assert why in str(caught.value)


def test_the_registry_builds_labelled_simulated_panels() -> None:
    panel = default_registry().build_panel(["sim:0.7", "sim:0.7", "sim:0.6/corr=0.5#c"])
    assert [p.name for p, _ in panel] == ["sim:0.7", "sim:0.7#2", "c"]
    assert {p.provider for p, _ in panel} == {"sim"}
    with pytest.raises(InvalidAgentSpecError, match="expected provider:model"):
        default_registry().build_panel(["sim"])


def test_default_agents_refuse_simulated_ones() -> None:
    with pytest.raises(ValidationError, match="must not name simulated agents"):
        Settings(default_agents=["demo", "sim:0.9"])


def _request(task: str, phase: str = "propose", **metadata: str) -> CompletionRequest:
    return CompletionRequest(
        system="", prompt=task, phase=phase, metadata={"task": task, **metadata}
    )


def test_without_an_answer_key_it_refuses_all_but_plain_arithmetic() -> None:
    agent = SimLLM(SimProfile(1.0), name="1.0")
    with pytest.raises(ProviderError, match="simulated agent: no answer for this task"):
        agent.reply(_request("Should we use PostgreSQL?"))
    reply = agent.reply(_request("What is the result of 3+4*5-2?"))
    assert parse_answer(reply).answer == "21"
    assert "[simulated 1.0]" in reply


def test_replies_are_well_formed_for_every_phase() -> None:
    key = MemoryAnswerKey()
    key.add("Q?", KeyedAnswer("42", "number"))
    agent = SimLLM(SimProfile(1.0), name="1.0", answer_key=key)
    completion = asyncio.run(agent.complete(_request("Q?")))
    assert completion.usage.total_tokens > 0
    parsed = parse_answer(completion.text)
    assert (parsed.answer, parsed.confidence, parsed.problems) == ("42", 1.0, ())
    assert _answer_line(completion.text) == "42"
    critique = agent.reply(
        CompletionRequest("", "Q?", phase="critique", choices=("42", "7"), metadata={"task": "Q?"})
    )
    assert critique.startswith("CRITIQUE:")
    assert "1 of the answers shown match mine" in critique
    vote = agent.reply(
        CompletionRequest(
            "", "Q?", phase="vote", choices=("7", "42"), metadata={"task": "Q?", "own_answer": "42"}
        )
    )
    assert vote.startswith("CHOICE: 2")


def _key(n: int, kind: str = "number") -> tuple[MemoryAnswerKey, list[str]]:
    key = MemoryAnswerKey()
    tasks = []
    for i in range(n):
        task = f"question {i}"
        answer = {"number": str(i * 7), "yesno": "yes", "choice": "B"}[kind]
        key.add(task, KeyedAnswer(answer, kind, ("A", "B", "C", "D"), salt="s"))
        tasks.append(task)
    return key, tasks


def _panel(spec: str, size: int, key: MemoryAnswerKey, seed: int = 100) -> list[SimLLM]:
    profile = parse_profile(spec, spec)
    return [SimLLM(profile, name=spec, seed=seed + i, answer_key=key) for i in range(size)]


def _answer_line(reply: str) -> str:
    # The engine's parser (parse_answer) reads these replies the same way (checked in
    # test_replies_are_well_formed_for_every_phase); this is a tenth of its cost.
    first = reply.split("\n", 1)[0]
    assert first.startswith("ANSWER: ")
    return first.removeprefix("ANSWER: ")


def _answers(panel: Sequence[SimLLM], task: str) -> list[str]:
    return [_answer_line(agent.reply(_request(task))) for agent in panel]


def _verdict(answers: Sequence[str]) -> str | None:
    """The engine's verdict on these answers under the majority rule, as the planner
    reaches it: cluster the answers into options, one ballot each, tally; a tie is none."""
    clusters = cluster_answers(answers)
    ballots = [
        Ballot(f"agent{i}", option, 0.7) for option, members in enumerate(clusters) for i in members
    ]
    counted = tally(ballots, ConsensusRule.MAJORITY, panel_size=len(answers))
    if counted.tie or counted.winner is None:
        return None
    return answers[clusters[counted.winner][0]]


def _ci(correct: int, n: int) -> tuple[float, float]:
    return bootstrap_ci(correct, n, level=0.99)


def _within(correct: int, n: int, expected: float) -> bool:
    low, high = _ci(correct, n)
    return low <= expected <= high


def test_one_agent_is_right_at_its_accuracy_and_shares_errors_at_corr() -> None:
    key, tasks = _key(N)
    (agent,) = _panel("0.7/corr=0.5", 1, key)
    right = shared = 0
    shared_wrong = SimLLM(SimProfile(0.0, 1.0), name="any", answer_key=key)
    for i, task in enumerate(tasks):
        answer = _answers([agent], task)[0]
        if answer == str(i * 7):
            right += 1
        elif answer == _answers([shared_wrong], task)[0]:
            shared += 1
    assert _within(right, N, 0.7)
    assert _within(shared, N - right, 0.5)  # P(the error is the panel's shared one) = C


def _majority(spec: str, size: int = 3) -> list[bool]:
    key, tasks = _key(N)
    panel = _panel(spec, size, key)
    return [_verdict(_answers(panel, t)) == str(i * 7) for i, t in enumerate(tasks)]


def test_three_independent_agents_of_0_7_vote_to_0_784() -> None:
    assert _within(sum(_majority("0.7")), N, 0.784)  # 3 p^2 - 2 p^3


def _correlated_theory(p: float, c: float) -> float:
    """Majority of 3: each agent takes the shared draw (right with p) with probability c."""

    def at_least_two(q: float) -> float:
        return 3 * q**2 - 2 * q**3

    return p * at_least_two(c + (1 - c) * p) + (1 - p) * at_least_two((1 - c) * p)


def test_correlated_errors_make_the_vote_worse_as_theory_says() -> None:
    correlated = _majority("0.7/corr=0.5")
    assert _within(sum(correlated), N, _correlated_theory(0.7, 0.5))  # 0.742
    paired = compare("corr", "independent", correlated, _majority("0.7"))
    assert paired.diff_ci_high < 0
    assert paired.p_value < 0.05
    assert _within(sum(_majority("0.7/corr=1")), N, 0.7)  # one shared draw: one agent


def _one_round(panel: Sequence[SimLLM], task: str, first: Sequence[str]) -> list[str]:
    """Each agent revises its proposal in ``first`` once, seeing the others' (as the
    engine's revise call shows them: ``choices`` the others' answers, ``own_answer`` its
    own)."""
    revised = []
    for i, agent in enumerate(panel):
        others = tuple(a for j, a in enumerate(first) if j != i)
        request = CompletionRequest(
            "",
            task,
            phase="revise",
            choices=others,
            metadata={"task": task, "own_answer": first[i], "round": "1"},
        )
        revised.append(_answer_line(agent.reply(request)))
    return revised


def test_sycophancy_makes_debate_no_better_than_the_vote() -> None:
    key, tasks = _key(N)
    for spec, gains in (("0.7/syc=1", False), ("0.7", True)):
        panel = _panel(spec, 3, key)
        vote = debate = 0
        for i, task in enumerate(tasks):
            first = _answers(panel, task)
            vote += _verdict(first) == str(i * 7)
            debate += _verdict(_one_round(panel, task, first)) == str(i * 7)
        vote_high = _ci(vote, N)[1]
        debate_low = _ci(debate, N)[0]
        if gains:  # agents that check a peer's answer but never just follow the crowd
            assert debate_low > vote_high
        else:  # followers: the debate ends where the first majority was
            assert debate == vote
            assert debate_low <= vote_high
