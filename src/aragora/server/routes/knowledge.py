"""The Knowledge Mound: export and import (admin, as the runbook calls them), search, read,
notes and delete for the UI.

``POST /knowledge/import`` reads its body as JSON whatever the ``Content-Type``:
``curl -d @knowledge_backup.json`` (the runbook) sends
``application/x-www-form-urlencoded`` and strips line breaks, which leaves the JSON intact.
Its body limit is :data:`IMPORT_MAX_BODY_BYTES`, not ``ARAGORA_MAX_BODY_BYTES`` (see
:data:`BODY_LIMITS`): a backup is one document and grows with the knowledge base.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection
from starlette.responses import Response, StreamingResponse

from aragora.errors import InvalidInputError
from aragora.knowledge.service import KnowledgeService
from aragora.server.auth import AdminAccess, ReadAccess, WriteAccess
from aragora.server.responses import json_response
from aragora.server.routes import errors
from aragora.server.schemas import ErrorBody
from aragora.server.state import app_state

__all__ = ["BODY_LIMITS", "IMPORT_MAX_BODY_BYTES", "router"]

IMPORT_MAX_BODY_BYTES = 512 * 1024 * 1024
"""Largest backup ``POST /knowledge/import`` accepts (about a million items)."""
BODY_LIMITS = {
    f"{prefix}/knowledge/import": IMPORT_MAX_BODY_BYTES for prefix in ("/api/v1", "/api")
}
"""Per-path body limits for :class:`~aragora.server.middleware.RequestHygiene`."""
_SPOOL_IN_MEMORY = 1024 * 1024  # an import body larger than this goes to a temporary file

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

ItemId = Annotated[str, Path(min_length=1, max_length=200, description="The item's id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such item."}
}


async def _knowledge(connection: HTTPConnection) -> KnowledgeService:
    return app_state(connection).ready_node().services.knowledge


KnowledgeDep = Annotated[KnowledgeService, Depends(_knowledge)]


# --- wire models (documentation of the service's documents) --------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ItemSource(BaseModel):
    debate_id: str | None = None
    agent: str | None = None


class ItemLink(BaseModel):
    kind: Literal["supports", "contradicts", "supersedes"]
    target: str
    created_at: str | None = None


class KnowledgeItemBody(_Open):
    """One item as exported: its outgoing ``links``; reads add incoming ``backlinks``."""

    id: str
    kind: Literal["decision", "claim", "dissent", "evidence", "note"]
    title: str
    content: str
    source: ItemSource
    confidence: float | None
    tags: list[str]
    created_at: str = Field(description="ISO 8601, UTC, microseconds.")
    updated_at: str
    provenance: dict[str, Any]
    links: list[ItemLink]


class ExportDocument(BaseModel):
    """The backup document (CONTRACT.md): one JSON object, never NDJSON."""

    format: Literal["aragora.knowledge"]
    version: Literal[1]
    exported_at: str
    count: int
    items: list[KnowledgeItemBody]


class ImportBody(BaseModel):
    imported: int = Field(description="Items written (new or changed).")
    unchanged: int = Field(description="Items already stored exactly so.")
    count: int = Field(description="Items in the knowledge base now.")


class SearchHitBody(_Open):
    id: str
    kind: str
    title: str
    score: float
    snippet: str = Field(description="Matching text, matches marked <mark>…</mark>.")


class SearchBody(BaseModel):
    query: str
    results: list[SearchHitBody]
    total: int


class NoteRequest(BaseModel):
    """A note written by a person; ``links`` go from the note to existing items."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    content: str = Field(default="", max_length=100_000)
    tags: list[str] = Field(default_factory=list, max_length=32)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    links: list[ItemLink] = Field(default_factory=list, max_length=100)


class DeletedBody(BaseModel):
    deleted: str


# --- routes ---------------------------------------------------------------------------------
_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ExportDocument, "description": "The backup document, streamed."},
    **errors(401, 403, 503),
}


