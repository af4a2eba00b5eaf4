"""``aragora eval``: every question of a suite in every mode, scored, with a report.

Only argument parsing is imported with this module; the evaluation (and the runtime it
runs on) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_eval_command"]

_MODES = ("single", "sc", "vote", "debate", "auto")


def add_eval_command(commands: Any) -> None:
    """Register ``eval`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "eval",
        help="measure accuracy and cost of single, sc, vote, debate and auto on a suite",
        description="Run every question of a suite in every mode through the debate "
        "service (in memory, knowledge off), score the answers and write a report: "
        "accuracy with 95%% bootstrap intervals, tokens, cost, calls and time per mode, "
        "McNemar comparisons, a PNG plot and a Markdown summary. Results are kept per "
        "question, so running the same command again resumes an interrupted run.",
    )
    parser.add_argument(
        "--suite", required=True, help="arith, gsm8k, or a JSONL file (question, answer, type)"
    )
    parser.add_argument(
        "--agents",
        required=True,
        help="comma-separated agent specs, e.g. sim:0.7,sim:0.7,sim:0.7 or "
        "openai-compatible:qwen@http://127.0.0.1:8000/v1 (x3); sc samples the first one",
    )
    parser.add_argument(
        "--modes",
        default=",".join(_MODES),
        help=f"comma-separated, from {', '.join(_MODES)} (default: all)",
    )
    parser.add_argument("--rounds", type=_positive, help="debate rounds (default 3)")
    parser.add_argument("--n", type=_positive, help="the first N questions (arith: default 100)")
    parser.add_argument("--seed", type=int, default=0, help="arith's questions and the debates")
    parser.add_argument(
        "--concurrency", type=_positive, default=4, help="debates in flight at once (default 4)"
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--budget-tokens",
        type=_positive,
        metavar="T",
        help="sc takes as many samples as fit in T tokens per question",
    )
    budget.add_argument(
        "--match",
        choices=["debate"],
        help="sc takes as many samples as fit in debate's mean tokens (equal compute)",
    )
    parser.add_argument(
        "--samples", type=_positive, help="sc's samples without a budget (default: the agents)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="run directory (default: ARAGORA_DATA_DIR/evals/<suite>-seed<S>-<settings hash>)",
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="keep the debates in the configured database (tagged as evaluation debates: "
        "not rated, not ingested) instead of in memory",
    )
    parser.add_argument(
        "--json", action="store_true", help="print only the summary as JSON on stdout"
    )
    parser.set_defaults(handler=run_eval)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def run_eval(args: argparse.Namespace) -> int:
    """Run the evaluation and print its report; 0 when it finished."""
    from aragora.eval.harness import PLOT, REPORT_MD, default_out, evaluate
    from aragora.eval.progress import Bar
    from aragora.eval.report import markdown
    from aragora.eval.runner import EvalConfig
    from aragora.logs import configure_logging
    from aragora.settings import load_settings

    settings = load_settings()
    configure_logging(
        "WARNING",
        settings.log_format,
        stream=sys.stderr,
        secrets=settings.secret_values(),
        libraries=settings.log_libraries,
        access_log=False,
    )
    config = EvalConfig(
        suite=args.suite,
        agents=tuple(s.strip() for s in args.agents.split(",") if s.strip()),
        modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
        n=args.n,
        seed=args.seed,
        rounds=args.rounds,
        concurrency=args.concurrency,
        budget_tokens=args.budget_tokens,
        match=args.match,
        samples=args.samples,
    )
    out = args.out or default_out(config, settings.data_dir / "evals")
    bar = Bar(sys.stderr)
    try:
        summary = await evaluate(config, settings, out, progress=bar, memory=not args.store)
    finally:
        bar.finish()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(markdown(summary, plot=str(out / PLOT)), end="")
        print(f"\nresults, report and plot in {out} ({REPORT_MD})")
    print(f"aragora eval: results in {out}", file=sys.stderr)
    return 0
