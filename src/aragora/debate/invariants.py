"""The invariants of a debate's event log, checked: one state machine, written down once.

A debate *is* its log, so a log that contradicts itself is a debate that says two things.
:func:`check_log` reads a whole log (any prefix of one, too) and returns every broken rule
as a readable line; an empty list means the log is sound. The rules:

- **sequence** — ``seq`` runs 1, 2, 3 … without gaps, every event of one debate, no
  ephemeral ``token`` event stored; the log starts with exactly one ``debate_start``.
- **calls** — each agent call (phase, round, agent) is recorded once; an agent that
  failed makes no later call; rounds start in order.
- **answers** — an answer is either given (non-empty) or an abstention with its reason,
  never both; usage is never negative.
- **votes** — a vote names an option of the vote phase that precedes it, by index and
  text.
- **one verdict** — at most one ``consensus``, one ``consensus_reached`` and one
  ``debate_end``, in that order, nothing after the end; ``consensus_reached`` appears
  exactly when the consensus was reached; a reached consensus has an answer, is not
  preceded by ``quorum_lost`` or ``cancelled``, rests on a quorum of valid answers, and
  its confidence is not more than its valid share of the panel.
- **the end repeats the verdict** — ``debate_end``'s result has the consensus's final
  answer and reached flag; ``completed`` has a consensus; ``failed`` and ``cancelled``
  have no answer; its ``status`` field equals its result's.
- **the document** (when given) says what the final events say: status, answer,
  consensus, confidence, and the usage the calls recorded.

The checker is pure and total: a malformed event is a violation, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aragora.debate.events import Event, EventType, WarningCode

__all__ = ["check_log"]

_NO_VERDICT_STOPS = frozenset({WarningCode.QUORUM_LOST.value, WarningCode.CANCELLED.value})
_EPSILON = 1e-4  # confidences are stored rounded to 4 decimals


def check_log(events: Sequence[Event], document: Mapping[str, Any] | None = None) -> list[str]:
    """Every invariant ``events`` (one debate's log, in order) breaks, as readable lines;
    with ``document``, also where the debate document disagrees with the log."""
    checker = _Checker()
    for event in events:
        try:
            checker.see(event)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            checker.fail(event, f"malformed {event.type} event: {exc!r}")
    if document is not None:
        checker.compare(document)
    return checker.problems


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.debate_id: str | None = None
        self.next_seq = 1
        self.started = False
        self.round = 0
        self.calls: set[tuple[str, int, str]] = set()
        self.failed: set[str] = set()
        self.options: list[str] | None = None
        self.stops: list[str] = []
        self.consensus: Mapping[str, Any] | None = None
        self.announced = 0
        self.end: Event | None = None
        self.tokens = 0

    def fail(self, event: Event | None, text: str) -> None:
        where = f"seq {event.seq} ({event.type})" if event is not None else "log"
        self.problems.append(f"{where}: {text}")

    # -- one event ------------------------------------------------------------------------

    def see(self, event: Event) -> None:
        if event.seq is None:
            self.fail(event, "an ephemeral event was stored")
            return
        if event.seq != self.next_seq:
            self.fail(event, f"seq {event.seq} where {self.next_seq} was due")
        self.next_seq = event.seq + 1
        if self.debate_id is None:
            self.debate_id = event.debate_id
        elif event.debate_id != self.debate_id:
            self.fail(event, f"belongs to debate {event.debate_id}, not {self.debate_id}")
        if self.end is not None:
            self.fail(event, "follows debate_end")
        if event.type == EventType.DEBATE_START:
            if self.started:
                self.fail(event, "a second debate_start")
            self.started = True
            return
        if not self.started and event.seq == 1 and event.type != EventType.ERROR:
            self.fail(event, "the log does not start with debate_start")
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event, event.data)

    def _call(self, event: Event, data: Mapping[str, Any]) -> None:
        agent = str(data["agent"])
        key = (str(data["phase"]), int(data["round_number"]), agent)
        if key in self.calls:
            self.fail(event, f"call {key} recorded twice")
        self.calls.add(key)
        if agent in self.failed and event.type != EventType.AGENT_ERROR:
            self.fail(event, f"{agent} took part after it failed")
        usage = data.get("usage") or {}
        counts = (int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0)))
        if min(counts) < 0 or float(usage.get("cost_usd", 0.0)) < 0:
            self.fail(event, f"negative usage {dict(usage)}")
        self.tokens += sum(counts)

    def _on_round_start(self, event: Event, data: Mapping[str, Any]) -> None:
        number = int(data["round"])
        if number != self.round + 1:
            self.fail(event, f"round {number} starts after round {self.round}")
        self.round = number

    def _on_phase_change(self, event: Event, data: Mapping[str, Any]) -> None:
        if data["phase"] == "vote":
            self.options = [str(o) for o in data["options"]]

    def _on_propose(self, event: Event, data: Mapping[str, Any]) -> None:
        self._call(event, data)
        answer, abstained = data.get("answer") or "", data.get("abstained")
        if answer and abstained:
            self.fail(event, "an answer that is also an abstention")
        if not answer and not abstained:
            self.fail(event, "an empty answer without the reason it abstains")

    _on_revision = _on_propose

    def _on_critique(self, event: Event, data: Mapping[str, Any]) -> None:
        self._call(event, data)

    def _on_vote(self, event: Event, data: Mapping[str, Any]) -> None:
        self._call(event, data)  # a derived vote stands for the agent's call: once, alive
        option = data.get("option")
        if option is None:
            return
        if self.options is None:
            self.fail(event, "a vote before any vote phase")
        elif not 0 <= int(option) < len(self.options):
            self.fail(event, f"vote for option {option} of {len(self.options)}")
        elif data.get("choice") != self.options[int(option)]:
            self.fail(event, f"vote choice {data.get('choice')!r} is not option {option}")

    def _on_agent_error(self, event: Event, data: Mapping[str, Any]) -> None:
        self._call(event, data)
        self.failed.add(str(data["agent"]))

    def _on_warning(self, event: Event, data: Mapping[str, Any]) -> None:
        if data.get("code") in _NO_VERDICT_STOPS:
            self.stops.append(str(data["code"]))

    def _on_consensus(self, event: Event, data: Mapping[str, Any]) -> None:
        if self.consensus is not None:
            self.fail(event, "a second consensus")
        self.consensus = data
        reached, final = bool(data.get("reached")), data.get("final_answer")
        if reached and final is None:
            self.fail(event, "consensus reached without a final answer")
        if reached and self.stops:
            self.fail(event, f"consensus reached after {self.stops[0]}")
        if final is not None and str(final) not in [str(o) for o in data.get("options") or ()]:
            self.fail(event, f"final answer {final!r} is none of the options")
        if "valid_answers" in data:
            valid, quorum, panel = data["valid_answers"], data["quorum"], data["panel"]
            if final is not None and valid < quorum:
                self.fail(event, f"an answer from {valid} valid answers, {quorum} needed")
            if panel and float(data.get("confidence") or 0.0) > valid / panel + _EPSILON:
                self.fail(
                    event,
                    f"confidence {data.get('confidence')} above the valid share {valid}/{panel}",
                )
        if final is None and float(data.get("confidence") or 0.0) != 0.0:
            self.fail(event, "confidence without a final answer")

    def _on_consensus_reached(self, event: Event, data: Mapping[str, Any]) -> None:
        self.announced += 1
        if self.consensus is None or not self.consensus.get("reached"):
            self.fail(event, "consensus_reached without a reached consensus before it")
        elif data.get("final_answer") != self.consensus.get("final_answer"):
            self.fail(event, "consensus_reached names another answer than the consensus")
        if self.announced > 1:
            self.fail(event, "a second consensus_reached")

    def _on_debate_end(self, event: Event, data: Mapping[str, Any]) -> None:
        self.end = event
        result = data["result"]
        status = result.get("status")
        if data.get("status", status) != status:
            self.fail(event, f"status {data.get('status')!r} but result status {status!r}")
        final = result.get("final_answer")
        if status in ("failed", "cancelled") and final is not None:
            self.fail(event, f"a {status} debate with final answer {final!r}")
        consensus = self.consensus
        if consensus is None:
            if status == "completed":
                self.fail(event, "completed without a consensus event")
            return
        if final != consensus.get("final_answer"):
            self.fail(
                event,
                f"final answer {final!r} but consensus said {consensus.get('final_answer')!r}",
            )
        if bool(result.get("consensus_reached")) != bool(consensus.get("reached")):
            self.fail(event, "consensus_reached differs from the consensus event")
        if bool(consensus.get("reached")) and not self.announced:
            self.fail(event, "a reached consensus was never announced")

    # -- the document -----------------------------------------------------------------------

    def compare(self, document: Mapping[str, Any]) -> None:
        if self.end is None:
            if document.get("status") in ("completed", "failed", "cancelled") and self.started:
                self.fail(None, f"document says {document.get('status')} but the log has no end")
            return
        result = self.end.data["result"]
        for field in ("status", "final_answer", "consensus_reached"):
            if document.get(field) != result.get(field):
                self.fail(
                    None, f"document {field} {document.get(field)!r} but log {result.get(field)!r}"
                )
        if (
            abs(float(document.get("confidence") or 0.0) - float(result.get("confidence") or 0.0))
            > _EPSILON
        ):
            self.fail(None, "document confidence differs from the log's")
        cost = document.get("cost") or {}
        if cost and int(cost.get("tokens", -1)) != self.tokens:
            self.fail(None, f"document counts {cost.get('tokens')} tokens, the calls {self.tokens}")
