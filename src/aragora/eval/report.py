"""An evaluation's report: the summary document (``--json``) and its Markdown rendering.

Per mode: accuracy over the questions whose debates are all done (``n_scored``; a debate
that failed or reached no decision counts as wrong), its 95 % percentile-bootstrap
interval, and the means per question of tokens, cost, agent calls and wall time. Per pair
of modes (in ``--modes`` order): McNemar's exact test on the questions both scored, with
the paired-bootstrap interval of the accuracy difference.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from aragora.eval.runner import EvalConfig, ModeResult
from aragora.eval.stats import bootstrap_ci, compare

__all__ = ["markdown", "summarise"]


def summarise(
    config: EvalConfig,
    results: Mapping[str, Mapping[str, ModeResult]],
    *,
    sc_samples: int | None,
) -> dict[str, Any]:
    """The summary document: ``{"suite", "n", "seed", "agents", "modes": {mode: {...}},
    "comparisons": [...]}`` (plus ``sc_samples``, ``rounds``, ``questions``)."""
    modes: dict[str, Any] = {}
    for mode in config.modes:
        rows = list(results.get(mode, {}).values())
        n = len(rows)
        right = sum(1 for r in rows if r.correct)
        low, high = bootstrap_ci(right, n, seed=config.seed)
        modes[mode] = {
            "accuracy": round(right / n, 4) if n else None,
            "ci_low": round(low, 4) if n else None,
            "ci_high": round(high, 4) if n else None,
            "tokens_mean": _mean([r.tokens for r in rows], 1),
            "cost_usd_mean": _mean([r.cost_usd for r in rows], 6),
            "calls_mean": _mean([r.calls for r in rows], 3),
            "wall_mean_s": _mean([r.wall_s for r in rows], 4),
            "n_scored": n,
            "correct": right,
            "failed": sum(1 for r in rows if r.failed),
        }
    comparisons = []
    for a, b in itertools.combinations(config.modes, 2):
        ra, rb = results.get(a, {}), results.get(b, {})
        shared = [q for q in ra if q in rb]
        if not shared:
            continue
        comparisons.append(
            compare(
                a, b, [ra[q].correct for q in shared], [rb[q].correct for q in shared]
            ).to_dict()
        )
    questions = {q for rows in results.values() for q in rows}
    return {
        "suite": config.suite,
        "n": len(questions),
        "seed": config.seed,
        "agents": list(config.agents),
        "rounds": config.rounds,
        "sc_samples": sc_samples if "sc" in config.modes else None,
        "modes": modes,
        "comparisons": comparisons,
    }


def _mean(values: Sequence[float], digits: int) -> float | None:
    return round(sum(values) / len(values), digits) if values else None


def markdown(summary: Mapping[str, Any], *, plot: str | None = None) -> str:
    """The summary as Markdown: a table per mode, the comparisons, and the plot's link."""
    lines = [
        f"# Evaluation: {summary['suite']}",
        "",
        f"{summary['n']} questions, seed {summary['seed']}, agents "
        + ", ".join(f"`{a}`" for a in summary["agents"])
        + (f"; sc with {summary['sc_samples']} samples" if summary.get("sc_samples") else "")
        + ".",
        "",
        "| mode | accuracy | 95 % CI | tokens | cost (USD) | calls | wall (s) | n |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, row in summary["modes"].items():
        if not row["n_scored"]:
            lines.append(f"| {mode} | – | – | – | – | – | – | 0 |")
            continue
        lines.append(
            f"| {mode} | {row['accuracy']:.3f} | [{row['ci_low']:.3f}, {row['ci_high']:.3f}] | "
            f"{row['tokens_mean']:.0f} | {row['cost_usd_mean']:.4f} | {row['calls_mean']:.1f} | "
            f"{row['wall_mean_s']:.2f} | {row['n_scored']} |"
        )
    if summary["comparisons"]:
        lines += [
            "",
            "Paired comparisons (McNemar's exact test; 95 % paired-bootstrap CI of the "
            "difference):",
            "",
            "| A − B | difference | 95 % CI | only A right | only B right | p |",
            "|---|---|---|---|---|---|",
        ]
        for c in summary["comparisons"]:
            lines.append(
                f"| {c['a']} − {c['b']} | {c['diff']:+.3f} | [{c['diff_ci_low']:+.3f}, "
                f"{c['diff_ci_high']:+.3f}] | {c['only_a_correct']} | {c['only_b_correct']} | "
                f"{_p(c['p_value'])} |"
            )
    if plot:
        lines += ["", f"![accuracy against tokens per question]({plot})"]
    return "\n".join(lines) + "\n"


def _p(value: float) -> str:
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"
