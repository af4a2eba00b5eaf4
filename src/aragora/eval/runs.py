"""Past evaluation runs, read back from their directories (the server's ``/evals`` routes).

Every directory under the runs' base (``ARAGORA_DATA_DIR/evals``, where ``aragora eval``
writes by default) is a run (see :mod:`.store`). A run is summarised from its stored
results by the code that writes its ``report.json`` (:func:`.runner.mode_results`, then
:func:`.report.summarise`), so a finished run reads exactly as ``aragora eval --json``
printed it, and an unfinished one as far as it got:

- ``complete`` — every mode scored every question of the suite;
- ``partial`` — some debates are missing (interrupted, or still running);
- ``unreadable`` — the directory is not a run this code can read (no or malformed
  ``run.json``, a results file that cannot be read, a suite file that is gone); ``reason``
  says which, so one broken directory never hides the others.

The suite is loaded again (as the run did) for the questions' list and right answers:
``sc``'s majority is scored against them. A suite given as a file path is read from where
the server runs; when it cannot be read there, the run is ``unreadable`` and says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aragora.errors import ConfigurationError, InvalidInputError, NotFoundError
from aragora.eval.report import summarise
from aragora.eval.runner import EvalConfig, mode_results
from aragora.eval.store import RESULTS, SETTINGS, ResultStore
from aragora.eval.suites import load_suite

__all__ = ["MAX_NAME_LENGTH", "RunStatus", "RunView", "check_name", "list_runs", "read_run"]

MAX_NAME_LENGTH = 200
"""The longest run name the routes take (a directory name; most file systems allow 255)."""

RunStatus = Literal["complete", "partial", "unreadable"]


@dataclass(frozen=True, slots=True)
class RunView:
    """One run directory as read now: its settings (``None`` when ``run.json`` cannot be
    read), the questions its suite holds, and the summary of its stored results (``None``
    when ``unreadable``; ``reason`` says why)."""

    name: str
    status: RunStatus
    updated_at: datetime
    settings: dict[str, Any] | None = None
    questions: int | None = None
    summary: dict[str, Any] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The run as the routes answer it."""
        return {
            "name": self.name,
            "status": self.status,
            "updated_at": self.updated_at.isoformat(),
            "settings": self.settings,
            "questions": self.questions,
            "simulated": _simulated(self.settings),
            "summary": self.summary,
            "reason": self.reason,
        }


