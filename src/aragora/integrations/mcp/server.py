"""Aragora's MCP tools and resources on the official SDK's ``MCPServer`` (imports ``mcp``).

Tools:

- ``deliberate(task, agents?, mode?, rounds?, context?)`` — run a debate to its end, with a
  progress notification per stored event; the verdict (or an honest "no decision"), its
  confidence, the dissent, the cost, the debate id and the receipt's links;
- ``get_debate(debate_id)``, ``list_debates(status?, query?, limit?, offset?)``;
- ``search_knowledge(query, limit?)`` — the Knowledge Mound;
- ``verify_receipt(receipt_id? | debate_id? | receipt?)`` — digest and signature checked
  against this deployment's published keys.

Resources (templates): ``aragora://debates/{debate_id}/transcript`` (Markdown) and
``aragora://debates/{debate_id}/receipt`` (the signed receipt, JSON).

Errors a caller can act on (a bad argument, an unknown debate, maintenance) come back as
tool errors carrying the API's message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import orjson
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from aragora import __version__
from aragora.errors import AragoraError, NotFoundError
from aragora.integrations.mcp.backend import McpBackend
from aragora.integrations.mcp.transcript import render_transcript
from aragora.integrations.outcome import debate_path, no_decision_text, outcome_of
from aragora.receipts.service import envelope
from aragora.receipts.verify import verify_receipt
from aragora.runtime.bus import Frame
from aragora.runtime.follow import follow_debate

__all__ = ["INSTRUCTIONS", "build_mcp_server", "receipt_uri", "transcript_uri"]

INSTRUCTIONS = """Aragora puts a question to a panel of LLM agents that propose, critique,
revise and vote. Call `deliberate` with a task to get the panel's verdict, its confidence and
the dissent; it reports progress while the agents deliberate. A debate that ends without a
decision says so (decided: false) and gives no verdict. Past debates are listed by
`list_debates` and read by `get_debate` or the transcript resource; `search_knowledge`
searches past decisions; `verify_receipt` checks a decision receipt's signature."""

ToolContext = Context[Any, Any]
Mode = Literal["auto", "debate", "vote", "single"]
Status = Literal["queued", "running", "completed", "failed", "cancelled"]


def transcript_uri(debate_id: str) -> str:
    """The resource URI of a debate's transcript."""
    return f"aragora://debates/{debate_id}/transcript"


def receipt_uri(debate_id: str) -> str:
    """The resource URI of a debate's receipt."""
    return f"aragora://debates/{debate_id}/receipt"


class Stance(BaseModel):
    """An agent's final position where it differs from the verdict."""

    agent: str
    final_position: str
    reasons: str = ""
    changed_mind: bool = False


class Cost(BaseModel):
    """Tokens and dollars of the whole debate."""

    input_tokens: int
    output_tokens: int
    tokens: int
    usd: float


class ReceiptLink(BaseModel):
    """Where the debate's signed decision receipt is (HTTP paths and the resource)."""

    id: str
    digest: str | None = None
    url: str | None = None
    odr_url: str | None = None
    resource: str


class Deliberation(BaseModel):
    """What ``deliberate`` answers."""

    debate_id: str
    status: str
    decided: bool = Field(description="False when the debate ended without a decision.")
    verdict: str | None = Field(description="The panel's answer; null when not decided.")
    answer: str = Field(description="The verdict, or why no decision was reached.")
    confidence: float | None
    consensus_reached: bool
    outcome: str | None
    reason: str | None
    dissent: list[Stance]
    cost: Cost
    receipt: ReceiptLink | None
    transcript: str = Field(description="The transcript's resource URI.")
    url: str = Field(description="The debate's document on the HTTP API.")


class Verification(BaseModel):
    """What ``verify_receipt`` answers."""

    valid: bool
    receipt_id: str
    digest: str | None
    key_id: str | None
    issuer: str | None
    problems: list[str]
    debate_id: str | None = None
    chain_position: int | None = None


def _tool_error(exc: AragoraError) -> ToolError:
    return ToolError(exc.message)


