"""The web UI at ``/``: the built single-page app (``web/`` in the repository), served
from files.

    mount(app)               # the build found by find_build(), or a page saying how to build it
    mount(app, root=path)    # a given build directory (tests, another build)

What it answers, when no route of the app matches (it is the router's fallback):

- ``/`` and the app's client routes (``/debates``, ``/debates/{id}``, ``/knowledge``,
  ``/knowledge/{id}``, ``/leaderboard``, ``/evals``, ``/evals/{name}``, ``/admin``, anything
  below them): ``index.html``,
  never cached (``no-cache``), so a new release is picked up on the next load;
- ``/assets/...``: the build's content-hashed files, cached for a year (``immutable``); a
  precompressed ``.gz`` twin is sent to clients that accept gzip;
- other files at the top of the build (``favicon.svg``): cached for an hour;
- any other GET a browser navigates to (``Accept: text/html``): ``index.html`` with status
  404, so the app shows its own "not found" page;
- everything else, and anything under the API's prefixes (``/api``, ``/ws``, ``/v1``,
  ``/.well-known``, ...): the JSON 404 of the rest of the API, unchanged.

Every app page carries :data:`APP_CSP`: scripts, styles, images, fonts and connections from
this origin only (no CDN; fonts and icons are bundled).
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path, PurePosixPath

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "APP_CSP",
    "APP_ROUTES",
    "ASSET_CACHE",
    "PAGE_CACHE",
    "RESERVED_PREFIXES",
    "WebBuild",
    "find_build",
    "mount",
]

APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of the app's pages and files: this origin only.
``connect-src 'self'`` covers the same-origin WebSocket; ``data:`` images are the icons
the stylesheet inlines."""

ASSET_CACHE = "public, max-age=31536000, immutable"
"""Hashed assets: their name changes whenever their content does."""
PAGE_CACHE = "no-cache"
"""``index.html``: always revalidated, so it always names the current assets."""
_FILE_CACHE = "public, max-age=3600"

APP_ROUTES = ("debates", "knowledge", "leaderboard", "evals", "admin")
"""First path segments that belong to the app (besides ``/`` itself)."""

RESERVED_PREFIXES = (
    "api",
    "ws",
    "v1",
    "mcp",
    "docs",
    "metrics",
    "healthz",
    "readyz",
    "openapi.json",
    ".well-known",
)
"""First path segments that belong to the API: an unknown path there is a JSON 404."""

_NOT_BUILT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aragora</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1>Aragora</h1>
<p>The API is running, but the web UI has not been built in this checkout.</p>
<p>Build it with <code>./scripts/demo</code> (it builds the UI when its sources change) or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reload.</p>
<p>The API reference is at <a href="/docs">/docs</a>.</p></body></html>
"""

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


@dataclass(frozen=True, slots=True)
class WebBuild:
    """A built UI: a directory holding ``index.html`` and ``assets/``."""

    root: Path

    @property
    def index(self) -> Path:
        return self.root / "index.html"

    def file(self, relative: str) -> Path | None:
        """The regular file at ``relative`` inside the build, or ``None`` (also for any
        path that would leave the build directory)."""
        parts = PurePosixPath(relative).parts
        if not parts or any(part in ("", ".", "..") or "\\" in part for part in parts):
            return None
        path = self.root.joinpath(*parts)
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not resolved.is_relative_to(self.root.resolve()) or not resolved.is_file():
            return None
        return resolved


def find_build() -> WebBuild | None:
    """The UI build this installation serves: the one packaged inside ``aragora.server``
    (``webui/``, put there by the wheel and sdist build), else the checkout's
    ``web/dist`` when running from a source tree; ``None`` when neither has an
    ``index.html``."""
    packaged = Path(str(files("aragora.server").joinpath("webui")))
    checkout = Path(__file__).resolve().parents[3] / "web" / "dist"
    for root in (packaged, checkout):
        if (root / "index.html").is_file():
            return WebBuild(root)
    return None


@cache
def _read(path: Path, mtime_ns: int) -> bytes:
    # Keyed by mtime too, so a rebuild under a running server is served fresh.
    return path.read_bytes()


def _content(path: Path) -> bytes:
    return _read(path, path.stat().st_mtime_ns)


def _media_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _headers(cache_control: str) -> dict[str, str]:
    return {"Cache-Control": cache_control, "Content-Security-Policy": APP_CSP}


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def _file_response(request: Request, path: Path, cache_control: str) -> Response:
    headers = _headers(cache_control)
    headers["Vary"] = "Accept-Encoding"
    zipped = path.with_name(path.name + ".gz")
    body_path = path
    if _accepts_gzip(request) and zipped.is_file():
        headers["Content-Encoding"] = "gzip"
        body_path = zipped
    body = b"" if request.method == "HEAD" else _content(body_path)
    response = Response(body, media_type=_media_type(path), headers=headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(body_path.stat().st_size)
    return response


def _page(request: Request, build: WebBuild | None, status: int) -> Response:
    body = _NOT_BUILT if build is None else _content(build.index)
    response = Response(
        b"" if request.method == "HEAD" else body,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers=_headers(PAGE_CACHE),
    )
    if request.method == "HEAD":
        response.headers["Content-Length"] = str(len(body))
    return response


def _not_found() -> HTTPException:
    # The app's error handler turns this into the API's JSON 404 ("no such route: ...").
    return HTTPException(status_code=404)


def _reserved(path: str) -> bool:
    return path.lstrip("/").split("/", 1)[0] in RESERVED_PREFIXES


def mount(app: FastAPI, root: Path | None = None) -> None:
    """Serve the UI build at ``root`` (default :func:`find_build`) from ``app``.

    The UI is the router's fallback, not a route: it answers only requests that no route
    of the app matches (also routes added after this call), so an unknown API path is
    still the API's 404 and a wrong method on a route still its 405. Without a build (no
    ``index.html`` there), the app's pages explain how to build the UI."""
    build = find_build() if root is None else WebBuild(root)
    if build is not None and not build.index.is_file():
        build = None
    fallback = app.router.default

    async def serve(request: Request) -> Response:
        raw = str(request.scope["path"])
        if raw.startswith("//"):
            # "//host/...": no route of the app, and a reader could take it for another
            # origin; request.url would even parse it as one (path "/").
            raise _not_found()
        path = raw.lstrip("/")
        first = path.split("/", 1)[0]
        if first == "assets":
            found = build.file(path) if build is not None else None
            if found is None:
                raise _not_found()
            return _file_response(request, found, ASSET_CACHE)
        if path in ("", "index.html") or first in APP_ROUTES:
            return _page(request, build, 200)
        if "/" not in path and build is not None:
            found = build.file(path)
            if found is not None:
                return _file_response(request, found, _FILE_CACHE)
        if "text/html" in request.headers.get("accept", ""):
            return _page(request, build, 404)
        raise _not_found()

    async def default(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or _reserved(scope["path"])
        ):
            await fallback(scope, receive, send)
            return
        response = await serve(Request(scope, receive))
        await response(scope, receive, send)

    app.router.default = default
