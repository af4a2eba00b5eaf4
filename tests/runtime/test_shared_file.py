"""A server and an ``aragora debate`` on the same SQLite file: the server's stream of the
command's debate follows it to its end, without Redis (it reads the log when quiet)."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from aragora import wiring
from aragora.migrations.runner import ensure_schema
from aragora.settings import load_settings


async def test_a_server_streams_a_debate_that_another_process_runs_on_its_file(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {
            "ARAGORA_DATA_DIR": str(tmp_path),
            "ARAGORA_DEMO_DELAY": "0.3",  # the debate takes a few seconds, quiet in between
            "ARAGORA_AUTO_MIGRATE": "true",
        }
    )
    check = functools.partial(ensure_schema, auto_migrate=True)
    server = await wiring.open_node(settings, check_schema=check)
    own: set[str] = set()
    command = await wiring.open_node(settings, check_schema=check, own_debates=own)
    try:
        # the server claims nothing here (it is not started): the command runs the debate
        created = await command.service.create({"task": "Tabs or spaces?", "mode": "vote"})
        own.add(created["debate_id"])
        command.start()
        frames = []
        async with asyncio.timeout(30):
            async for frame in server.service.stream(created["debate_id"]):
                if frame.seq is not None:
                    frames.append(frame)
        assert frames[-1].type == "debate_end"
        assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
    finally:
        await command.close()
        await server.close()