def _request_of(ctx: ToolContext) -> HTTPConnection | None:
    request = ctx.request_context.request
    return request if isinstance(request, HTTPConnection) else None


def _progress_message(frame: Frame) -> str:
    data = orjson.loads(frame.text)
    parts = [frame.type.replace("_", " ")]
    if data.get("agent"):
        parts.append(f"by {data['agent']}")
    if data.get("round") is not None:
        parts.append(f"(round {data['round']})")
    return " ".join(parts)


def deliberation_of(document: Mapping[str, Any]) -> Deliberation:
    """The ``deliberate`` answer for a settled debate document."""
    outcome = outcome_of(document)
    receipt = None
    if outcome.receipt is not None:
        receipt = ReceiptLink(
            id=str(outcome.receipt.get("id")),
            digest=outcome.receipt.get("digest"),
            url=outcome.receipt.get("url"),
            odr_url=outcome.receipt.get("odr_url"),
            resource=receipt_uri(outcome.debate_id),
        )
    return Deliberation(
        debate_id=outcome.debate_id,
        status=outcome.status,
        decided=outcome.decided,
        verdict=outcome.verdict,
        answer=outcome.verdict if outcome.verdict is not None else no_decision_text(outcome),
        confidence=outcome.confidence,
        consensus_reached=outcome.consensus_reached,
        outcome=outcome.outcome,
        reason=outcome.reason,
        dissent=[
            Stance(
                agent=str(p.get("agent")),
                final_position=str(p.get("final_position") or ""),
                reasons=str(p.get("reasons") or ""),
                changed_mind=bool(p.get("changed_mind")),
            )
            for p in outcome.dissent
        ],
        cost=Cost(
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            tokens=outcome.total_tokens,
            usd=outcome.cost_usd,
        ),
        receipt=receipt,
        transcript=transcript_uri(outcome.debate_id),
        url=debate_path(outcome.debate_id),
    )


