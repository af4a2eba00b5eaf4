"""An evaluation run's directory: its settings and its per-question results, as JSONL.

``run.json`` holds the run's settings (and, once chosen, ``sc``'s number of samples);
``results.jsonl`` one :class:`Outcome` a line, appended and flushed as each debate ends, so
an interrupted run resumes where it stopped: a run opened on a directory skips every
(question, mode, sample) already there. A directory holding a run with other settings is
refused rather than mixed into.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from aragora.errors import InvalidInputError

__all__ = ["Outcome", "ResultStore"]

RESULTS = "results.jsonl"
SETTINGS = "run.json"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One debate of a run: question ``question`` under ``mode`` (``sample`` numbers the
    samples of ``sc``; 0 otherwise), what it concluded and what it cost."""

    question: str
    mode: str
    sample: int
    debate_id: str
    status: str
    answer: str | None
    extracted: str | None
    correct: bool
    tokens: int
    cost_usd: float
    calls: int
    wall_s: float
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.question, self.mode, self.sample)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Outcome:
        return cls(
            question=str(data["question"]),
            mode=str(data["mode"]),
            sample=int(data["sample"]),
            debate_id=str(data["debate_id"]),
            status=str(data["status"]),
            answer=None if data.get("answer") is None else str(data["answer"]),
            extracted=None if data.get("extracted") is None else str(data["extracted"]),
            correct=bool(data["correct"]),
            tokens=int(data["tokens"]),
            cost_usd=float(data["cost_usd"]),
            calls=int(data["calls"]),
            wall_s=float(data["wall_s"]),
            error=None if data.get("error") is None else str(data["error"]),
        )


class ResultStore:
    """The run directory ``directory`` (created when missing)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._out: TextIO | None = None

    def open(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Start or resume the run with ``settings``; the stored settings (with any values
        chosen since, such as ``sc_samples``). :class:`InvalidInputError` when the directory
        holds a run with other settings."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"cannot create {self.directory}: {exc}") from exc
        path = self.directory / SETTINGS
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
            mismatched = sorted(k for k, v in settings.items() if stored.get(k) != v)
            if mismatched:
                raise InvalidInputError(
                    f"{self.directory} holds a run with other settings ({', '.join(mismatched)});"
                    " pass another --out"
                )
            return dict(stored)
        self._write_settings(dict(settings))
        return dict(settings)

    def remember(self, settings: Mapping[str, Any]) -> None:
        """Store ``settings`` (a value chosen during the run, for the resumption)."""
        self._write_settings(dict(settings))

    def _write_settings(self, settings: dict[str, Any]) -> None:
        path = self.directory / SETTINGS
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)

    def load(self) -> dict[tuple[str, str, int], Outcome]:
        """The outcomes stored so far (a line cut off by an interruption is ignored)."""
        path = self.directory / RESULTS
        found: dict[tuple[str, str, int], Outcome] = {}
        if not path.exists():
            return found
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    outcome = Outcome.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
                found[outcome.key] = outcome
        return found

    def append(self, outcome: Outcome) -> None:
        """Store one outcome (written and flushed before this returns, so a run killed
        after it keeps it)."""
        if self._out is None:
            path = self.directory / RESULTS
            fresh_line = path.exists() and path.stat().st_size > 0 and not _ends_with_newline(path)
            self._out = path.open("a", encoding="utf-8")
            if fresh_line:
                self._out.write("\n")  # after an interrupted write, start a new line
        self._out.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Close the results file (appending again reopens it)."""
        if self._out is not None:
            self._out.close()
            self._out = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as data:
        data.seek(-1, os.SEEK_END)
        return data.read(1) == b"\n"
