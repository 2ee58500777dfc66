"""Photos: what the routes and other domains call. Knows nothing of HTTP: the route hands over the
body as an async iterator of bytes and the raw Content-Length and Content-Range values.

The protocol is described in backend/media/routes.py; the receiving mechanics are in uploads.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import anyio

from backend.core import clock
from backend.core.errors import NotFound
from backend.core.identity import CurrentUser
from backend.db import write_transaction
from backend.media import imaging, storage, uploads
from backend.media.errors import (
    BadRange,
    InvalidHash,
    PhotoNotUsable,
    StorageUnavailable,
    TooLarge,
    UnknownSize,
)
from backend.media.tables import Media, MediaUpload
from backend.media.uploads import MAX_BYTES, UploadResult

__all__ = [
    "MAX_BYTES",
    "UploadResult",
    "check_usable",
    "derivative_file",
    "exif_gps",
    "media_status",
    "missing_hashes",
    "purge_stale_uploads",
    "upload",
    "upload_state",
]

log = logging.getLogger("fengqiao.media")

# Phones may stay offline for the 30 days a refresh token lasts; an upload may resume within that.
STALE_UPLOAD_AGE = timedelta(days=31)

_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(sha256: str) -> None:
    if not _SHA256.fullmatch(sha256):
        raise InvalidHash()


def check_size(size: str) -> None:
    if size not in imaging.SIZES:
        raise UnknownSize()


@dataclass(frozen=True)
class UploadState:
    status: Literal["complete", "partial"]
    offset: int
    total: int | None


@dataclass(frozen=True)
class ServedFile:
    path: Path
    etag: str
    mime: str


# --- upload -------------------------------------------------------------------------------------


async def upload(
    *,
    media_dir: Path,
    user_id: int,
    sha256: str,
    body: AsyncIterable[bytes],
    content_length: int | None,
    content_range: str | None,
    max_partial: int,
) -> UploadResult:
    """Store a photo sent whole, or one chunk of a resumable upload (with `content_range`); a user
    keeps at most `max_partial` unfinished resumable uploads."""
    check_sha256(sha256)
    try:
        return await _upload(media_dir, user_id, sha256, body, content_length, content_range, max_partial)
    except OSError as exc:
        if isinstance(exc, ConnectionError):
            raise  # the database, not the disk (a 503 of its own: ops/health.py)
        log.error("media directory refused a write: %s", exc.strerror or type(exc).__name__)
        raise StorageUnavailable() from exc


async def _upload(
    media_dir: Path,
    user_id: int,
    sha256: str,
    body: AsyncIterable[bytes],
    content_length: int | None,
    content_range: str | None,
    max_partial: int,
) -> UploadResult:
    if content_range is None:
        if content_length is not None and content_length > MAX_BYTES:
            raise TooLarge()
        return await uploads.upload_whole(media_dir, user_id, sha256, body, MAX_BYTES, TooLarge)

    chunk = uploads.parse_content_range(content_range)
    if content_length is not None and content_length != chunk.length:
        raise BadRange(details={"reason": "Content-Length differs from the Content-Range"})
    if chunk.start == 0 and chunk.total == chunk.length:
        # The whole photo in one chunk: no partial file needed.
        return await uploads.upload_whole(
            media_dir, user_id, sha256, body, chunk.length, BadRange, exact=True
        )
    return await uploads.upload_chunk(media_dir, user_id, sha256, body, chunk, max_partial)


# --- reading ------------------------------------------------------------------------------------

# Whether a user may see a record that uses the photo (a case, its agreement, a visit): the media domain
# stores photos but does not know what uses them, so the caller says (cases.scope.photo_visible_to).
PhotoScope = Callable[[CurrentUser, str], Awaitable[bool]]


async def upload_state(
    *, user: CurrentUser, sha256: str, used_where_visible: PhotoScope
) -> UploadState | None:
    """What this user may count as held of this photo: all of it (they sent it, or may see something
    that uses it), part of their own upload, or nothing.

    Per user, not a global existence oracle: knowing a hash is not holding the photo (hashes are shown
    wherever a photo is used), so a photo someone else sent is "nothing" until this user's own bytes
    have arrived and matched the hash. A colleague's copy costs one upload more; it never leaks."""
    check_sha256(sha256)
    rows = await Media.select(Media.size_bytes).where(Media.sha256 == sha256).run()
    if rows and (await uploads.held_by(user.id, [sha256]) or await used_where_visible(user, sha256)):
        return UploadState("complete", rows[0]["size_bytes"], rows[0]["size_bytes"])
    row = await uploads.upload_row(uploads.upload_key(sha256, user.id))
    if row is not None:
        return UploadState("partial", row["bytes_received"], row["total"])
    return None