async def _export(service: KnowledgeService) -> Response:
    chunks = service.export()
    first = await anext(chunks)  # the scans have started: a database error is a 503 here

    async def body() -> Any:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="knowledge_backup.json"'},
    )


@router.post(
    "/export",
    summary="Export the knowledge base (backup)",
    response_model=None,
    responses=_EXPORT_RESPONSES,
)
async def export_knowledge(service: KnowledgeDep, _: AdminAccess) -> Response:
    """Every item with its outgoing links as one JSON document, streamed (memory stays
    flat however large the knowledge base). Restore it with ``POST /knowledge/import``."""
    return await _export(service)


@router.get(
    "/export",
    summary="Export the knowledge base",
    response_model=None,
    responses={**_EXPORT_RESPONSES, **errors(422)},
)
async def get_export(
    service: KnowledgeDep,
    _: AdminAccess,
    format: Annotated[Literal["json"], Query(description="Only `json`.")] = "json",
) -> Response:
    """The same document as ``POST /knowledge/export`` (the SDK's call)."""
    return await _export(service)


@router.post(
    "/import",
    response_model=ImportBody,
    summary="Import (restore) a knowledge export",
    responses=errors(400, 401, 403, 413, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ExportDocument"}}
            },
        }
    },
)
async def import_knowledge(request: Request, service: KnowledgeDep, _: AdminAccess) -> Response:
    """Store every item of an export document, all or nothing; the body is read as JSON
    whatever its ``Content-Type`` (``curl -d @file`` works). Items already stored as they
    are stay unchanged, so importing twice changes nothing. 400 names the first bad item
    and nothing is imported."""
    # Spooled to a file as it arrives (a backup can be hundreds of megabytes) and parsed
    # from there item by item: memory never holds the whole document.
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        blank = True
        async for chunk in request.stream():
            spool.write(chunk)
            blank = blank and not chunk.strip()
        if blank:
            raise InvalidInputError("the body must be a knowledge export document")
        spool.seek(0)
        return json_response(await service.import_document(spool))


@router.get(
    "/search",
    response_model=SearchBody,
    summary="Search the knowledge base",
    responses=errors(400, 401, 403, 422),
)
async def search_knowledge(
    service: KnowledgeDep,
    _: ReadAccess,
    q: Annotated[str, Query(max_length=1000, description="Words to look for.")] = "",
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many (1..100).")] = 10,
    kind: Annotated[list[str] | None, Query(description="Only items of these kinds.")] = None,
    tag: Annotated[list[str] | None, Query(description="Only items with all these tags.")] = None,
) -> Response:
    """Items matching ``q``, best first, with a relevance score and a snippet."""
    return json_response(await service.search(q, limit=limit, kinds=kind or (), tags=tag or ()))


@router.get(
    "/items/{item_id}",
    response_model=KnowledgeItemBody,
    summary="Get a knowledge item",
    responses={**errors(401, 403), **_NOT_FOUND},
)
async def get_item(item_id: ItemId, service: KnowledgeDep, _: ReadAccess) -> Response:
    """The item, its outgoing ``links`` and incoming ``backlinks``."""
    return json_response(await service.get(item_id))


@router.post(
    "/items",
    status_code=201,
    response_model=KnowledgeItemBody,
    summary="Write a note",
    responses=errors(400, 401, 403, 422),
)
async def create_note(note: NoteRequest, service: KnowledgeDep, who: WriteAccess) -> Response:
    """Store a note (kind ``note``) written by a person; 201 with the stored item."""
    created = await service.create_note(
        title=note.title,
        content=note.content,
        tags=note.tags,
        confidence=note.confidence,
        links=[(link.kind, link.target) for link in note.links],
        author=who.name if who is not None else None,
    )
    return json_response(created, 201)


@router.delete(
    "/items/{item_id}",
    response_model=DeletedBody,
    summary="Delete a knowledge item",
    responses={**errors(401, 403), **_NOT_FOUND},
)
async def delete_item(item_id: ItemId, service: KnowledgeDep, _: AdminAccess) -> Response:
    """Remove the item and every link from or to it (admin)."""
    return json_response(await service.delete(item_id))
