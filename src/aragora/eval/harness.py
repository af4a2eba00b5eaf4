"""One evaluation from start to report: load the suite, run what is missing through the
service, then write ``report.json``, ``report.md`` and ``accuracy_tokens.png`` beside the
run's ``results.jsonl`` and ``run.json`` (see :mod:`aragora.eval.store`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from aragora.eval.plot import accuracy_plot, encode_png, points_of
from aragora.eval.report import markdown, summarise
from aragora.eval.runner import EvalConfig, Evaluation, Progress, answer_key, mode_results
from aragora.eval.service import open_debates
from aragora.eval.store import ResultStore
from aragora.eval.suites import load_suite
from aragora.settings import Settings

__all__ = ["PLOT", "REPORT_JSON", "REPORT_MD", "default_out", "evaluate"]

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT = "accuracy_tokens.png"


def default_out(config: EvalConfig, base: Path) -> Path:
    """Where a run goes without ``--out``: one directory per suite, seed and settings,
    so the same command again resumes it."""
    digest = hashlib.sha256(json.dumps(config.identity(), sort_keys=True).encode()).hexdigest()
    suite = Path(config.suite).stem if config.suite.endswith(".jsonl") else config.suite
    return base / f"{suite}-seed{config.seed}-{digest[:8]}"


async def evaluate(
    config: EvalConfig,
    settings: Settings,
    out: Path,
    *,
    progress: Progress,
    memory: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the evaluation ``config`` into ``out`` and return its summary."""
    questions = load_suite(config.suite, n=config.n, seed=config.seed)
    store = ResultStore(out)
    # As many debates in flight as the run asks, whatever the server's own settings (the
    # run never has more than --concurrency of its own debates queued).
    settings = settings.model_copy(
        update={
            "max_concurrent_debates": config.concurrency,
            "max_queued_debates": max(settings.max_queued_debates, config.concurrency),
        }
    )
    async with open_debates(
        settings, answer_key=answer_key(questions, config.seed), memory=memory
    ) as debates:
        evaluation = Evaluation(config, questions, debates, store, progress)
        outcomes = await evaluation.run()
    results = {
        mode: mode_results(outcomes, questions, mode, sc_samples=evaluation.sc_samples)
        for mode in config.modes
    }
    summary = summarise(config, results, sc_samples=evaluation.sc_samples)
    (out / REPORT_JSON).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / PLOT).write_bytes(encode_png(accuracy_plot(points_of(summary["modes"]))))
    (out / REPORT_MD).write_text(markdown(summary, plot=PLOT), encoding="utf-8")
    return summary
