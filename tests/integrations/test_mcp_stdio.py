"""``aragora mcp`` as an MCP client starts it: a subprocess on its own data directory, spoken
to over stdio by the SDK's client."""

from __future__ import annotations

from pathlib import Path

from aragora.agents.fakes.servers import FakeProvider

from ..server.live import offline_environment
from .mcp_checks import check_errors, check_tools
from .support import fake_agents, stdio_client


async def test_every_tool_over_stdio(tmp_path: Path) -> None:
    async with FakeProvider("openai") as fake:
        env = offline_environment(
            tmp_path / "data", ARAGORA_DEFAULT_AGENTS=fake_agents(fake.base_url)
        )
        async with stdio_client(env) as client:
            debate_id = await check_tools(client)
            await check_errors(client)
    # Stored like the server's debates: in the data directory's SQLite file.
    assert (tmp_path / "data" / "aragora.db").exists()
    async with stdio_client(env) as client:  # a later session reads it back
        again = await client.call_tool("get_debate", {"debate_id": debate_id})
    assert again.structured_content is not None
    assert again.structured_content["status"] == "completed"