async def derivative_file(
    *, user: CurrentUser, sha256: str, size: str, media_dir: Path, used_where_visible: PhotoScope
) -> ServedFile:
    """The file of one derivative, if this user uploaded the photo or may see something that uses it;
    404 otherwise (existence is not leaked: a photo the user may not see looks exactly like one that
    does not exist)."""
    check_sha256(sha256)
    check_size(size)
    if not await Media.exists().where(Media.sha256 == sha256).run() or not (
        await uploads.held_by(user.id, [sha256]) or await used_where_visible(user, sha256)
    ):
        raise NotFound()
    path = storage.media_path(media_dir, sha256, size, imaging.DERIVATIVE_EXT)
    if not await anyio.Path(path).is_file():
        log.error("media row without its file: %s/%s", sha256, size)
        raise NotFound()
    return ServedFile(path=path, etag=f"{sha256}-{size}", mime=imaging.DERIVATIVE_MIME)


# --- for other domains (cases, sync) ------------------------------------------------------------


async def check_usable(user: CurrentUser, hashes: list[str], used_where_visible: PhotoScope) -> None:
    """Refuse (PhotoNotUsable) a hash of a stored photo this user neither sent nor may see through
    something that uses it. A hash not stored yet passes: a case may arrive before its photos, and
    only the bytes, when this user sends them, make the photo theirs."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return
    stored = {r["sha256"] for r in await Media.select(Media.sha256).where(Media.sha256.is_in(wanted)).run()}
    if not stored:
        return
    held = await uploads.held_by(user.id, sorted(stored))
    for sha in wanted:
        if sha in stored and sha not in held and not await used_where_visible(user, sha):
            raise PhotoNotUsable(details={"sha256": sha})


def _chunks(items: list[str], n: int = 500) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


async def media_status(hashes: list[str]) -> dict[str, str]:
    """For each hash: "complete" (stored), "partial" (an upload has begun) or "missing"."""
    wanted = list(dict.fromkeys(h for h in hashes if _SHA256.fullmatch(h)))
    complete: set[str] = set()
    partial: set[str] = set()
    for part in _chunks(wanted):
        rows = await Media.select(Media.sha256).where(Media.sha256.is_in(part)).run()
        complete.update(r["sha256"] for r in rows)
        rest = [h for h in part if h not in complete]
        if rest:
            rows = await MediaUpload.select(MediaUpload.sha256).where(MediaUpload.sha256.is_in(rest)).run()
            partial.update(r["sha256"] for r in rows)
    return {h: "complete" if h in complete else "partial" if h in partial else "missing" for h in hashes}


async def missing_hashes(hashes: list[str]) -> list[str]:
    """The hashes not yet stored complete, in the order given, without repeats."""
    status = await media_status(hashes)
    return [h for h in dict.fromkeys(hashes) if status[h] != "complete"]


async def exif_gps(sha256: str) -> tuple[float, float] | None:
    """(lon, lat) in WGS-84 from the photo's EXIF, or None (no GPS, or no such photo)."""
    rows = await Media.select(Media.gps_lon, Media.gps_lat).where(Media.sha256 == sha256).run()
    if not rows or rows[0]["gps_lon"] is None or rows[0]["gps_lat"] is None:
        return None
    return rows[0]["gps_lon"], rows[0]["gps_lat"]


async def purge_stale_uploads(media_dir: Path, older_than: timedelta = STALE_UPLOAD_AGE) -> int:
    """Forget unfinished uploads untouched for `older_than`, and partial files no row knows of
    (for a periodic job); returns how many uploads were forgotten."""
    cutoff = clock.now() - older_than
    async with write_transaction():
        stale = (
            await MediaUpload.select(MediaUpload.sha256, MediaUpload.uploaded_by)
            .where(MediaUpload.updated_at < cutoff)
            .run()
        )
        await MediaUpload.delete().where(MediaUpload.updated_at < cutoff).run()
    for row in stale:
        if row["uploaded_by"] is not None:
            path = storage.partial_path(media_dir, row["sha256"], row["uploaded_by"])
            await uploads.in_thread(storage.remove_partial, path)
    # Files left by a crash or a race with a finished upload: old, and without a row.
    old_files = await uploads.in_thread(storage.old_partial_files, media_dir, cutoff.timestamp())
    if old_files:
        keys = {uploads.upload_key(sha, user) for _, sha, user in old_files}
        rows = await MediaUpload.select(MediaUpload.key).where(MediaUpload.key.is_in(list(keys))).run()
        known = {r["key"] for r in rows}
        for path, sha, user in old_files:
            if uploads.upload_key(sha, user) not in known:
                await uploads.in_thread(storage.remove_partial, path)
    return len(stale)
