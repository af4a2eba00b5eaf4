"""Decision receipts: a debate's receipt, a receipt by id and its exports, the chain, and
the public keys that verify them.

``router`` holds ``GET /debates/{id}/receipt`` (mounted under ``/api/v1`` and ``/api``);
``root`` holds the routes whose paths CONTRACT.md fixes outside that scheme
(``/api/v2/receipts/...`` and ``/.well-known/aragora-odr-signing-key``), mounted as they
are. Receipts need read access like debates; the signing keys are public, since anyone
holding a receipt must be able to check it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query
from starlette.requests import HTTPConnection
from starlette.responses import Response

from aragora.receipts.chain import link_of
from aragora.receipts.render import render_html, render_markdown
from aragora.receipts.service import ReceiptService, envelope
from aragora.server.auth import ReadAccess
from aragora.server.responses import json_response
from aragora.server.routes import MAX_INT, errors
from aragora.server.state import app_state

__all__ = ["root", "router"]

router = APIRouter(tags=["receipts"])
root = APIRouter(tags=["receipts"])

_HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


async def _receipts(connection: HTTPConnection) -> ReceiptService:
    return app_state(connection).ready_node().services.receipts


ReceiptsDep = Annotated[ReceiptService, Depends(_receipts)]
DebateId = Annotated[str, Path(min_length=1, max_length=200, description="The debate's id.")]
ReceiptId = Annotated[str, Path(min_length=1, max_length=100, description="The receipt's id.")]
KeyId = Annotated[
    str | None, Query(max_length=100, description="A published key's id (default: current).")
]


@router.get(
    "/debates/{debate_id}/receipt",
    summary="A debate's receipt",
    responses=errors(401, 403, 404),
)
async def debate_receipt(debate_id: DebateId, receipts: ReceiptsDep, _: ReadAccess) -> Response:
    """The signed Open Decision Receipt of a completed debate (under ``odr``), its place in
    the chain and links to its exports; 404 until the debate has completed and its
    receipt is issued (just after the status turns ``completed``: the document says
    ``followups_pending`` until then)."""
    return json_response(envelope(await receipts.for_debate(debate_id)))


@root.get("/api/v2/receipts/signing-key", summary="The receipt signing key", responses=errors(404))
async def signing_key(receipts: ReceiptsDep, key_id: KeyId = None) -> Response:
    """``{"algorithm", "key_id", "public_key_pem"}`` of the current key, or of an earlier
    one by ``key_id`` (keys stay published after a rotation). No token needed."""
    await receipts.publish_key()
    return json_response((await receipts.public_key(key_id)).to_dict())


@root.get("/api/v2/receipts/signing-keys", summary="Every receipt signing key")
async def signing_keys(receipts: ReceiptsDep) -> Response:
    """Every key that ever signed a receipt here, oldest first, and the current one."""
    keys = [key.to_dict() for key in await receipts.public_keys()]
    return json_response({"keys": keys, "current": receipts.key.key_id})


_PEM = "application/x-pem-file"
_NDJSON = "application/x-ndjson"
_TEXT_SCHEMA: dict[str, Any] = {"schema": {"type": "string"}}
_PEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The public key, PEM.", "content": {_PEM: _TEXT_SCHEMA}}
}
_CHAIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`json`: `{links, next_after}`; `jsonl`: one link a line.",
        "content": {"application/json": {"schema": {"type": "object"}}, _NDJSON: _TEXT_SCHEMA},
    }
}
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`odr` and `json`: JSON; `md`/`markdown`: Markdown; `html`: a page.",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/markdown": _TEXT_SCHEMA,
            "text/html": _TEXT_SCHEMA,
        },
    }
}


class _PemResponse(Response):
    media_type = _PEM


@root.get(
    "/.well-known/aragora-odr-signing-key",
    summary="The receipt signing key (PEM)",
    response_class=_PemResponse,
    responses={**_PEM_RESPONSES, **errors(404)},
)
async def well_known_key(receipts: ReceiptsDep, key_id: KeyId = None) -> Response:
    """The current (or ``key_id``) public key as PEM, for ``aragora-verify --pubkey``."""
    await receipts.publish_key()
    key = await receipts.public_key(key_id)
    return _PemResponse(key.pem)


@root.get(
    "/api/v2/receipts/chain",
    summary="The receipt chain",
    responses={**_CHAIN_RESPONSES, **errors(401, 403)},
)
async def chain(
    receipts: ReceiptsDep,
    _: ReadAccess,
    after: Annotated[int, Query(ge=0, le=MAX_INT, description="Links after this position.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    format: Annotated[Literal["json", "jsonl"], Query(description="jsonl: one link a line.")] = (
        "json"
    ),
) -> Response:
    """Receipts in issue order with their digests and previous digests (``hash`` and
    ``prev_hash``, as ``aragora-verify --chain`` reads them) and the receipt itself."""
    links = [link_of(stored).to_line() for stored in await receipts.chain(after=after, limit=limit)]
    if format == "jsonl":
        return Response(_jsonl(links), media_type=_NDJSON)
    next_after = links[-1]["position"] if len(links) == limit else None
    return json_response({"links": links, "next_after": next_after})


@root.get(
    "/api/v2/receipts/chain/verify",
    summary="Verify the receipt chain",
    responses=errors(401, 403),
)
async def verify_chain(receipts: ReceiptsDep, _: ReadAccess) -> Response:
    """Walk the stored chain: every link follows the one before, every receipt hashes to
    its digest and verifies under a published key. ``{"valid", "length", "head",
    "problems"}``."""
    return json_response((await receipts.verify_chain()).to_dict())


@root.get("/api/v2/receipts/{receipt_id}", summary="A receipt", responses=errors(401, 403))
async def get_receipt(receipt_id: ReceiptId, receipts: ReceiptsDep, _: ReadAccess) -> Response:
    """The receipt (the signed ODR document under ``odr``) with its chain place and links."""
    return json_response(envelope(await receipts.get(receipt_id)))


@root.get(
    "/api/v2/receipts/{receipt_id}/export",
    summary="Export a receipt",
    responses={**_EXPORT_RESPONSES, **errors(401, 403)},
)
async def export_receipt(
    receipt_id: ReceiptId,
    receipts: ReceiptsDep,
    _: ReadAccess,
    format: Annotated[
        Literal["odr", "json", "md", "markdown", "html"],
        Query(description="odr: the signed document alone; md or html: for people."),
    ] = "odr",
) -> Response:
    """``odr`` is exactly the signed document ``aragora-verify`` checks; ``json`` the
    envelope of ``GET /api/v2/receipts/{id}``; ``md`` and ``html`` readable renderings."""
    stored = await receipts.get(receipt_id)
    chain_place = {"position": stored.position, "previous_digest": stored.previous_digest}
    if format == "odr":
        return json_response(dict(stored.document))
    if format == "json":
        return json_response(envelope(stored))
    if format == "html":
        return Response(
            render_html(stored.document, chain=chain_place),
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": _HTML_CSP},
        )
    return Response(
        render_markdown(stored.document, chain=chain_place),
        media_type="text/markdown; charset=utf-8",
    )


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)
