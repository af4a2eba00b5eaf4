"""What ``aragora debate`` prints: honest about the outcome, compact, the stream as it
happens (token deltas on a terminal), summaries from the final document."""

from __future__ import annotations

import io
from typing import Any

import pytest

from aragora.cli.live import LiveView
from aragora.cli.main import main
from aragora.cli.summary import has_decision, summary_lines
from aragora.cli.text import Style
from aragora.debate.ports import FakeClock

TASK = "Should a five-person startup run PostgreSQL or SQLite?"
DEBATE = "d-123"
POINTER = f"aragora debates show {DEBATE}"


@pytest.fixture(autouse=True)
def _quick_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("ARAGORA_DEMO_DELAY", "0")
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path))


def debate_output(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code = main(["debate", TASK, *args])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


# --- end to end, with demo agents ----------------------------------------------------------
def test_a_tied_vote_prints_no_verdict_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    out = debate_output(
        capsys, "--agents", "demo:pragmatist,demo:optimist", "--mode", "vote", "--seed", "3"
    )
    assert "Verdict" not in out
    assert "No decision: the vote is tied" in out
    assert "tally: " in out
    assert "most support" not in out  # a tie has no leader


def test_single_mode_shows_one_answer_without_panel_vote_or_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = debate_output(capsys, "--agents", "demo,demo,demo", "--mode", "single", "--seed", "3")
    header = out.split("── Answer ──")[0]
    assert "consensus" not in header
    assert "round" not in header
    assert "answers alone (stand-ins if it fails:" in header
    assert "Vote" not in out
    assert "Verdict" not in out
    assert "Dissent" not in out
    assert "\nAnswer: SQLite\n" in out
    assert "1 call\n" in out


def test_vote_mode_mentions_no_rounds_and_counts_calls_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = debate_output(capsys, "--agents", "demo,demo,demo", "--mode", "vote", "--seed", "3")
    assert "round" not in out.split("\n\n")[0]
    assert "rounds ≤" not in out
    assert "1 calls" not in out
    assert "· 1 call\n" in out
    assert "SQLite: 2 votes" in out


def test_convergence_is_not_reported_as_similarity_zero_yet_converged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = debate_output(capsys, "--agents", "demo,demo,demo", "--mode", "auto", "--seed", "3")
    assert "similarity 0.00" not in out
    assert "convergence: the panel holds one answer → converged" in out
    assert "Verdict: SQLite" in out


def test_judge_rule_without_a_judge_says_who_judges(capsys: pytest.CaptureFixture[str]) -> None:
    out = debate_output(
        capsys, "--agents", "demo,demo,demo", "--mode", "debate", "--consensus", "judge"
    )
    assert "none named, so the first on the panel" in out
    assert "decided by judge" in out


# --- the live view ---------------------------------------------------------------------------
def view(*, live: bool) -> tuple[LiveView, io.StringIO, FakeClock]:
    out = io.StringIO()
    clock = FakeClock()
    return (
        LiveView(
            out, style=Style(False), live=live, pointer=lambda d: POINTER, clock=clock.monotonic
        ),
        out,
        clock,
    )


START: dict[str, Any] = {
    "type": "debate_start",
    "debate_id": DEBATE,
    "seq": 1,
    "data": {
        "mode": "debate",
        "protocol": {"rounds": 2, "consensus": "majority"},
        "agents": [
            {"name": "alpha", "provider": "openai"},
            {"name": "beta", "provider": "demo"},
        ],
    },
}


def token(agent: str, delta: str) -> dict[str, Any]:
    return {
        "type": "token",
        "debate_id": DEBATE,
        "seq": None,
        "agent": agent,
        "round": 1,
        "data": {"delta": delta, "phase": "propose"},
    }


def propose(agent: str, **data: Any) -> dict[str, Any]:
    return {
        "type": "propose",
        "debate_id": DEBATE,
        "seq": 5,
        "agent": agent,
        "round": 1,
        "data": {"answer": "SQLite", "confidence": 0.8, "reasoning": "Simple.", **data},
    }


def test_on_a_terminal_each_agent_has_a_growing_line_replaced_by_its_answer() -> None:
    live, out, clock = view(live=True)
    live.frame(START)
    live.frame(token("alpha", "SQLite. It is "))
    clock.advance(0.3)
    live.frame(token("alpha", "simple"))
    live.frame(token("beta", "Postgre"))  # within 250 ms of the last redraw: not yet drawn
    text = out.getvalue()
    assert "  … alpha answering: SQLite. It is simple\n" in text
    assert "beta answering" not in text
    clock.advance(0.3)
    live.frame(token("beta", "SQL scales"))
    assert "  … beta answering: PostgreSQL scales\n" in out.getvalue()
    before = len(out.getvalue())
    live.frame(propose("alpha"))
    after = out.getvalue()[before:]
    # the two live lines are erased, the answer printed, beta's line drawn again
    assert after.startswith("\x1b[2F\x1b[J")
    assert "  alpha: SQLite (confidence 0.80)\n      Simple.\n" in after
    assert after.endswith("  … beta answering: PostgreSQL scales\n")
    live.close()
    assert out.getvalue().endswith("\x1b[1F\x1b[J")


def test_elsewhere_only_completed_events_are_printed() -> None:
    live, out, clock = view(live=False)
    live.frame(START)
    for _ in range(5):
        clock.advance(1)
        live.frame(token("alpha", "partial words "))
    live.frame(propose("alpha"))
    live.close()
    text = out.getvalue()
    assert "partial words" not in text
    assert "\x1b" not in text
    assert "  alpha: SQLite (confidence 0.80)" in text
    assert "Panel: alpha, beta (demo)" in text
    assert "Debate d-123 · mode debate · up to 2 rounds · consensus majority" in text


def test_long_or_garbled_replies_are_cut_with_a_pointer_and_escapes_removed() -> None:
    live, out, _ = view(live=False)
    live.frame(START)
    live.frame(propose("alpha", answer="word " * 100, reasoning="Because. " * 200))
    live.frame(propose("beta", answer="\x1b[2J\x1b]0;pwned\x07Red\x1b[31m wins\x00"))
    text = out.getvalue()
    assert f"… (499 chars; full text: {POINTER})" in text  # the answer, one line
    assert f"… (1,799 chars; full text: {POINTER})" in text  # the reasoning, 4 lines
    reasoning = [line for line in text.splitlines() if line.startswith("      Because")]
    assert len(reasoning) == 4
    assert "  beta: Red wins (confidence 0.80)" in text
    assert "\x1b" not in text
    assert "\x00" not in text
    assert "pwned" not in text


def test_abstentions_and_warnings_are_shown_where_they_happen() -> None:
    live, out, _ = view(live=False)
    live.frame(START)
    live.frame(propose("alpha", answer="", abstained="the reply was cut off"))
    live.frame(
        {
            "type": "warning",
            "debate_id": DEBATE,
            "seq": 6,
            "data": {"code": "malformed_output", "message": "alpha (propose): cut off"},
        }
    )
    live.frame({"type": "agent_error", "debate_id": DEBATE, "seq": 7, "agent": "beta",
                "data": {"kind": "timeout", "error": "no answer within 120 s"}})  # fmt: skip
    lines = out.getvalue().splitlines()
    assert lines[-3:] == [
        "  alpha abstains: the reply was cut off",
        "  ! alpha (propose): cut off",
        "  ! beta failed (timeout): no answer within 120 s",
    ]


def test_frames_missing_fields_or_of_unknown_types_do_not_break_the_view() -> None:
    live, out, _ = view(live=True)
    for frame in (
        {"type": "debate_start"},
        {"type": "propose"},
        {"type": "critique", "data": None},
        {"type": "vote", "data": {"confidence": "high"}},
        {"type": "convergence", "data": {}},
        {"type": "consensus", "data": {"tally": {"a": 1, "b": "x"}}},
        {"type": "something_new", "data": {"x": 1}},
        {"type": "token", "agent": 3, "data": {}},
        {},
    ):
        live.frame(frame)
    live.close()
    assert "Debate" in out.getvalue()


# --- the summary, from the document -------------------------------------------------------
def summary(document: dict[str, Any]) -> str:
    return "\n".join(summary_lines(document, Style(False), pointer=POINTER))


def test_a_debate_without_a_decision_says_why_and_never_shows_a_verdict() -> None:
    failed = {
        "status": "failed",
        "mode": "vote",
        "consensus_rule": "majority",
        "final_answer": None,
        "consensus_reached": False,
        "error": "too few valid answers: 1 of 3 agents answered, 2 needed",
        "positions": [{"agent": "alpha", "final_position": "SQLite"}],
        "cost": {"tokens": 10, "per_agent": {"alpha": {"tokens": 10, "calls": 1}}},
    }
    text = summary(failed)
    assert "Verdict" not in text
    assert "No decision: the debate failed" in text
    assert "why: too few valid answers: 1 of 3 agents answered, 2 needed" in text
    assert "alpha: SQLite" in text
    assert not has_decision(failed)

    tie = {
        "status": "completed",
        "mode": "vote",
        "consensus_rule": "majority",
        "final_answer": None,
        "consensus_reached": False,
        "tie": True,
        "error": "tie between 2 answers",
        "tally": {"SQLite": 1, "PostgreSQL": 1},
    }
    text = summary(tie)
    assert "Verdict" not in text
    assert "No decision: the vote is tied" in text
    assert "why: tie between 2 answers" in text
    assert "tally: SQLite 1 · PostgreSQL 1" in text

    cancelled = {
        "status": "cancelled",
        "final_answer": "SQLite",
        "consensus_reached": True,
        "stop_reason": "cancelled",
        "warnings": [{"code": "cancelled", "message": "debate cancelled"}],
    }
    text = summary(cancelled)
    assert "Verdict" not in text
    assert "Cancelled: no decision" in text
    assert "why: debate cancelled" in text


def test_a_decision_is_a_verdict_with_its_record() -> None:
    document = {
        "status": "completed",
        "mode": "debate",
        "consensus_rule": "supermajority",
        "final_answer": "SQLite",
        "consensus_reached": True,
        "confidence": 0.71,
        "rounds_used": 2,
        "messages": [{"role": "critique"}],
        "dissent": [{"agent": "beta", "final_position": "PostgreSQL", "reasons": "Growth."}],
        "positions": [
            {"agent": "alpha", "changed_mind": False},
            {"agent": "beta", "changed_mind": True, "changed_in_rounds": [2]},
        ],
        "cost": {
            "tokens": 1234,
            "input_tokens": 1000,
            "output_tokens": 234,
            "usd": 0.0123,
            "estimated": True,
            "per_agent": {
                "alpha": {"tokens": 600, "usd": 0.006, "calls": 1},
                "beta": {"tokens": 634, "usd": 0.0063, "calls": 2, "estimated": True},
            },
        },
        "receipt": {"id": "rcpt_1"},
        "knowledge_items": ["dec-1", "clm-1-1"],
        "duration_seconds": 3.25,
    }
    assert has_decision(document)
    assert summary(document).splitlines() == [
        "",
        "Verdict: SQLite",
        "  consensus reached (supermajority) · confidence 0.71 · 2 rounds of debate",
        "Dissent:",
        "  beta holds: PostgreSQL",
        "    Growth.",
        "Changed their minds: beta (round 2)",
        "Cost: ~1,234 tokens (estimated) (1,000 in, 234 out) · $0.0123 · 3 calls",
        "  estimated: a provider reported no usage, so tokens were counted locally",
        "  alpha: 600 tokens · $0.0060 · 1 call",
        "  beta: ~634 tokens (estimated) · $0.0063 · 2 calls",
        "Recorded: receipt rcpt_1, 2 knowledge items",
        "Time: 3.2 s",
    ]


def test_a_sparse_document_still_renders() -> None:
    assert "No decision" in summary({"status": "completed"})
    assert "Not finished: status running (awaiting resumption" in summary(
        {"status": "running", "awaiting_resumption": True}
    )


def test_log_lines_go_around_the_live_lines() -> None:
    live, out, clock = view(live=True)
    live.frame(START)
    clock.advance(1)
    live.frame(token("alpha", "thinking"))
    err = io.StringIO()
    aside = live.aside(err)
    aside.write("WARNING rate_limit provider=openai\n")
    aside.flush()
    assert err.getvalue() == "WARNING rate_limit provider=openai\n"
    # erased before the log line, drawn again after it
    assert out.getvalue().endswith(
        "  … alpha answering: thinking\n\x1b[1F\x1b[J  … alpha answering: thinking\n"
    )


def test_the_summary_shows_time_queued_in_limits_and_what_past_decisions_cost() -> None:
    document = {
        "status": "completed",
        "final_answer": "4",
        "consensus_reached": True,
        "cost": {"tokens": 10, "input_tokens": 8, "output_tokens": 2, "usd": 0.0},
        "queued_ms": 1250.0,
        "references": [{"id": "dec-1", "tokens": 40}],
        "knowledge_tokens": 40,
    }
    lines = summary(document).splitlines()
    assert "  waited 1.25 s in all in provider limits before calls were sent" in "\n".join(lines)
    assert "  past decisions in the context: 1 item, 40 tokens in every prompt" in lines
    quiet = summary({**document, "queued_ms": 0.4, "references": [], "knowledge_tokens": 0})
    assert "provider limits" not in quiet
    assert "past decisions" not in quiet
