"""The progress bar on stderr while an evaluation runs (never on stdout, which ``--json``
keeps for the report)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from aragora.eval.store import Outcome

__all__ = ["Bar", "Silent"]


class Bar:
    """A one-line bar redrawn in place on a terminal; on a pipe or file, a line at every
    tenth of the work, so logs stay short."""

    def __init__(self, stream: TextIO | None = None, *, width: int = 30) -> None:
        self._stream = stream or sys.stderr
        self._tty = self._stream.isatty()
        self._width = width
        self._total = 0
        self._done = 0
        self._right = 0
        self._label = ""
        self._started = time.monotonic()
        self._last_tenth = -1

    def add(self, total: int, label: str) -> None:
        """Start a stage of ``total`` debates."""
        self.finish()
        self._total, self._done, self._right, self._label = total, 0, 0, label
        self._started = time.monotonic()
        self._last_tenth = -1
        self._draw()

    def advance(self, outcome: Outcome) -> None:
        """One debate ended."""
        self._done += 1
        self._right += outcome.correct
        self._draw()

    def finish(self) -> None:
        """End the current line (if any)."""
        if self._tty and self._total:
            self._stream.write("\n")
            self._stream.flush()
        self._total = 0

    def _draw(self) -> None:
        if not self._total:
            return
        fraction = self._done / self._total
        elapsed = time.monotonic() - self._started
        eta = elapsed / self._done * (self._total - self._done) if self._done else 0.0
        filled = round(self._width * fraction)
        text = (
            f"{self._label}: [{'#' * filled}{'.' * (self._width - filled)}] "
            f"{self._done}/{self._total}, {self._right} right, {elapsed:.0f}s elapsed"
            + (f", ~{eta:.0f}s left" if self._done < self._total else "")
        )
        if self._tty:
            self._stream.write("\r\x1b[2K" + text)
            self._stream.flush()
            return
        tenth = int(fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self._stream.write(text + "\n")
            self._stream.flush()


class Silent:
    """No progress output."""

    def add(self, total: int, label: str) -> None:
        return None

    def advance(self, outcome: Outcome) -> None:
        return None
