"""Serves the built PWA (pwa/dist) at / with an SPA fallback.

Litestar's static files router serves files but has no SPA fallback and one cache policy per router;
a PWA needs three: the service worker and index.html must never be cached (or an update never
arrives), hashed assets can be cached forever.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import File

from backend.core.errors import NotFound

NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
_NO_CACHE_FILES = {"sw.js", "index.html", "manifest.webmanifest", "registerSW.js"}


def _cache_policy(relative: str) -> str:
    if relative in _NO_CACHE_FILES or relative.endswith(".html"):
        return NO_CACHE
    if relative.startswith("assets/"):
        return IMMUTABLE
    return SHORT


def _media_type(path: Path) -> str:
    if path.suffix == ".webmanifest":
        return "application/manifest+json"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def make_pwa_handler(dist: Path):
    root = dist.resolve()

    @get(["/", "/{path:path}"], exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
    def serve_pwa(request: Request, path: FromPath[str] = "") -> File | Response:
        relative = path.lstrip("/")
        if relative == "api" or relative.startswith("api/"):
            raise NotFound()
        if ".." in relative.split("/") or any(ord(c) < 32 for c in relative):
            # Climbing out of the build (an encoded ../) or a control character: no such file, and
            # not a route of the app either.
            raise NotFound()
        index = root / "index.html"
        target = (root / relative).resolve() if relative else index
        if not target.is_relative_to(root) or not target.is_file():
            # Client-side routes (/cases/…, /map) get the app shell; missing assets are 404.
            if relative.startswith("assets/") or "." in Path(relative).name:
                raise NotFound()
            target = index
        if not target.is_file():
            return Response(
                "<h1>枫桥网格通</h1><p>前端尚未构建：请运行 make run（或 cd pwa && npm run build）。</p>",
                media_type="text/html",
                status_code=503,
            )
        rel = target.relative_to(root).as_posix()
        headers = {"Cache-Control": _cache_policy(rel)}
        # The build writes gzipped copies of the hashed JS/CSS (pwa/vite.config.ts): a third of the
        # bytes on a 2G/3G first load.
        packed = target.with_name(target.name + ".gz")
        if rel.startswith("assets/") and packed.is_file():
            headers["Vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("accept-encoding", ""):
                headers["Content-Encoding"] = "gzip"
                return File(
                    packed,
                    filename=target.name,
                    media_type=_media_type(target),
                    headers=headers,
                    content_disposition_type="inline",
                )
        return File(
            target,
            filename=target.name,
            media_type=_media_type(target),
            headers=headers,
            content_disposition_type="inline",
        )

    return serve_pwa