def build_mcp_server(backend_of: Callable[[], McpBackend]) -> MCPServer[Any]:
    """The MCP server; each call resolves its services through ``backend_of`` (the server's
    node exists only once the app has started)."""
    server: MCPServer[Any] = MCPServer(
        "aragora", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool(
        description="Put a task to a panel of LLM agents (propose, critique, revise, vote) "
        "and wait for the verdict, its confidence, the dissent, the cost, the debate id and "
        "its receipt. Reports progress while the agents deliberate."
    )
    async def deliberate(
        task: Annotated[str, Field(description="The question or task for the panel.")],
        ctx: ToolContext,
        agents: Annotated[
            list[str] | None,
            Field(
                description="Agent specs, e.g. ['anthropic:claude-sonnet-4-5', "
                "'openai:gpt-4o']; default: the operator's ARAGORA_DEFAULT_AGENTS."
            ),
        ] = None,
        mode: Annotated[
            Mode | None, Field(description="auto (default), debate, vote or single.")
        ] = None,
        rounds: Annotated[int | None, Field(ge=1, le=20, description="At most this many.")] = None,
        context: Annotated[str | None, Field(description="Background for the task.")] = None,
    ) -> Deliberation:
        body: dict[str, Any] = {"task": task}
        for name, value in (
            ("agents", agents),
            ("mode", mode),
            ("rounds", rounds),
            ("context", context),
        ):
            if value is not None:
                body[name] = value
        seen = 0

        async def report(frame: Frame) -> None:
            nonlocal seen
            if frame.seq is None:  # token deltas: too many to report
                return
            seen += 1
            await ctx.report_progress(seen, None, _progress_message(frame))

        try:
            backend = backend_of()
            await backend.may_start(_request_of(ctx))
            created = await backend.service.create(body)
            debate_id = str(created["debate_id"])
            if backend.on_created is not None:
                backend.on_created(debate_id)
            document = await follow_debate(backend.service, debate_id, on_frame=report)
        except AragoraError as exc:
            raise _tool_error(exc) from exc
        return deliberation_of(document)

    @server.tool(
        description="A debate's document without its messages (read those from "
        "its transcript resource): status, verdict, votes, dissent, cost, receipt."
    )
    async def get_debate(
        debate_id: Annotated[str, Field(min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        try:
            document = await backend_of().service.get(debate_id)
        except AragoraError as exc:
            raise _tool_error(exc) from exc
        brief = {k: v for k, v in document.items() if k != "messages"}
        brief["message_count"] = len(document.get("messages") or ())
        brief["transcript"] = transcript_uri(debate_id)
        return brief

    @server.tool(description="Debates, newest first, optionally by status or task text.")
    async def list_debates(
        status: Status | None = None,
        query: Annotated[
            str | None, Field(max_length=500, description="Only tasks containing this.")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        try:
            page = await backend_of().service.list(
                status=status, query=query, limit=limit, offset=offset
            )
        except AragoraError as exc:
            raise _tool_error(exc) from exc
        return {k: v for k, v in page.items() if k != "items"}  # "items" repeats "debates"

    @server.tool(description="Search the knowledge base of past decisions and notes.")
    async def search_knowledge(
        query: Annotated[str, Field(max_length=1000, description="Words to look for.")],
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
    ) -> dict[str, Any]:
        try:
            return await backend_of().knowledge.search(query, limit=limit)
        except AragoraError as exc:
            raise _tool_error(exc) from exc

    @server.tool(
        name="verify_receipt",
        description="Check a decision receipt's digest and Ed25519 signature against this "
        "deployment's published keys. Name a stored receipt by receipt_id or debate_id, or "
        "pass a receipt document (ODR JSON) itself.",
    )
    async def verify_receipt_tool(
        receipt_id: str | None = None,
        debate_id: str | None = None,
        receipt: dict[str, Any] | None = None,
    ) -> Verification:
        given = [v for v in (receipt_id, debate_id, receipt) if v is not None]
        if len(given) != 1:
            raise ToolError("give exactly one of receipt_id, debate_id or receipt")
        receipts = backend_of().receipts
        stored = None
        try:
            if receipt_id is not None:
                stored = await receipts.get(receipt_id)
            elif debate_id is not None:
                stored = await receipts.for_debate(debate_id)
            keys = {key.key_id: key for key in await receipts.public_keys()}
        except AragoraError as exc:
            raise _tool_error(exc) from exc
        document: object = stored.document if stored is not None else receipt
        if isinstance(document, Mapping) and isinstance(document.get("odr"), Mapping):
            document = document["odr"]  # the API's envelope
        result = verify_receipt(document, keys)
        problems = list(result.problems)
        if stored is not None and result.digest != stored.digest:
            problems.append("the receipt's digest differs from the one recorded in the chain")
        return Verification(
            valid=result.ok and not problems,
            receipt_id=result.receipt_id,
            digest=result.digest,
            key_id=result.key_id,
            issuer=result.issuer,
            problems=problems,
            debate_id=stored.debate_id if stored is not None else None,
            chain_position=stored.position if stored is not None else None,
        )

    @server.resource(
        "aragora://debates/{debate_id}/transcript",
        name="transcript",
        description="A debate's transcript: task, every message in order, the outcome.",
        mime_type="text/markdown",
    )
    async def transcript(debate_id: str) -> str:
        try:
            return render_transcript(await backend_of().service.get(debate_id))
        except NotFoundError as exc:
            raise ResourceNotFoundError(exc.message) from exc
        except AragoraError as exc:
            raise ResourceError(exc.message) from exc

    @server.resource(
        "aragora://debates/{debate_id}/receipt",
        name="receipt",
        description="A completed debate's signed decision receipt (Open Decision Receipt "
        "v0.2 under 'odr', with its chain position and links).",
        mime_type="application/json",
    )
    async def receipt_resource(debate_id: str) -> str:
        try:
            stored = await backend_of().receipts.for_debate(debate_id)
        except NotFoundError as exc:
            raise ResourceNotFoundError(exc.message) from exc
        except AragoraError as exc:
            raise ResourceError(exc.message) from exc
        return orjson.dumps(envelope(stored)).decode("utf-8")

    return server
