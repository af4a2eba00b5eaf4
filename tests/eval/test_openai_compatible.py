"""``aragora eval`` against an OpenAI-compatible local server: the llama-cpp-python fake
(its exact wire: no usage on streams, one slot, interrupting a stream when another request
waits), with a model that solves the arithmetic it is asked, unchanged from real agents."""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

from aragora.agents.fakes.servers import Answer, FakeProvider, FakeRequest
from aragora.eval.harness import evaluate
from aragora.eval.progress import Silent
from aragora.eval.runner import EvalConfig
from aragora.eval.store import ResultStore
from aragora.settings import load_settings

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def _value(node: ast.expr) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    assert isinstance(node, ast.BinOp)
    return int(_OPS[type(node.op)](_value(node.left), _value(node.right)))


def _solver(request: FakeRequest) -> Answer:
    found = re.search(r"What is the result of ([0-9+\-*]+)\?", request.prompt)
    assert found is not None, request.prompt
    value = _value(ast.parse(found.group(1), mode="eval").body)
    return Answer(f"ANSWER: {value}\nCONFIDENCE: 0.8\nREASONING: I evaluated {found.group(1)}.")


async def test_a_local_openai_compatible_server_is_evaluated_like_any_agent(
    tmp_path: Path,
) -> None:
    settings = load_settings({"ARAGORA_DATA_DIR": str(tmp_path), "ARAGORA_AGENT_WAIT": "0"})
    async with FakeProvider.llama_cpp(_solver) as fake:
        spec = f"openai-compatible:qwen2.5-0.5b@{fake.base_url}"
        config = EvalConfig(
            suite="arith",
            agents=(spec, spec, spec),
            modes=("single", "sc", "vote"),
            n=4,
            seed=1,
            concurrency=2,
        )
        summary = await evaluate(config, settings, tmp_path / "run", progress=Silent())
        requests = len(fake.requests)
    modes = summary["modes"]
    assert modes["single"]["accuracy"] == 1.0  # the server's answers were read and scored
    assert modes["sc"]["n_scored"] == modes["vote"]["n_scored"] == 4
    assert modes["single"]["tokens_mean"] > 0  # estimated: llama.cpp streams no usage
    outcomes = ResultStore(tmp_path / "run").load().values()
    assert requests >= sum(o.calls for o in outcomes) >= 4 * (1 + 3 + 3)
    assert all(o.status in ("completed", "failed") for o in outcomes)
