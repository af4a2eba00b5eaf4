"""``aragora debate "TASK"``: run one debate in this process with live progress."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import uuid
from typing import Any

from aragora import wiring
from aragora.cli.remote import run_remote_debate
from aragora.cli.render import ProgressPrinter, print_summary
from aragora.debate.model import Task
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import InvalidInputError
from aragora.logs import configure_logging
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog
from aragora.settings import load_settings

__all__ = ["add_debate_command"]


def add_debate_command(commands: Any) -> None:
    """Register ``debate`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "debate",
        help="run one debate in this process and print its progress",
        description="Run one debate in this process with live progress in the terminal.",
    )
    parser.add_argument("task", help="the question or task for the panel")
    parser.add_argument(
        "--agents",
        help="comma-separated agent specs, e.g. demo,demo,demo (default: ARAGORA_DEFAULT_AGENTS)",
    )
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.AUTO.value)
    parser.add_argument("--rounds", type=_positive_int, default=3, help="at most this many rounds")
    parser.add_argument(
        "--consensus",
        choices=[r.value for r in ConsensusRule],
        default=ConsensusRule.MAJORITY.value,
    )
    parser.add_argument(
        "--judge", help="panel member (agent name) who judges under --consensus judge"
    )
    parser.add_argument("--context", default="", help="background material for the task")
    parser.add_argument("--seed", type=int, help="fix the anonymisation shuffle and demo agents")
    parser.add_argument(
        "--json", action="store_true", help="print only the final debate document as JSON"
    )
    parser.add_argument(
        "--server",
        metavar="URL",
        help="run the debate on a running `aragora serve` (e.g. http://127.0.0.1:8080) "
        "and follow it live, instead of in this process",
    )
    parser.add_argument("--token", help="API token for --server (when it requires one)")
    parser.set_defaults(handler=run_debate)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def run_debate(args: argparse.Namespace) -> int:
    """Run the debate; exit status 0 when it completed, 1 when it failed or was cancelled."""
    settings = load_settings()
    configure_logging(
        settings.log_level, settings.log_format, stream=sys.stderr, secrets=settings.secret_values()
    )
    specs = (
        [s.strip() for s in args.agents.split(",")]
        if args.agents
        else list(settings.default_agents)
    )
    if not args.task.strip():
        raise InvalidInputError("task must be a non-empty string")
    if args.server:
        body: dict[str, Any] = {
            "task": args.task,
            "mode": args.mode,
            "rounds": args.rounds,
            "consensus": args.consensus,
            "context": args.context,
        }
        if args.agents:
            body["agents"] = specs
        if args.judge:
            body["judge"] = args.judge
        return await run_remote_debate(args.server, body, token=args.token, as_json=args.json)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    protocol = DebateProtocol(
        mode=Mode(args.mode),
        rounds=args.rounds,
        consensus=ConsensusRule(args.consensus),
        judge=args.judge,
        agent_timeout=settings.agent_timeout,
        debate_timeout=settings.debate_timeout,
    )
    # The operator's own specs: they may name any endpoint (trusted).
    hub = wiring.build_provider_hub(settings)
    panel = wiring.build_panel(specs, settings, seed=seed, trusted=True, hub=hub)
    names = [participant.name for participant, _ in panel]
    if args.judge and args.judge not in names:
        raise InvalidInputError(f"--judge {args.judge!r} is not on the panel ({', '.join(names)})")
    setup = DebateSetup(
        debate_id=str(uuid.uuid4()),
        task=Task(args.task, args.context),
        protocol=protocol,
        panel=tuple(participant for participant, _ in panel),
        seed=seed,
    )
    events = MemoryEventLog()
    color = sys.stdout.isatty()
    if not args.json:
        events.subscribe(ProgressPrinter(sys.stdout, color=color))
    engine = wiring.build_engine(settings, sink=events)
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C cancels the debate cleanly and its partial result is still printed. Signal
    # handlers exist only on the main thread of a Unix event loop.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, cancel.set)
    try:
        await engine.start(setup, {p.name: llm for p, llm in panel}, cancel=cancel)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        await hub.aclose()
    document = debate_document(setup.debate_id, events.events(setup.debate_id))
    if args.json:
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_summary(document, sys.stdout, color=color)
    if document["status"] != "completed":
        reason = document.get("error") or document["status"]
        print(f"aragora: debate {document['status']}: {reason}", file=sys.stderr)
        return 1
    return 0
