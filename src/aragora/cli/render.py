"""Live terminal rendering of a debate's events."""

from __future__ import annotations

import textwrap
from typing import Any, TextIO

from aragora.debate.events import Event

__all__ = ["ProgressPrinter", "print_summary"]

_WIDTH = 96


class ProgressPrinter:
    """Prints each event of a debate as it is appended, as readable lines."""

    def __init__(self, out: TextIO, *, color: bool = False) -> None:
        self._out = out
        self._color = color

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event, event.data)
            self._out.flush()

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._color else text

    def _line(self, text: str = "") -> None:
        print(text, file=self._out)

    def _wrapped(self, text: str, indent: str = "      ") -> None:
        for paragraph in text.strip().splitlines():
            if paragraph.strip():
                self._line(
                    textwrap.fill(
                        paragraph.strip(), _WIDTH, initial_indent=indent, subsequent_indent=indent
                    )
                )

    def _agent(self, name: str | None) -> str:
        label = name or "?"
        if label.startswith("demo"):
            label += " (demo)"
        return self._style(label, "1;36")

    def _on_debate_start(self, event: Event, data: Any) -> None:
        agents = ", ".join(self._agent(a["name"]) for a in data["agents"])
        protocol = data["protocol"]
        self._line(self._style(f"Aragora debate {event.debate_id}", "1"))
        self._line(f"Task: {data['task']}")
        self._line(
            f"Mode: {data['mode']} · rounds ≤ {protocol['rounds']} · "
            f"consensus: {protocol['consensus']} · agents: {agents}"
        )
        if any(a["provider"] == "demo" for a in data["agents"]):
            self._line(self._style("Demo agents are offline simulations, not real models.", "33"))

    def _on_round_start(self, event: Event, data: Any) -> None:
        self._line()
        self._line(self._style(f"── Round {data['round']} ──", "1"))

    def _on_phase_change(self, event: Event, data: Any) -> None:
        phase = data["phase"]
        if phase == "vote":
            self._line()
            self._line(self._style(f"── Vote ({len(data['options'])} distinct answers) ──", "1"))
        elif phase == "judge":
            self._line(self._style("── Judge ──", "1"))
        else:
            self._line(self._style(f"  {phase}", "2"))

    def _on_propose(self, event: Event, data: Any) -> None:
        self._answer(event, data, "proposes")

    def _on_revision(self, event: Event, data: Any) -> None:
        verb = "changes to" if data.get("changed") else "keeps"
        self._answer(event, data, verb)

    def _answer(self, event: Event, data: Any, verb: str) -> None:
        answer = data.get("answer") or "(no usable answer)"
        self._line(
            f"    {self._agent(event.agent)} {verb}: {self._style(answer, '1')} "
            f"(confidence {float(data.get('confidence', 0)):.2f})"
        )
        if data.get("reasoning"):
            self._wrapped(data["reasoning"])

    def _on_critique(self, event: Event, data: Any) -> None:
        self._line(
            f"    {self._agent(event.agent)} critiques (score {float(data.get('score', 0)):.2f}):"
        )
        self._wrapped(data.get("content") or "")

    def _on_convergence(self, event: Event, data: Any) -> None:
        self._line(
            f"  convergence: similarity {data['similarity']:.2f}, "
            f"{data['distinct_answers']} distinct answer(s) → {data['status']}"
        )

    def _on_vote(self, event: Event, data: Any) -> None:
        role = "judges" if data.get("phase") == "judge" else "votes"
        choice = data.get("choice") or "(no valid option)"
        self._line(
            f"    {self._agent(event.agent)} {role}: {self._style(choice, '1')} "
            f"(confidence {float(data.get('confidence', 0)):.2f})"
        )

    def _on_agent_error(self, event: Event, data: Any) -> None:
        self._line(
            self._style(f"    ! {event.agent} failed ({data['kind']}): {data['error']}", "31")
        )

    def _on_agent_fallback(self, event: Event, data: Any) -> None:
        self._line(
            self._style(
                f"    ! {event.agent}: {data['from_provider']}:{data['from_model']} "
                f"{data['reason']}; falling back to {data['to_provider']}:{data['to_model']}",
                "33",
            )
        )

    def _on_warning(self, event: Event, data: Any) -> None:
        self._line(self._style(f"    ! {data.get('message', data.get('code'))}", "33"))


def print_summary(document: dict[str, Any], out: TextIO, *, color: bool = False) -> None:
    """The verdict, confidence, dissent and cost of a finished debate."""

    def style(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    print(file=out)
    status = document["status"]
    if document.get("final_answer") is not None:
        reached = "consensus reached" if document["consensus_reached"] else "no consensus"
        if document.get("tie"):
            reached += " (tie)"
        print(style(f"Verdict: {document['final_answer']}", "1;32"), file=out)
        print(
            f"  {reached} · rule {document['consensus_rule']} · "
            f"confidence {document['confidence']:.2f} · "
            f"rounds used {document['rounds_used']} · status {status}",
            file=out,
        )
        if document.get("judge"):
            print(f"  decided by judge {document['judge']}", file=out)
    else:
        print(style(f"No verdict · status {status}", "1;31"), file=out)
    if document.get("partial"):
        print(style(f"  partial result: stopped by {document['stop_reason']}", "33"), file=out)
    if document.get("error"):
        print(style(f"  error: {document['error']}", "31"), file=out)
    dissent = document.get("dissent") or []
    if dissent:
        print("Dissent:", file=out)
        for entry in dissent:
            print(f"  {entry['agent']} holds: {entry['final_position']}", file=out)
            if entry.get("reasons"):
                print(
                    textwrap.fill(
                        entry["reasons"], _WIDTH, initial_indent="    ", subsequent_indent="    "
                    ),
                    file=out,
                )
    else:
        print("Dissent: none", file=out)
    changed = [p["agent"] for p in document.get("positions", []) if p.get("changed_mind")]
    if changed:
        print(f"Changed their minds: {', '.join(changed)}", file=out)
    cost = document["cost"]
    print(
        f"Cost: {cost['tokens']:,} tokens ({cost['input_tokens']:,} in, "
        f"{cost['output_tokens']:,} out) · ${cost['usd']:.4f}",
        file=out,
    )
    for agent, entry in sorted(cost["per_agent"].items()):
        print(
            f"  {agent}: {entry['tokens']:,} tokens · ${entry['usd']:.4f} · {entry['calls']} calls",
            file=out,
        )
    if document.get("duration_seconds") is not None:
        print(f"Time: {document['duration_seconds']:.1f} s", file=out)
