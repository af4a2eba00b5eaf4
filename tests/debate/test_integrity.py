"""Decision integrity: a verdict only from valid answers, confidence over the whole panel,
and a log that never contradicts itself — with the replies real weak models give."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM, by_phase
from aragora.debate.answers import format_answer, parse_answer
from aragora.debate.events import Event, EventType
from aragora.debate.ports import Completion, CompletionRequest, Usage
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import fold
from aragora.debate.validity import answer_abstention, critique_abstention
from aragora.errors import ProviderError
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import PROMPTS, engine_for, panel, run, setup_for, stance

TASK = "Is 17 a prime number?"
PROPOSE = PROMPTS.instructions("propose")


def protocol(**changes: object) -> DebateProtocol:
    return DebateProtocol(agent_timeout=5.0, debate_timeout=30.0).with_changes(**changes)


def reason(reply: str, *, truncated: bool = False, task: str = TASK) -> str | None:
    return answer_abstention(
        parse_answer(reply), reply, task=task, instructions=PROPOSE, truncated=truncated
    )


# -- what counts as an answer ---------------------------------------------------------------

GARBAGE = [
    # what a 270M base model and a small instruct model actually sent back
    (
        "ANSWER: <your answer on one line: a short label, a number, yes/no, or one sentence>",
        "template",
    ),
    ("ANSWER: <answer>\nCONFIDENCE: <a number from 0 to 1>", "template"),
    (
        "ANSWER: Yes\nCONFIDENCE: <a number from 0 to 1>\nREASONING: <why, in a few sentences>",
        "template",
    ),
    # Gemma 3 270M, single mode: the format twice, then a paraphrase of the placeholder
    (
        " <your answer on one line: a short label, a number, yes/no, or one sentence>\n"
        "CONFIDENCE: <a number from 1 to 20>\n [/INST] \n<</YOUR ANSWER: Your answer in the "
        "form of a short statement appears here.",
        "markup",
    ),
    ("ANSWER: Your answer in the form of a short statement appears here.", "placeholder"),
    ("ANSWER: (insert the answer here)", "placeholder"),
    # the same model in auto mode: a worksheet with two different answers
    ("1. Is it fair?\nAnswer: A\n2. Which are true?\nAnswer: A, C, and D", "more than one"),
    ("ANSWER: 17 is prime\n <<SYS>> continue", "markup"),
    ("ANSWER: [your answer here]", "placeholder"),
    ("ANSWER: <<SYS>> You are a helpful assistant", "markup"),
    ("ANSWER: Yes<end_of_turn>\n<start_of_turn>user", "markup"),
    ("ANSWER: <|im_start|>assistant", "markup"),
    ("ANSWER: Question 1: Is 19 a prime number?", "new question"),
    ("ANSWER: Task: decide it", "new question"),
    ("ANSWER: Is 17 a prime number?", "repeats the task"),
    ("ANSWER: is 17 a prime number", "repeats the task"),
    ("ANSWER: a short label, a number, yes/no, or one sentence", "instructions"),
    ("ANSWER: Give your own answer to the task.", "placeholder"),
    ("ANSWER: Reply in exactly this format", "instructions"),
    ("ANSWER: N/A", "declined"),
    ("ANSWER: I don't know.", "declined"),
    ("ANSWER: ...", "declined"),
    ("ANSWER: Yes/No", "both yes and no"),
    ("ANSWER: yes or no", "both yes and no"),
    ("17 is a prime number because it has no divisors but 1 and itself.", "format"),
    ("Question 1\nWhat is 2+2?", "format"),
    ("", "empty"),
    ("   \n", "empty"),
    ("ANSWER:\nCONFIDENCE: 0.4", "no usable answer"),
    ("ANSWER: " + "very long " * 200, "longer than one line"),
]


@pytest.mark.parametrize(("reply", "why"), GARBAGE)
def test_garbage_is_an_abstention_with_its_reason(reply: str, why: str) -> None:
    found = reason(reply)
    assert found is not None, reply
    assert why in found


VALID = [
    "ANSWER: Yes\nCONFIDENCE: 0.9\nREASONING: 17 has no divisors but 1 and 17.",
    "ANSWER: 17 is prime\nCONFIDENCE: 0.8\nREASONING: trial division up to 4.",
    "**Answer:** No\n**Confidence:** 60%\n**Reasoning:** I was wrong before.",
    '{"answer": "Yes", "confidence": 0.9, "reasoning": "no divisors"}',
    "ANSWER: None of them\nCONFIDENCE: 0.5\nREASONING: none fits.",
    "ANSWER: Yes, it is a prime number\nCONFIDENCE: 0.9\nREASONING: a number question",
    'ANSWER: <a href="https://en.wikipedia.org/wiki/17">Yes</a>\nCONFIDENCE: 0.7',
    "ANSWER: Yes\nCONFIDENCE: 0.9\nREASONING: ok\nANSWER: yes",
]


@pytest.mark.parametrize("reply", VALID)
def test_real_answers_count(reply: str) -> None:
    assert reason(reply) is None


def test_an_answer_in_the_task_words_is_not_an_echo() -> None:
    task = "Should we migrate the billing service to PostgreSQL this quarter?"
    reply = (
        "ANSWER: We should migrate the billing service to PostgreSQL this quarter\nCONFIDENCE: 0.7"
    )
    assert reason(reply, task=task) is None
    assert reason("ANSWER: 17\nCONFIDENCE: 1", task="Which is prime, 15 or 17?") is None


def test_an_answer_cut_at_the_token_limit_counts_only_when_its_line_is_whole() -> None:
    whole = "ANSWER: Yes\nCONFIDENCE: 0.9\nREASONING: 17 is not divisible by 2, 3"
    cut = "ANSWER: Yes, because seventeen is not divisible by any of"
    assert reason(whole, truncated=True) is None
    assert "cut off" in (reason(cut, truncated=True) or "")
    assert reason(cut, truncated=False) is None


def test_critiques_that_are_no_critique() -> None:
    critique = PROMPTS.instructions("critique")
    assert critique_abstention("<your critique>", task=TASK, instructions=critique)
    assert critique_abstention("<<SYS>>", task=TASK, instructions=critique)
    assert critique_abstention("", task=TASK, instructions=critique)
    assert (
        critique_abstention(
            "Agent A ignores that 17 is odd and not divisible by 3.",
            task=TASK,
            instructions=critique,
        )
        is None
    )


# -- verdicts need a quorum of valid answers --------------------------------------------------


def base_model(reply: str) -> Callable[[CompletionRequest], str]:
    """An agent that always says the same useless thing."""
    return lambda request: reply


async def test_one_valid_answer_out_of_three_is_no_decision() -> None:
    # In vote mode two of three replies are useless: the one left must not be reported as
    # consensus with confidence 1.0.
    agents = panel(
        stance("Yes", confidence=1.0),
        base_model(
            "ANSWER: <your answer on one line: a short label, a number, yes/no, or one sentence>"
        ),
        base_model("<<SYS>>\nQuestion 1"),
    )
    result, events = await run(agents, protocol(mode=Mode.VOTE), task=TASK)
    assert result["status"] == "failed"
    assert result["final_answer"] is None
    assert result["consensus_reached"] is False
    assert result["confidence"] == 0.0
    assert result["outcome"] == "no_quorum"
    assert "1 of 3 agent(s) gave a valid answer, 2 needed" in result["error"]
    assert "a2: reply echoes the prompt's template" in result["error"]
    assert "a3: reply holds chat-template markup" in result["error"]
    assert EventType.CONSENSUS_REACHED not in [e.type for e in events]
    codes = [e.data.get("code") for e in events if e.type == EventType.WARNING]
    assert codes.count("invalid_answer") == 2


@pytest.mark.parametrize("mode", [Mode.VOTE, Mode.AUTO, Mode.DEBATE])
async def test_confidence_is_measured_against_the_whole_panel(mode: Mode) -> None:
    agents = panel(
        stance("Yes", confidence=1.0),
        stance("Yes", confidence=1.0),
        base_model("ANSWER: Task: decide"),
    )
    result, _ = await run(agents, protocol(mode=mode, rounds=1), task=TASK)
    assert result["status"] == "completed"
    assert result["final_answer"] == "Yes"
    assert result["consensus_reached"] is True
    assert result["confidence"] == pytest.approx(2 / 3, abs=1e-4)
    assert result["quorum"] == {"valid_answers": 2, "panel": 3, "needed": 2}


async def test_an_explicit_quorum_of_one_still_caps_the_confidence() -> None:
    agents = panel(
        stance("Yes", confidence=1.0), base_model("ANSWER: N/A"), base_model("ANSWER: ?")
    )
    result, _ = await run(agents, protocol(mode=Mode.VOTE, quorum=1), task=TASK)
    assert result["final_answer"] == "Yes"
    assert result["confidence"] <= 1 / 3 + 1e-9


async def test_single_mode_hands_over_when_the_first_agent_gives_no_answer() -> None:
    agents = panel(base_model("ANSWER: <answer>"), stance("Yes", confidence=0.7))
    result, events = await run(agents, protocol(mode=Mode.SINGLE), task=TASK)
    assert result["final_answer"] == "Yes"
    assert result["confidence"] == pytest.approx(0.7)
    replaced = [e for e in events if e.data.get("code") == "agent_replaced"]
    assert "a1 gave no valid answer; a2 answers instead" in replaced[0].data["message"]


async def test_single_mode_with_no_valid_answer_fails_saying_why() -> None:
    agents = panel(base_model("ANSWER: <answer>"), base_model(""))
    result, _ = await run(agents, protocol(mode=Mode.SINGLE), task=TASK)
    assert result["status"] == "failed"
    assert result["final_answer"] is None
    assert "0 of 1 agent(s) gave a valid answer" in result["error"]


async def test_a_tie_is_no_decision_and_says_so() -> None:
    agents = panel(stance("Yes", confidence=0.9), stance("No", confidence=0.2))
    result, _ = await run(agents, protocol(mode=Mode.VOTE), task=TASK)
    assert result["status"] == "completed"
    assert result["final_answer"] is None
    assert result["outcome"] == "tie"
    assert "a tie between 'Yes' and 'No'" in result["outcome_reason"]


# -- the log never contradicts itself ----------------------------------------------------------


async def test_quorum_lost_is_never_followed_by_a_consensus() -> None:
    # After quorum_lost the log must not say consensus {"reached": true, "final_answer":
    # "Yes"} and consensus_reached before a debate_end that failed.
    down = ProviderError("connection refused", kind="network", provider="openai-compatible")
    agents = panel(
        stance("Yes"),
        by_phase(propose=format_answer("Yes", 0.9, "r"), critique=down),
        by_phase(propose=format_answer("Yes", 0.9, "r"), critique=down),
    )
    # Debate mode with a disagreement-free proposal still critiques; two agents then fail.
    result, events = await run(agents, protocol(mode=Mode.DEBATE, rounds=2), task=TASK)
    consensus = next(e for e in events if e.type == EventType.CONSENSUS)
    end = next(e for e in events if e.type == EventType.DEBATE_END)
    assert consensus.data["reached"] is False
    assert consensus.data["final_answer"] is None
    assert consensus.data["outcome"] == "quorum_lost"
    assert EventType.CONSENSUS_REACHED not in [e.type for e in events]
    assert end.data["status"] == "failed"
    assert end.data["result"]["final_answer"] is None
    assert result["error"].startswith("quorum lost")


def check_agrees(events: list[Event]) -> None:
    consensus = [e for e in events if e.type == EventType.CONSENSUS]
    end = [e for e in events if e.type == EventType.DEBATE_END]
    assert len(consensus) == 1
    assert len(end) == 1
    result = end[0].data["result"]
    assert result["final_answer"] == consensus[0].data["final_answer"]
    assert result["consensus_reached"] == consensus[0].data["reached"]
    announced = [e for e in events if e.type == EventType.CONSENSUS_REACHED]
    assert bool(announced) == consensus[0].data["reached"]


# -- what providers report besides the text --------------------------------------------------


async def test_a_truncated_answer_is_marked_and_a_cut_answer_line_abstains() -> None:
    whole = Completion(
        "ANSWER: Yes\nCONFIDENCE: 0.9\nREASONING: 17 is not", Usage(10, 32), truncated=True
    )
    cut = Completion("ANSWER: Yes, because seventeen is not", Usage(10, 32), truncated=True)
    agents = panel(
        ScriptedLLM(by_phase(propose=whole)),
        ScriptedLLM(by_phase(propose=cut)),
        stance("Yes", confidence=0.9),
    )
    result, events = await run(agents, protocol(mode=Mode.VOTE), task=TASK)
    proposals = {e.agent: e.data for e in events if e.type == EventType.PROPOSE}
    assert proposals["a1"]["truncated"] is True
    assert proposals["a1"]["answer"] == "Yes"
    assert proposals["a2"]["answer"] == ""
    assert "cut off" in proposals["a2"]["abstained"]
    assert result["final_answer"] == "Yes"
    codes = {e.data.get("code") for e in events if e.type == EventType.WARNING}
    assert {"truncated_output", "invalid_answer"} <= codes
    check_agrees(events)


async def test_estimated_usage_is_marked_per_call_and_in_the_sum() -> None:
    estimated = Completion(format_answer("Yes", 0.9, "r"), Usage(100, 20, 0.0, estimated=True))
    agents = panel(ScriptedLLM(by_phase(propose=estimated)), stance("Yes"), stance("Yes"))
    _result, events = await run(agents, protocol(mode=Mode.VOTE), task=TASK)
    first = next(e for e in events if e.type == EventType.PROPOSE and e.agent == "a1")
    assert first.data["usage"]["estimated"] is True
    state = fold(events)
    assert state.usage["a1"].estimated is True
    assert state.usage["a2"].estimated is False
    assert state.total_usage().estimated is True
    assert state.total_usage().input_tokens >= 100


# -- timing and availability -------------------------------------------------------------------


class Queued(ScriptedLLM):
    """An agent that waits in its own queue before sending, and times calls itself."""

    def times_calls(self) -> bool:
        return True


async def test_a_self_timed_agent_is_not_timed_out_for_waiting_in_its_queue() -> None:
    # 0.6 s in total (as if queued behind others for a one-slot server) with a 0.4 s agent
    # timeout: the network stack counts from sending, so the engine must not cut it.
    slow = Queued(lambda r: format_answer("Yes", 0.9, "r"), latency=0.6)
    plain = ScriptedLLM(lambda r: format_answer("Yes", 0.9, "r"), latency=0.6)
    agents = {"a1": slow, "a2": Queued(stance("Yes")), "a3": plain}
    result, events = await run(agents, protocol(mode=Mode.VOTE, agent_timeout=0.4), task=TASK)
    errors = {e.agent: e.data["kind"] for e in events if e.type == EventType.AGENT_ERROR}
    assert errors == {"a3": "timeout"}
    assert result["final_answer"] == "Yes"
    assert slow.calls[0].timeout == 0.4


class Flaky(ScriptedLLM):
    """Unavailable (as with an open circuit breaker) until ``until`` on the loop clock."""

    def __init__(self, *args: object, down_for: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._until = asyncio.get_running_loop().time() + down_for

    def unavailable_for(self) -> float | None:
        left = self._until - asyncio.get_running_loop().time()
        return left if left > 0 else None


async def test_a_panel_that_is_entirely_down_is_waited_for_visibly() -> None:
    agents = {name: Flaky(stance("Yes"), down_for=0.3) for name in ("a1", "a2", "a3")}
    log = MemoryEventLog()
    setup = setup_for(agents, protocol(mode=Mode.VOTE), task=TASK)  # type: ignore[arg-type]
    state = await engine_for(log, agent_wait=5.0).start(setup, agents)
    events = log.events(setup.debate_id)
    waits = [e for e in events if e.data.get("code") == "waiting_for_agents"]
    assert len(waits) == 1
    assert "waiting for agents: none of 3 can answer now" in waits[0].data["message"]
    assert state.result is not None
    assert state.result.final_answer == "Yes"
    assert all(len(agent.calls) == 1 for agent in agents.values())