def check_name(name: str) -> None:
    """:class:`InvalidInputError` unless ``name`` can only mean one directory directly under
    the base: no separators, no ``.`` or ``..``, no hidden names, no control characters, at
    most :data:`MAX_NAME_LENGTH` characters."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"a run name has 1 to {MAX_NAME_LENGTH} characters")
    if "/" in name or "\\" in name:
        raise InvalidInputError("a run name must not contain '/' or '\\'")
    if name.startswith("."):
        raise InvalidInputError("a run name must not start with '.'")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInputError("a run name must not contain control characters (NUL included)")


def list_runs(base: Path, *, limit: int, offset: int) -> tuple[list[RunView], int]:
    """The runs under ``base``, most recently written first: one page of them (``limit``
    from ``offset``) and how many there are. No ``base`` yet is no runs;
    :class:`ConfigurationError` when ``base`` cannot be listed (its permissions)."""
    try:
        entries = [e for e in base.iterdir() if not e.name.startswith(".") and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return [], 0
    except OSError as exc:  # the operator's data directory, not the caller's request
        raise ConfigurationError(f"cannot list the evaluation runs in {base}: {exc}") from exc
    dated = sorted(((_updated(e), e.name) for e in entries), reverse=True)
    page = dated[offset : offset + limit]
    return [_read(base / name, updated) for updated, name in page], len(dated)


def read_run(base: Path, name: str) -> RunView:
    """The run ``name`` under ``base``: :class:`InvalidInputError` for a name that is not a
    plain directory name, :class:`NotFoundError` when there is no such run."""
    check_name(name)
    directory = base / name
    if not directory.is_dir():
        raise NotFoundError(f"no evaluation run named {name!r}")
    return _read(directory, _updated(directory))


class _Unreadable(Exception):
    """Why a run directory cannot be summarised (the run's ``reason``)."""


def _read(directory: Path, updated: datetime) -> RunView:
    try:
        check_name(directory.name)
    except InvalidInputError as exc:
        return RunView(directory.name, "unreadable", updated, reason=str(exc))
    stamps = (_stamp(directory / SETTINGS), _stamp(directory / RESULTS))
    return replace(_summarised(directory, stamps), updated_at=updated)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


# A run's statistics take a fifth of a second (the bootstraps of ten mode pairs), and a
# list reads many runs each time the page is opened: runs are summarised again only when
# their settings or results change (a suite file changed under a run is not noticed).
@lru_cache(maxsize=256)
def _summarised(directory: Path, stamps: tuple[object, ...]) -> RunView:
    """The run in ``directory`` as its files are now (``stamps`` keys the cache); its
    ``updated_at`` is left for the caller to set."""
    name, updated = directory.name, datetime.fromtimestamp(0, UTC)
    settings: dict[str, Any] | None = None
    try:
        stored = _settings(directory)
        config = _config(stored)
        sc_samples = stored.get("sc_samples")
        # Only the settings this code knows, checked, never the file's other contents.
        settings = {**config.identity(), "sc_samples": sc_samples}
        try:
            questions = load_suite(config.suite, n=config.n, seed=config.seed)
        except InvalidInputError as exc:
            raise _Unreadable(f"its suite cannot be loaded here: {exc}") from exc
        try:
            outcomes = ResultStore(directory).load()
        except (OSError, UnicodeDecodeError) as exc:
            raise _Unreadable(f"{RESULTS} cannot be read: {exc}") from exc
    except _Unreadable as exc:
        return RunView(name, "unreadable", updated, settings=settings, reason=str(exc))
    results = {
        mode: mode_results(outcomes, questions, mode, sc_samples=sc_samples)
        for mode in config.modes
    }
    summary = summarise(config, results, sc_samples=sc_samples)
    complete = all(len(results[mode]) == len(questions) for mode in config.modes)
    return RunView(
        name,
        "complete" if complete else "partial",
        updated,
        settings=settings,
        questions=len(questions),
        summary=summary,
    )


def _settings(directory: Path) -> dict[str, Any]:
    path = directory / SETTINGS
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Unreadable(f"no {SETTINGS}: not an evaluation run") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise _Unreadable(f"{SETTINGS} cannot be read: {exc}") from exc
    if not isinstance(stored, dict):
        raise _Unreadable(f"{SETTINGS} is not a JSON object")
    return stored


def _config(stored: Mapping[str, Any]) -> EvalConfig:
    """The run's settings as :class:`EvalConfig`, each value checked for its type."""

    def problem(key: str, expected: str) -> _Unreadable:
        return _Unreadable(f"{SETTINGS}: {key!r} must be {expected}")

    def texts(key: str) -> tuple[str, ...]:
        value = stored.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise problem(key, "a list of strings")
        return tuple(value)

    def whole(key: str) -> int | None:
        value = stored.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise problem(key, "a whole number or null")
        return value

    suite, seed, match = stored.get("suite"), stored.get("seed"), stored.get("match")
    if not isinstance(suite, str) or not suite:
        raise problem("suite", "a suite name or file")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise problem("seed", "a whole number")
    if match is not None and not isinstance(match, str):
        raise problem("match", "a mode or null")
    whole("sc_samples")
    try:
        return EvalConfig(
            suite=suite,
            agents=texts("agents"),
            modes=texts("modes"),
            n=whole("n"),
            seed=seed,
            rounds=whole("rounds"),
            budget_tokens=whole("budget_tokens"),
            match=match,
            samples=whole("samples"),
        )
    except InvalidInputError as exc:
        raise _Unreadable(f"{SETTINGS}: {exc}") from exc


def _updated(directory: Path) -> datetime:
    """When the run last wrote: the newest modification time of the directory and the
    files in it."""
    times: list[float] = []
    for path in (directory, *_children(directory)):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(max(times, default=0.0), UTC)


def _children(directory: Path) -> Sequence[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_file()]
    except OSError:
        return []


def _simulated(settings: Mapping[str, Any] | None) -> bool:
    """Whether any of the run's agents is simulated (``sim:...``)."""
    agents = (settings or {}).get("agents")
    return isinstance(agents, list) and any(
        isinstance(a, str) and a.strip().startswith("sim:") for a in agents
    )
