"""A debate's stream as it happens in the terminal, from the frames the WebSocket sends.

Completed events (answers, critiques, votes, warnings) become lines as they arrive. On a
terminal, the answers still being written appear below them, one live line per agent that
grows with its token deltas and is replaced by the completed answer; elsewhere (a pipe, a
file, CI logs) only completed events are printed, so the output reads the same every time.
The closing summary is not rendered here but from the final document
(:mod:`aragora.cli.summary`), so it can never disagree with the document.
"""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO, cast

from aragora.cli.text import Style, clean, count, one_line, shorten, wrapped

__all__ = ["LiveView", "agent_label"]

WIDTH = 96
ANSWER_CHARS = 160  # an answer is a short claim; longer ones are cut with a pointer
REASONING_LINES = 4
CRITIQUE_LINES = 3
REDRAW_SECONDS = 0.25  # live lines are redrawn at most this often (the deltas' own pace)

_HEADINGS = {
    "propose": "Independent answers",
    "critique": "Round {round}: critiques",
    "revise": "Round {round}: revisions",
    "vote": "Vote",
    "judge": "Judge",
}
_WRITING = {
    "propose": "answering",
    "critique": "critiquing",
    "revise": "revising",
    "vote": "voting",
    "judge": "judging",
}


def agent_label(name: str, provider: str | None) -> str:
    """An agent's name, marked when it is not a real model."""
    if provider == "demo":
        return f"{name} (demo)"
    if provider == "sim":
        return f"{name} (simulated)"
    return name


