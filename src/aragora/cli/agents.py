"""``aragora agents``: the configured agents, their providers and status."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from aragora import wiring
from aragora.agents.status import overall_health, probed_agent_statuses
from aragora.settings import load_settings

__all__ = ["add_agents_command"]


def add_agents_command(commands: Any) -> None:
    """Register ``agents`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "agents",
        help="list the configured agents, their providers and status",
        description="List the agents of ARAGORA_DEFAULT_AGENTS and one agent for each "
        "provider that has an API key, with provider, model and status. Each endpoint is "
        "probed first with one short request that spends no tokens (GET .../models), so an "
        "endpoint that does not answer shows as unreachable.",
    )
    parser.add_argument("--json", action="store_true", help="print the list as JSON")
    parser.set_defaults(handler=run_agents)


async def run_agents(args: argparse.Namespace) -> int:
    """Print the agents after probing their endpoints; exit status 0 (an unconfigured or
    unreachable agent is reported, not an error)."""
    settings = load_settings()
    async with wiring.build_provider_hub(settings) as hub:
        registry = wiring.build_registry(settings, hub)
        rows = await probed_agent_statuses(registry, hub, settings.default_agents)
        health = overall_health(rows).value
        fallback = hub.fallback_enabled
    if args.json:
        document = {
            "agents": [row.to_dict() for row in rows],
            "total": len(rows),
            "health": health,
            "openrouter_fallback": fallback,
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    table = [("NAME", "PROVIDER", "MODEL", "STATUS", "DETAIL")]
    for row in rows:
        detail = row.detail
        if row.fallbacks:
            fallbacks = "falls back to " + ", ".join(row.fallbacks)
            detail = f"{detail}; {fallbacks}" if detail else fallbacks
        table.append((row.name, row.provider, row.model, row.status, detail))
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[4]]).rstrip())
    print(f"\nagents: {health} · OpenRouter fallback: {'on' if fallback else 'off'}")
    return 0
