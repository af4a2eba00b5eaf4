"""The OpenAI-compatible routes: ``POST /chat/completions``, ``GET /models`` and
``GET /models/{model}``, mounted under ``/v1`` (documented) and ``/api/v1/openai`` (and
``/api/openai``), so any OpenAI client can put a question to a panel.

Same access rules as the rest of the API: a completion starts a debate, so it needs write
access and counts against the debate start limit, like ``POST /api/v1/debates``; the model
list needs read access. An OpenAI client sends its ``api_key`` as the bearer token. Errors
are OpenAI's shape (:mod:`aragora.server.openai_errors`).

A completion waits for the debate to end. With ``stream: true`` the response starts at once:
a first chunk with the assistant role, an SSE comment line per debate event (and every
:data:`KEEPALIVE_SECONDS` at least) while the panel deliberates, then the verdict in
word-sized deltas, a last chunk with ``finish_reason`` and the ``aragora`` extension, the
usage chunk when ``stream_options.include_usage`` is set, and ``data: [DONE]``. A client that
goes away cancels its debate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.requests import HTTPConnection
from starlette.responses import Response, StreamingResponse

from aragora.errors import AragoraError, UnavailableError, UserError
from aragora.integrations.openai.chat import (
    EXTENSION,
    ChatRequest,
    answer_of,
    chunk,
    completion,
    parse_chat,
    usage_of,
    verdict_pieces,
)
from aragora.integrations.openai.panels import Panels
from aragora.integrations.outcome import outcome_of
from aragora.logs import log_event
from aragora.runtime.bus import Frame
from aragora.runtime.follow import follow_debate
from aragora.runtime.service import DebateService
from aragora.server.auth import ReadAccess, WriteAccess
from aragora.server.errors import INTERNAL_MESSAGE
from aragora.server.openai_errors import openai_error
from aragora.server.openai_schemas import (
    ChatCompletion,
    ChatCompletionRequest,
    ModelList,
    ModelObject,
    OpenAIErrorBody,
)
from aragora.server.responses import json_response
from aragora.server.state import ServiceDep
from aragora.server.throttling import DebateStartLimit

__all__ = ["KEEPALIVE_SECONDS", "PANELS_KEY", "openai_errors", "router"]

router = APIRouter(tags=["openai"])
logger = logging.getLogger("aragora.server")

PANELS_KEY = "openai_panels"
"""Where the app keeps its :class:`Panels` (``app.state.openai_panels``)."""
KEEPALIVE_SECONDS = 10.0
"""Longest silence on a streamed completion while the panel deliberates."""

_ERROR_DESCRIPTIONS = {
    400: "Invalid request (OpenAI's `invalid_request_error`).",
    401: "Missing or invalid bearer token (the client's api_key).",
    403: "The token's role may not do this.",
    404: "No such model (code `model_not_found`).",
    413: "The request body is too large.",
    429: "Too many requests or debates; see Retry-After.",
    503: "Unavailable for now (maintenance, draining); see Retry-After.",
}


def openai_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these statuses, each OpenAI's error body."""
    return {
        status: {"model": OpenAIErrorBody, "description": _ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


async def _panels(connection: HTTPConnection) -> Panels:
    panels = getattr(connection.app.state, PANELS_KEY, None)
    if not isinstance(panels, Panels):
        raise UnavailableError("the OpenAI-compatible API is not configured", retry_after=5)
    return panels


PanelsDep = Annotated[Panels, Depends(_panels)]
ModelName = Annotated[str, Path(min_length=1, max_length=200, description="A model's id.")]

_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Ask a panel (OpenAI-compatible chat completion)",
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **openai_errors(400, 401, 403, 404, 413, 429, 503),
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    service: ServiceDep,
    panels: PanelsDep,
    _: WriteAccess,
    __: DebateStartLimit,
) -> Response:
    """The last user message is put to the panel the model names; the answer is its
    verdict (or says that no decision was reached), with the debate under ``aragora``."""
    chat = parse_chat(body.model_dump(mode="json", exclude_unset=True))
    panel = panels.resolve(chat.model)
    created = await service.create(
        panel.body(chat.task, chat.context), operator_agents=panel.agents is not None
    )
    debate_id = str(created["debate_id"])
    now = int(time.time())
    if chat.stream:
        return StreamingResponse(
            _stream(service, debate_id, chat, now),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    document = await follow_debate(service, debate_id)
    return json_response(completion(outcome_of(document), model=chat.model, created=now))


@router.get(
    "/models",
    response_model=ModelList,
    summary="The panels offered as models",
    responses=openai_errors(401, 403),
)
async def list_models(panels: PanelsDep, _: ReadAccess) -> Response:
    """``aragora/auto``, ``aragora/debate``, ``aragora/vote`` and the operator's panels
    (``ARAGORA_PANELS``), each with its agents and mode under ``aragora``."""
    return json_response(panels.listing())


@router.get(
    "/models/{model:path}",
    response_model=ModelObject,
    summary="One panel offered as a model",
    responses=openai_errors(401, 403, 404),
)
async def get_model(model: ModelName, panels: PanelsDep, _: ReadAccess) -> Response:
    """The model object of one panel (404 ``model_not_found`` for another name)."""
    return json_response(panels.describe(panels.resolve(model)))


def _data(body: object) -> bytes:
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _comment(frame: Frame) -> bytes:
    data = orjson.loads(frame.text)
    words = [frame.type]
    if data.get("agent"):
        words.append(str(data["agent"]))
    if data.get("round") is not None:
        words.append(f"round {data['round']}")
    return (": " + " ".join(words).replace("\n", " ") + "\n\n").encode()


async def _stream(
    service: DebateService, debate_id: str, chat: ChatRequest, created: int
) -> AsyncIterator[bytes]:
    common: dict[str, Any] = {
        "model": chat.model,
        "created": created,
        "include_usage": chat.include_usage,
    }
    yield _data(chunk(debate_id, delta={"role": "assistant", "content": ""}, **common))
    frames: asyncio.Queue[Frame] = asyncio.Queue()

    async def on_frame(frame: Frame) -> None:
        if frame.seq is not None:  # stored events only: token deltas are not the verdict
            frames.put_nowait(frame)

    following = asyncio.create_task(follow_debate(service, debate_id, on_frame=on_frame))
    try:
        while not following.done() or not frames.empty():
            getting = asyncio.ensure_future(frames.get())
            done, _ = await asyncio.wait(
                {getting, following}, timeout=KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
            if getting in done:
                yield _comment(getting.result())
                continue
            getting.cancel()
            if not done:
                yield b": deliberating\n\n"
        document = following.result()
    except AragoraError as exc:
        status = 400 if isinstance(exc, UserError) else 503
        yield _data(openai_error(status, exc.message, exc.code))
        yield b"data: [DONE]\n\n"
        return
    except Exception as exc:  # the response has started: the error can only be a chunk
        log_event(logger, "openai_stream_failed", logging.ERROR, exc_info=exc, debate_id=debate_id)
        yield _data(openai_error(500, INTERNAL_MESSAGE, "internal_error"))
        yield b"data: [DONE]\n\n"
        return
    finally:
        if not following.done():  # the client went away: stop following (cancels the debate)
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
    outcome = outcome_of(document)
    content, finish_reason = answer_of(outcome)
    for piece in verdict_pieces(content):
        yield _data(chunk(debate_id, delta={"content": piece}, **common))
    yield _data(
        chunk(
            debate_id,
            finish_reason=finish_reason,
            extra={EXTENSION: outcome.summary()},
            **common,
        )
    )
    if chat.include_usage:
        usage = {
            **chunk(debate_id, model=chat.model, created=created),
            "choices": [],
            "usage": usage_of(outcome),
        }
        yield _data(usage)
    yield b"data: [DONE]\n\n"
