"""Past evaluation runs in a real browser: a run made by `aragora eval` (simulated agents)
in the server's data directory is listed, and its page shows the per-mode table, the plot
and the comparisons with the server's figures, labelled as simulated; a partial run and a
broken directory say what they are. Reached by keyboard; tables and plot named for
assistive technology."""

from __future__ import annotations

import json
import math
import shutil
from typing import Any

from playwright.sync_api import Page, expect

from .conftest import SIM_EVAL
from .support import Server, run_eval
from .test_debates import tab_to


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def test_a_run_is_listed_and_shown_with_its_table_plot_and_comparisons(
    page: Page, server: Server, eval_run: str
) -> None:
    run: dict[str, Any] = server.get(f"/api/v1/evals/{eval_run}")
    summary = run["summary"]
    assert run["status"] == "complete"
    assert run["simulated"] is True

    page.goto("/")
    tab_to(page, "nav a[href='/evals']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Evaluations")).to_be_visible()
    runs = page.get_by_role("table", name="Evaluation runs, most recently written first")
    row = runs.locator(f"tr[data-run='{eval_run}']")
    expect(row).to_contain_text("complete")
    expect(row).to_contain_text("simulated")
    expect(row).to_contain_text(f"debate {percent(summary['modes']['debate']['accuracy'])}")
    tab_to(page, f"a[href='/evals/{eval_run}']")
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{server.url}/evals/{eval_run}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(eval_run)
    expect(page.get_by_test_id("simulated-note")).to_contain_text("Simulated agents.")
    expect(page.get_by_test_id("partial-note")).to_have_count(0)
    expect(page.get_by_test_id("eval-settings")).to_contain_text("sim:0.7")

    modes = page.get_by_role("table", name="Per mode: accuracy over the scored questions")
    for mode, row_data in summary["modes"].items():
        cells = modes.locator(f"tr[data-mode='{mode}'] > *")
        expect(cells.nth(0)).to_have_text(mode)
        expect(cells.nth(1)).to_have_text(percent(row_data["accuracy"]))
        low, high = percent(row_data["ci_low"]), percent(row_data["ci_high"])
        expect(cells.nth(2)).to_have_text(f"[{low}, {high}]")
        # The page rounds as JavaScript does (half up), not as Python's round (half even).
        expect(cells.nth(3)).to_have_text(f"{math.floor(row_data['tokens_mean'] + 0.5):,}")
        expect(cells.nth(5)).to_have_text(f"{row_data['calls_mean']:.1f}")
        expect(cells.nth(7)).to_have_text("20 / 20")

    plot = page.get_by_role("img", name="Accuracy against mean tokens per question")
    expect(plot).to_be_visible()
    description = plot.locator("desc")
    for mode, row_data in summary["modes"].items():
        expect(description).to_contain_text(f"{mode}: {percent(row_data['accuracy'])} accuracy")
        expect(plot.locator(f"[data-mode='{mode}'] circle")).to_have_count(1)
        expect(plot.locator(f"[data-mode='{mode}'] line.ci")).to_have_count(3)
    expect(plot.locator("text.axis-label")).to_have_text(
        ["Mean tokens per question", "Accuracy (95% CI)"]
    )

    comparisons = page.get_by_role("table", name="Paired comparisons of modes")
    expect(comparisons.locator("tbody tr")).to_have_count(len(summary["comparisons"]))
    for index, pair in enumerate(summary["comparisons"]):
        cells = comparisons.locator("tbody tr").nth(index).locator("> *")
        expect(cells.nth(0)).to_have_text(f"{pair['a']} − {pair['b']}")
        p = pair["p_value"]
        expect(cells.nth(6)).to_have_text("< 0.0001" if p < 1e-4 else f"{p:.4f}")


def test_a_partial_run_and_a_broken_one_say_what_they_are(page: Page, server: Server) -> None:
    out = run_eval(server, "cut-short", *SIM_EVAL, "--seed", "7")
    for written in ("report.json", "report.md", "accuracy_tokens.png"):
        (out / written).unlink()
    results = out / "results.jsonl"
    lines = results.read_text().splitlines()
    results.write_text("\n".join(lines[:25]) + "\n")
    broken = server.data_dir / "evals" / "broken-run"
    shutil.rmtree(broken, ignore_errors=True)
    broken.mkdir(parents=True)
    (broken / "run.json").write_text(json.dumps({"suite": "arith", "agents": "sim:0.7", "seed": 0}))

    page.goto("/evals")
    rows = page.get_by_test_id("eval-runs")
    expect(rows.locator("tr[data-run='cut-short']")).to_contain_text("partial")
    broken_row = rows.locator("tr[data-run='broken-run']")
    expect(broken_row).to_contain_text("unreadable")
    expect(broken_row).to_contain_text("'agents' must be a list of strings")

    page.goto("/evals/cut-short")
    expect(page.get_by_test_id("partial-note")).to_contain_text("Partial run.")
    scored = sum(1 for line in lines[:25] if json.loads(line)["mode"] == "single")
    modes = page.get_by_role("table", name="Per mode: accuracy over the scored questions")
    expect(modes.locator("tr[data-mode='single'] > *").nth(7)).to_have_text(f"{scored} / 20")

    page.goto("/evals/broken-run")
    expect(page.get_by_test_id("unreadable-note")).to_contain_text("must be a list of strings")
    expect(page.get_by_test_id("accuracy-plot")).to_have_count(0)


def test_an_unknown_run_is_a_clear_error(page_and_watch: tuple[Page, Any]) -> None:
    page, watch = page_and_watch
    watch.allow(r"status of 404")
    page.goto("/evals/no-such-run")
    expect(page.get_by_role("alert")).to_contain_text("no evaluation run named 'no-such-run'")
