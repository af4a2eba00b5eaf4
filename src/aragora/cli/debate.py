"""``aragora debate "TASK"``: run one debate and show it as it happens.

Without ``--server`` the debate runs in this process through the same service and storage
as ``aragora serve`` (:mod:`aragora.cli.local`): it is stored, listed, receipted and
ingested like any other. With ``--server URL`` it runs on that server
(:mod:`aragora.cli.remote`). Either way the request is the API's request body, parsed by
the API's parser, and the terminal shows the same stream the WebSocket sends.

Only argument parsing is imported with this module; the runtime is imported when the
command runs, after its first line is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from aragora.cli.live import LiveView
from aragora.cli.text import Style
from aragora.debate.protocol import ConsensusRule, Mode
from aragora.errors import InvalidInputError

__all__ = ["add_debate_command", "request_body"]


def add_debate_command(commands: Any) -> None:
    """Register ``debate`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "debate",
        help="run one debate and show it as it happens",
        description="Run one debate in this process, stored like the server's (embedded "
        "SQLite in ARAGORA_DATA_DIR unless ARAGORA_DATABASE_URL is set), and show it as "
        "it happens. Ctrl-C cancels it and prints the partial result.",
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
        "--judge",
        help="panel member (agent name) who judges under --consensus judge "
        "(default: the first on the panel)",
    )
    parser.add_argument("--context", default="", help="background material for the task")
    parser.add_argument("--seed", type=int, help="fix the anonymisation shuffle and demo agents")
    parser.add_argument(
        "--json", action="store_true", help="print only the final debate document as JSON"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="keep the debate in memory only: nothing is stored, listed or receipted",
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


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The ``POST /api/v1/debates`` body the arguments describe (agents left out when not
    given, so the defaults of whoever runs it apply)."""
    body: dict[str, Any] = {
        "task": args.task,
        "mode": args.mode,
        "rounds": args.rounds,
        "consensus": args.consensus,
        "context": args.context,
    }
    if args.agents:
        body["agents"] = [spec.strip() for spec in args.agents.split(",")]
    if args.judge:
        body["judge"] = args.judge
    return body


async def run_debate(args: argparse.Namespace) -> int:
    """Run the debate; exit status 0 when it completed, 1 when it failed or was
    cancelled, 2 for a bad request, 130 when interrupted."""
    from aragora.logs import configure_logging
    from aragora.settings import load_settings

    settings = load_settings()
    if args.server and args.memory:
        raise InvalidInputError("--memory runs the debate here; it cannot go with --server")
    base = None
    if args.server:
        from aragora.cli.remote import base_url

        base = base_url(args.server)
    style = Style.for_stream(sys.stdout)
    view = None
    if not args.json:
        view = LiveView(
            sys.stdout,
            style=style,
            live=bool(sys.stdout.isatty()),
            pointer=_pointer(base, memory=args.memory),
        )
    configure_logging(
        # The terminal shows the debate; the runtime's routine INFO lines (claims,
        # ingests) would only interleave with it. Asked for explicitly, they appear.
        settings.log_level if os.environ.get("ARAGORA_LOG_LEVEL", "").strip() else "WARNING",
        settings.log_format,
        # Log lines go to stderr, around the live lines rather than through them.
        stream=view.aside(sys.stderr) if view is not None else sys.stderr,
        secrets=settings.secret_values(),
        libraries=settings.log_libraries,
        access_log=settings.access_log,
    )
    body = request_body(args)
    if base is not None:
        from aragora.cli.remote import run_remote_debate

        if view is not None:
            view.intro(args.task)
        return await run_remote_debate(base, body, token=args.token, view=view, style=style)
    from aragora.runtime.debate_request import RequestDefaults, parse_request

    # The API's own parser, first: a bad request is a usage error before anything opens.
    parse_request(
        body,
        RequestDefaults(
            agents=tuple(settings.default_agents),
            agent_timeout=settings.agent_timeout,
            debate_timeout=settings.debate_timeout,
        ),
    )
    if view is not None:
        view.intro(args.task)
    from aragora.cli.local import run_local_debate

    return await run_local_debate(settings, body, seed=args.seed, memory=args.memory, view=view)


def _pointer(base: str | None, *, memory: bool) -> Callable[[str], str]:
    """Where the full text of a shortened reply can be read."""
    if base is not None:
        return lambda debate_id: f"GET {base}/api/v1/debates/{debate_id}/messages"
    if memory:
        return lambda _: "rerun with --json"
    return lambda debate_id: f"aragora debates show {debate_id}"
