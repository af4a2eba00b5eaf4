"""A small API reference page at ``/docs``, served from local files: it fetches
``/openapi.json`` and lists the operations. No CDN, no external script; its
Content-Security-Policy allows only this origin."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from starlette.responses import Response

__all__ = ["DOCS_CSP", "router"]

DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)

_TYPES = {
    "docs.html": "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "docs.css": "text/css; charset=utf-8",
}


@cache
def _asset(name: str) -> bytes:
    return files("aragora.server").joinpath("static", name).read_bytes()


def _serve(name: str) -> Response:
    headers = {"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"}
    return Response(_asset(name), media_type=_TYPES[name], headers=headers)


@router.get("/docs")
async def docs_page() -> Response:
    """The reference page."""
    return _serve("docs.html")


@router.get("/docs/docs.js")
async def docs_script() -> Response:
    """The page's script."""
    return _serve("docs.js")


@router.get("/docs/docs.css")
async def docs_style() -> Response:
    """The page's style sheet."""
    return _serve("docs.css")
