"""Past evaluation runs (``aragora eval``) under ``ARAGORA_DATA_DIR/evals``: the list and
one run's summary, read from the run directories by :mod:`aragora.eval.runs`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from aragora.eval.runs import MAX_NAME_LENGTH, list_runs, read_run
from aragora.server.auth import ReadAccess
from aragora.server.responses import json_response
from aragora.server.routes import MAX_INT, errors
from aragora.server.state import StateDep

__all__ = ["EVALS_DIR", "router"]

EVALS_DIR = "evals"
"""The runs' directory under ``ARAGORA_DATA_DIR`` (where ``aragora eval`` writes by
default)."""

router = APIRouter(prefix="/evals", tags=["evals"])

RunName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="The run's directory name under ARAGORA_DATA_DIR/evals.",
    ),
]


# --- wire models (documentation of aragora.eval.runs' documents) ---------------------------
class EvalModeSummary(BaseModel):
    """One mode of a run, over the questions whose debates are all done (``n_scored``)."""

    accuracy: float | None = Field(description="Share right; null when none is scored.")
    ci_low: float | None = Field(description="95 % percentile-bootstrap interval, low end.")
    ci_high: float | None
    tokens_mean: float | None = Field(description="Mean tokens per question.")
    cost_usd_mean: float | None
    calls_mean: float | None = Field(description="Mean agent calls per question.")
    wall_mean_s: float | None
    n_scored: int
    correct: int
    failed: int = Field(description="Questions whose debate failed (scored as wrong).")


class EvalComparison(BaseModel):
    """Mode ``a`` against mode ``b`` on the questions both scored (McNemar's exact test;
    the difference's 95 % paired-bootstrap interval)."""

    a: str
    b: str
    n: int
    accuracy_a: float
    accuracy_b: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    only_a_correct: int
    only_b_correct: int
    test: str = Field(examples=["mcnemar_exact"])
    p_value: float


class EvalSummary(BaseModel):
    """The same document as ``aragora eval --json``."""

    suite: str
    n: int = Field(description="Questions with at least one scored mode.")
    seed: int
    agents: list[str]
    rounds: int | None
    sc_samples: int | None
    modes: dict[str, EvalModeSummary]
    comparisons: list[EvalComparison]


class EvalSettings(BaseModel):
    """What the run asked (its ``run.json``)."""

    suite: str
    agents: list[str]
    modes: list[str]
    n: int | None
    seed: int
    rounds: int | None
    budget_tokens: int | None
    match: str | None
    samples: int | None
    sc_samples: int | None = Field(description="sc's samples, once chosen.")


class EvalRunBody(BaseModel):
    """One run: ``complete`` (every mode scored every question), ``partial`` (debates are
    missing: interrupted or still running; the summary covers what is there) or
    ``unreadable`` (``reason`` says why; no summary)."""

    name: str
    status: Literal["complete", "partial", "unreadable"]
    updated_at: str = Field(description="When the run last wrote a file (ISO 8601, UTC).")
    settings: EvalSettings | None
    questions: int | None = Field(description="Questions in the run's suite.")
    simulated: bool = Field(description="Whether any agent is simulated (sim:...).")
    summary: EvalSummary | None
    reason: str | None


class EvalRunList(BaseModel):
    runs: list[EvalRunBody]
    total: int


# --- routes ---------------------------------------------------------------------------------
@router.get(
    "",
    response_model=EvalRunList,
    summary="List evaluation runs",
    responses=errors(401, 403, 422),
)
async def list_evals(
    state: StateDep,
    _: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size (1..1000).")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT, description="Runs to skip.")] = 0,
) -> Response:
    """The runs under ``ARAGORA_DATA_DIR/evals``, most recently written first, each with its
    per-mode summary; a directory that cannot be read is listed as ``unreadable``."""
    base = state.settings.data_dir / EVALS_DIR
    runs, total = await asyncio.to_thread(list_runs, base, limit=limit, offset=offset)
    return json_response({"runs": [r.to_dict() for r in runs], "total": total})


@router.get(
    "/{name}",
    response_model=EvalRunBody,
    summary="One evaluation run",
    responses=errors(400, 401, 403, 404),
)
async def get_eval(name: RunName, state: StateDep, _: ReadAccess) -> Response:
    """The run's settings and summary, computed from its stored results (as
    ``aragora eval --json`` prints it). 400 for a name that is not a plain directory name,
    404 when there is no such run."""
    base = state.settings.data_dir / EVALS_DIR
    return json_response((await asyncio.to_thread(read_run, base, name)).to_dict())