class LiveView:
    """Renders one debate's frames (wire form: ``type``, ``seq``, ``agent``, ``data``...).

    ``live`` turns on the growing answer lines (a terminal); ``pointer(debate_id)`` says
    where the full text of a shortened reply can be read."""

    def __init__(
        self,
        out: TextIO,
        *,
        style: Style,
        live: bool,
        pointer: Callable[[str], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._style = style
        self._live = live
        self._pointer = pointer
        self._clock = clock
        self._debate_id = ""
        self._mode = ""
        self._providers: dict[str, str] = {}
        self._streams: dict[str, tuple[str, str]] = {}  # agent -> (phase, text so far)
        self._drawn = 0
        self._last_draw = 0.0
        self._heading: tuple[str, int | None] | None = None
        self._voted = False

    # --- output ---------------------------------------------------------------------------
    def intro(self, task: str) -> None:
        """The first line, printed as soon as the request is understood."""
        self._print([self._style.bold(f"Aragora: {shorten(one_line(task), 200, 'the request')}")])

    def line(self, text: str) -> None:
        """A line of the command's own (e.g. a note about the connection)."""
        self._print([text])

    def aside(self, stream: TextIO) -> TextIO:
        """``stream`` (another stream on the same terminal, e.g. stderr for log lines)
        written around the live lines: they are erased first and drawn again after."""
        # A logging handler only writes and flushes, which is all _Aside does.
        return cast(TextIO, _Aside(self, stream))

    def write_aside(self, stream: TextIO, text: str) -> None:
        """Write ``text`` to ``stream`` without breaking the live lines."""
        self._erase()
        self._out.flush()
        stream.write(text)
        stream.flush()
        self._draw()
        self._out.flush()

    def close(self) -> None:
        """Remove the live lines (the debate ended or the command stops)."""
        self._streams.clear()
        self._erase()
        self._out.flush()

    def frame(self, frame: Mapping[str, Any]) -> None:
        """Render one frame; unknown types are ignored, missing fields tolerated."""
        kind = str(frame.get("type") or "")
        data = frame.get("data")
        data = data if isinstance(data, Mapping) else {}
        if kind == "token":
            self._token(frame, data)
            return
        agent = frame.get("agent")
        if isinstance(agent, str):
            self._streams.pop(agent, None)  # its call finished: the result replaces the line
        handler = getattr(self, f"_on_{kind}", None)
        lines: list[str] = handler(frame, data) if handler is not None else []
        if kind == "debate_end":
            self._streams.clear()
        self._print(lines)

    def _print(self, lines: Sequence[str]) -> None:
        self._erase()
        for text in lines:
            self._out.write(text + "\n")
        self._draw()
        self._out.flush()

    # --- live lines (terminal only) -------------------------------------------------------
    def _token(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        agent = frame.get("agent")
        if not self._live or not isinstance(agent, str):
            return
        phase = str(data.get("phase") or "")
        before = self._streams.get(agent)
        text = before[1] if before is not None and before[0] == phase else ""
        # Only the tail is ever shown; keep a bounded amount of it.
        self._streams[agent] = (phase, (text + clean(data.get("delta")))[-2000:])
        if self._clock() - self._last_draw >= REDRAW_SECONDS:
            self._erase()
            self._draw()
            self._out.flush()

    def _erase(self) -> None:
        if self._drawn:
            # to the start of the first live line, then clear to the end of the screen
            self._out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if not self._live or not self._streams:
            return
        columns = max(40, shutil.get_terminal_size((WIDTH, 24)).columns) - 1
        for agent, (phase, text) in self._streams.items():
            head = f"  … {self._name(agent)} {_WRITING.get(phase, 'writing')}: "
            room = max(10, columns - len(head))
            tail = one_line(text)
            if len(tail) > room:
                tail = "…" + tail[-(room - 1) :]
            self._out.write(self._style.dim(head + tail) + "\n")
            self._drawn += 1
        self._last_draw = self._clock()

    # --- events ---------------------------------------------------------------------------
    def _name(self, agent: object) -> str:
        return one_line(agent) or "?"  # the panel line says which agents are not models

    def _agent(self, agent: object) -> str:
        return self._style.agent(self._name(agent))

    def _full_text(self) -> str:
        return self._pointer(self._debate_id)

    def _section(self, phase: str, round_: int | None) -> list[str]:
        if self._heading == (phase, round_):
            return []
        self._heading = (phase, round_)
        title = _HEADINGS.get(phase, phase).format(round=round_)
        if self._mode == "single" and phase == "propose":
            title = "Answer"
        return ["", self._style.bold(f"── {title} ──")]

    def _on_debate_start(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        self._debate_id = str(frame.get("debate_id") or "")
        self._mode = str(data.get("mode") or "")
        protocol = data.get("protocol")
        protocol = protocol if isinstance(protocol, Mapping) else {}
        agents = [a for a in data.get("agents") or () if isinstance(a, Mapping)]
        for entry in agents:
            self._providers[str(entry.get("name"))] = str(entry.get("provider"))
        names = [str(a.get("name")) for a in agents]
        lines = [f"Debate {self._debate_id} · {_protocol_text(self._mode, protocol, names)}"]
        labels = [agent_label(name, self._providers.get(name)) for name in names]
        panel = ", ".join(self._style.agent(label) for label in labels)
        if self._mode == "single" and names:
            panel = f"{self._style.agent(labels[0])} answers alone"
            if len(labels) > 1:
                panel += f" (stand-ins if it fails: {', '.join(labels[1:])})"
        lines.append(f"Panel: {panel}")
        if any(a.get("provider") == "demo" for a in agents):
            lines.append(self._style.warn("Demo agents are offline simulations, not real models."))
        references = [r for r in data.get("references") or () if isinstance(r, Mapping)]
        if references:
            ids = ", ".join(one_line(r.get("id")) for r in references)
            lines.append(f"Background: {count(len(references), 'past decision')} ({ids})")
        return lines

    def _on_phase_change(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        phase = str(data.get("phase") or "")
        round_ = data.get("round")
        round_ = round_ if isinstance(round_, int) else None
        if phase == "vote":
            return self._vote_start(data)
        if self._mode == "single" and phase != "propose":
            return []
        return self._section(phase, round_)

    def _vote_start(self, data: Mapping[str, Any]) -> list[str]:
        if self._mode == "single":
            return []  # one answer: nothing to vote on
        options = [one_line(o) for o in data.get("options") or ()]
        members = data.get("members")
        members = members if isinstance(members, Mapping) else {}
        lines = self._section("vote", None)
        if len(options) == 1:
            held = count(len(members), "agent")
            return [*lines, f"  {held} hold the same answer: {shorten(options[0], 120, '…')}"]
        if self._mode == "vote":
            # Votes in this mode are each agent's own answer: show the split, not n lines.
            support: dict[int, list[str]] = {}
            for agent, index in members.items():
                if isinstance(index, int):
                    support.setdefault(index, []).append(self._name(agent))
            for index, option in enumerate(options):
                holders = support.get(index, [])
                lines.append(
                    f"  {shorten(option, 80, self._full_text())}: "
                    f"{count(len(holders), 'vote')} ({', '.join(holders)})"
                )
            return lines
        return [*lines, f"  {count(len(options), 'distinct answer')} to choose from"]

    def _on_propose(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        return [*self._section("propose", 1), *self._answer(frame, data, "")]

    def _on_revision(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        round_ = frame.get("round")
        verb = "changes to" if data.get("changed") else "keeps"
        return [
            *self._section("revise", round_ if isinstance(round_, int) else None),
            *self._answer(frame, data, verb),
        ]

    def _answer(self, frame: Mapping[str, Any], data: Mapping[str, Any], verb: str) -> list[str]:
        who = self._agent(frame.get("agent"))
        answer = one_line(data.get("answer"))
        if not answer:
            reason = one_line(data.get("abstained")) or "no usable answer"
            return [self._style.warn(f"  {self._name(frame.get('agent'))} abstains: {reason}")]
        shown = shorten(answer, ANSWER_CHARS, self._full_text())
        confidence = _number(data.get("confidence"))
        tail = f" (confidence {confidence:.2f})" if confidence is not None else ""
        lead = f"  {who} {verb}: " if verb else f"  {who}: "
        lines = [f"{lead}{self._style.bold(shown)}{tail}"]
        reasoning = data.get("reasoning")
        if isinstance(reasoning, str) and reasoning.strip():
            lines.extend(
                wrapped(
                    reasoning,
                    WIDTH,
                    "      ",
                    max_lines=REASONING_LINES,
                    pointer=self._full_text(),
                )
            )
        return lines

    def _on_critique(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        round_ = frame.get("round")
        score = _number(data.get("score"))
        scored = f" (score {score:.2f})" if score is not None else ""
        targets = [self._name(t) for t in data.get("targets") or ()]
        about = f" {', '.join(targets)}" if targets else ""
        return [
            *self._section("critique", round_ if isinstance(round_, int) else None),
            f"  {self._agent(frame.get('agent'))} critiques{about}{scored}:",
            *wrapped(
                str(data.get("content") or ""),
                WIDTH,
                "      ",
                max_lines=CRITIQUE_LINES,
                pointer=self._full_text(),
            ),
        ]

    def _on_convergence(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        distinct = data.get("distinct_answers")
        status = one_line(data.get("status")) or "?"
        if distinct == 1:
            return [f"  convergence: the panel holds one answer → {status}"]
        similarity = _number(data.get("similarity"))
        moved = (
            f"least-settled agent's answer {similarity:.0%} like its last"
            if similarity is not None
            else "answers compared with the last round"
        )
        spread = f"{count(distinct, 'distinct answer')}; " if isinstance(distinct, int) else ""
        return [f"  convergence: {spread}{moved} → {status}"]

    def _on_vote(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        if data.get("derived") or self._mode == "single":
            return []  # its own answer counted as its vote: the split is shown already
        self._voted = True
        judging = data.get("phase") == "judge"
        lines = self._section("judge", None) if judging else []
        choice = one_line(data.get("choice"))
        shown = (
            self._style.bold(shorten(choice, ANSWER_CHARS, self._full_text()))
            if choice
            else "(no valid option)"
        )
        confidence = _number(data.get("confidence"))
        tail = f" (confidence {confidence:.2f})" if confidence is not None else ""
        verb = "judges" if judging else "votes"
        return [*lines, f"  {self._agent(frame.get('agent'))} {verb}: {shown}{tail}"]

    def _on_consensus(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        if not self._voted:
            return []  # no ballots cast: the split of the answers is shown already
        tally = data.get("tally")
        if not isinstance(tally, Mapping) or len(tally) < 2:
            return []
        parts = [
            f"{shorten(one_line(option), 40, '…')} {_score(score)}"
            for option, score in sorted(tally.items(), key=lambda item: -_sortable(item[1]))
        ]
        rule = one_line(data.get("rule"))
        if rule == "judge":
            return [f"  the panel's votes: {' · '.join(parts)} (the judge decides)"]
        return [f"  tally ({rule}): " + " · ".join(parts)]

    def _on_agent_error(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        kind = one_line(data.get("kind")) or "error"
        error = shorten(one_line(data.get("error")), 300, self._full_text())
        return [self._style.bad(f"  ! {self._name(frame.get('agent'))} failed ({kind}): {error}")]

    def _on_agent_fallback(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        source = f"{one_line(data.get('from_provider'))}:{one_line(data.get('from_model'))}"
        target = f"{one_line(data.get('to_provider'))}:{one_line(data.get('to_model'))}"
        reason = one_line(data.get("reason"))
        return [
            self._style.warn(
                f"  ! {self._name(frame.get('agent'))}: {source} {reason}; falling back to {target}"
            )
        ]

    def _on_warning(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        message = one_line(data.get("message")) or one_line(data.get("code")) or "warning"
        return [self._style.warn(f"  ! {shorten(message, 300, self._full_text())}")]

    def _on_error(self, frame: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
        message = one_line(data.get("error")) or one_line(data.get("message")) or "error"
        return [self._style.bad(f"  ! {shorten(message, 300, self._full_text())}")]


class _Aside(io.TextIOBase):
    """A text stream whose writes go through :meth:`LiveView.write_aside`."""

    def __init__(self, view: LiveView, stream: TextIO) -> None:
        super().__init__()
        self._view = view
        self._stream = stream

    def write(self, text: str) -> int:
        self._view.write_aside(self._stream, text)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


def _protocol_text(mode: str, protocol: Mapping[str, Any], names: Sequence[str]) -> str:
    """What the debate will do, in the words of its mode: rounds only where there are
    rounds, a consensus rule only where there is a vote, the judge when one decides."""
    rounds = protocol.get("rounds")
    rule = one_line(protocol.get("consensus"))
    parts = [f"mode {mode}"]
    if mode == "auto" and isinstance(rounds, int):
        parts.append(f"a debate of up to {count(rounds, 'round')} only if the answers differ")
    elif mode == "debate" and isinstance(rounds, int):
        parts.append(f"up to {count(rounds, 'round')}")
    if mode != "single" and rule:
        consensus = f"consensus {rule}"
        if rule == "judge":
            judge = protocol.get("judge")
            if judge:
                consensus += f" (judge {one_line(judge)})"
            elif names:
                consensus += f" (judge {one_line(names[0])}: none named, so the first on the panel)"
        parts.append(consensus)
    return " · ".join(parts)


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _sortable(value: object) -> float:
    number = _number(value)
    return number if number is not None else 0.0


def _score(value: object) -> str:
    number = _number(value)
    return f"{number:g}" if number is not None else one_line(value)
