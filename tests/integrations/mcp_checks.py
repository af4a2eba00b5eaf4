"""What every MCP transport must do, checked through the SDK's own client: the same
assertions over stdio and over HTTP."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client
from mcp.types import TextResourceContents

TOOLS = {"deliberate", "get_debate", "list_debates", "search_knowledge", "verify_receipt"}


def _text(contents: list[Any]) -> str:
    assert len(contents) == 1
    content = contents[0]
    assert isinstance(content, TextResourceContents)
    return content.text


async def check_tools(client: Client) -> str:
    """Run every tool and read both resources; the debate's id. The panel's agents all
    answer 4."""
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    assert set(tools["deliberate"].input_schema["properties"]) >= {"task", "agents", "mode"}
    assert "ctx" not in tools["deliberate"].input_schema["properties"]

    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    result = await client.call_tool(
        "deliberate",
        {"task": "What is 2+2?", "mode": "vote"},
        progress_callback=on_progress,
    )
    assert not result.is_error, result.content
    verdict = result.structured_content or {}
    assert verdict["decided"] is True
    assert verdict["verdict"] == "4"
    assert verdict["answer"] == "4"
    assert verdict["consensus_reached"] is True
    assert 0 < verdict["confidence"] <= 1
    assert verdict["dissent"] == []
    assert verdict["cost"]["tokens"] > 0
    debate_id = str(verdict["debate_id"])
    assert verdict["url"] == f"/api/v1/debates/{debate_id}"
    receipt = verdict["receipt"]
    assert receipt["id"].startswith("rcpt_")
    assert receipt["resource"] == f"aragora://debates/{debate_id}/receipt"
    # One notification per stored event, in order, naming what happened.
    values = [value for value, _ in progress]
    assert values == sorted(values)
    assert len(values) >= 5
    assert any(message and message.startswith("propose by") for _, message in progress)

    document = (await client.call_tool("get_debate", {"debate_id": debate_id})).structured_content
    assert document is not None
    assert document["status"] == "completed"
    assert document["final_answer"] == "4"
    assert "messages" not in document
    assert document["message_count"] >= 3
    assert document["transcript"] == f"aragora://debates/{debate_id}/transcript"

    listed = (await client.call_tool("list_debates", {"status": "completed"})).structured_content
    assert listed is not None
    assert debate_id in [d["id"] for d in listed["debates"]]

    found = (await client.call_tool("search_knowledge", {"query": "2+2"})).structured_content
    assert found is not None
    assert found["total"] >= 1

    checked = (
        await client.call_tool("verify_receipt", {"debate_id": debate_id})
    ).structured_content
    assert checked is not None
    assert checked["valid"] is True, checked["problems"]
    assert checked["receipt_id"] == receipt["id"]

    transcript = _text((await client.read_resource(verdict["transcript"])).contents)
    assert transcript.startswith(f"# Debate {debate_id}")
    assert "What is 2+2?" in transcript
    assert "**Verdict** (consensus)" in transcript
    envelope = json.loads(_text((await client.read_resource(receipt["resource"])).contents))
    assert envelope["receipt_id"] == receipt["id"]

    # A receipt changed after signing no longer verifies.
    forged = dict(envelope["odr"])
    forged["claim"] = {**forged["claim"], "statement": "5"}
    tampered = await client.call_tool("verify_receipt", {"receipt": forged})
    assert tampered.structured_content is not None
    assert tampered.structured_content["valid"] is False
    assert any("does not verify" in p for p in tampered.structured_content["problems"])
    return debate_id


async def check_errors(client: Client) -> None:
    """Mistakes come back as tool errors naming them."""
    empty = await client.call_tool("deliberate", {"task": "  "})
    assert empty.is_error
    assert "task must be a non-empty string" in str(empty.content)
    bad_spec = await client.call_tool("deliberate", {"task": "t", "agents": ["nonsense:x"]})
    assert bad_spec.is_error
    assert "nonsense:x" in str(bad_spec.content)
    unknown = await client.call_tool("get_debate", {"debate_id": "no-such-debate"})
    assert unknown.is_error
    assert "not found" in str(unknown.content)
    neither = await client.call_tool("verify_receipt", {})
    assert neither.is_error
    assert "exactly one" in str(neither.content)
