"""The mechanics of receiving a photo: the body streamed to a spool while hashed, chunks appended
to a partial file with the row as the commit point, decoding in worker threads (at most `DECODERS`
at once, so the event loop keeps serving), derivatives written before the row that makes them
visible. The public entry points are in service.py; the protocol is in routes.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

import anyio
import anyio.to_thread

from backend.core import clock
from backend.core.errors import AppError
from backend.db import engine_name, write_transaction
from backend.media import imaging, schemas, storage
from backend.media.errors import BadRange, HashMismatch, OffsetMismatch, TooLarge, TooManyPartialUploads
from backend.media.tables import Media, MediaHolder, MediaUpload

log = logging.getLogger("fengqiao.media")

MAX_BYTES = 15 * 1024 * 1024
# Concurrent decodes: each may hold a few hundred MB for a large photo, and the server has 2 cores.
DECODERS = max(1, min(2, os.cpu_count() or 1))

_CONTENT_RANGE = re.compile(r"bytes[ ]+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)

T = TypeVar("T")


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int  # inclusive, as in HTTP
    total: int | None  # None for "*" (not yet known)

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_content_range(value: str) -> ContentRange:
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if not match:
        raise BadRange(details={"expected": "bytes <start>-<end>/<total or *>"})
    start, end = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if end + 1 > MAX_BYTES or (total is not None and total > MAX_BYTES):
        raise TooLarge()
    if start > end or (total is not None and end >= total):
        raise BadRange()
    return ContentRange(start, end, total)


@dataclass(frozen=True)
class UploadResult:
    outcome: Literal["created", "exists", "partial"]
    body: schemas.MediaView | schemas.UploadProgress

    @property
    def offset(self) -> int:
        return self.body.offset if isinstance(self.body, schemas.UploadProgress) else self.body.bytes


# --- concurrency helpers ------------------------------------------------------------------------

_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)
_sha_locks: dict[str, tuple[asyncio.Lock, int]] = {}


def _decode_limiter() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(DECODERS)
    return limiter


async def in_thread(fn: Callable[..., T], *args: Any, decode: bool = False) -> T:
    return await anyio.to_thread.run_sync(fn, *args, limiter=_decode_limiter() if decode else None)


@asynccontextmanager
async def _photo_lock(sha256: str) -> AsyncIterator[None]:
    """One store of a given photo at a time in this process, so a phone's retry that overlaps the
    first attempt waits for it and answers 200 instead of decoding the photo twice. (Across
    processes the unique sha256 decides; the loser answers 200 too.)"""
    lock, users = _sha_locks.get(sha256, (None, 0))
    if lock is None:
        lock = asyncio.Lock()
    _sha_locks[sha256] = (lock, users + 1)
    try:
        async with lock:
            yield
    finally:
        lock, users = _sha_locks[sha256]
        if users <= 1:
            del _sha_locks[sha256]
        else:
            _sha_locks[sha256] = (lock, users - 1)


# --- receiving ----------------------------------------------------------------------------------


async def _receive(
    body: AsyncIterable[bytes], sink: IO[bytes], limit: int, excess: type[AppError]
) -> tuple[int, str]:
    """Copy the body into `sink`, hashing as it goes, refusing it as soon as it passes `limit`."""
    digest = hashlib.sha256()
    received = 0
    async for part in body:
        if not part:
            continue
        received += len(part)
        if received > limit:
            raise excess()
        sink.write(part)
        digest.update(part)
    return received, digest.hexdigest()


async def upload_whole(
    media_dir: Path,
    user_id: int,
    sha256: str,
    body: AsyncIterable[bytes],
    limit: int,
    excess: type[AppError],
    *,
    exact: bool = False,
) -> UploadResult:
    with storage.spool(media_dir) as f:
        received, digest = await _receive(body, f, limit, excess)
        if exact and received != limit:
            raise BadRange(details={"reason": "the body is shorter than the Content-Range"})
        if digest != sha256:
            raise HashMismatch()
        async with _photo_lock(sha256):
            if (view := await media_view(sha256)) is not None:
                # The bytes were checked against the hash: this user holds the photo now too.
                await record_holder(sha256, user_id)
                return UploadResult("exists", view)
            return await _store(media_dir, user_id, sha256, f, received)


async def upload_chunk(
    media_dir: Path,
    user_id: int,
    sha256: str,
    body: AsyncIterable[bytes],
    chunk: ContentRange,
    max_partial: int,
) -> UploadResult:
    with storage.spool(media_dir) as f:
        received, _ = await _receive(body, f, chunk.length, BadRange)
        if received != chunk.length:
            raise BadRange(details={"reason": "the body is shorter than the Content-Range"})
        if (view := await media_view(sha256)) is not None and await held_by(user_id, [sha256]):
            return UploadResult("exists", view)  # finished already (perhaps the answer was lost)
        # Stored by someone else: this user's own bytes must still arrive and match the hash.
        offset, total = await _append(media_dir, user_id, sha256, chunk, f, max_partial)
    if total is not None and offset == total:
        return await _finish(media_dir, user_id, sha256, total)
    return UploadResult(
        "partial", schemas.UploadProgress(sha256=sha256, status="partial", offset=offset, total=total)
    )


def upload_key(sha256: str, user_id: int) -> str:
    return f"{sha256}:{user_id}"


async def upload_row(key: str, *, for_update: bool = False) -> dict[str, Any] | None:
    query = MediaUpload.select(MediaUpload.bytes_received, MediaUpload.total).where(MediaUpload.key == key)
    if for_update and engine_name() == "postgresql":
        query = query.lock_rows()  # SQLite: the IMMEDIATE transaction already serialises writers
    rows = await query.run()
    return rows[0] if rows else None


async def _append(
    media_dir: Path, user_id: int, sha256: str, chunk: ContentRange, data: IO[bytes], max_partial: int
) -> tuple[int, int | None]:
    """Append a chunk if it starts where the committed offset is; returns (offset, total) after it.
    The row's update is the commit point: the file is cut back to the row's offset before writing."""
    key = upload_key(sha256, user_id)
    path = storage.partial_path(media_dir, sha256, user_id)
    async with write_transaction():
        if chunk.start == 0 and await upload_row(key) is None:
            unfinished = await MediaUpload.count().where(MediaUpload.uploaded_by == user_id).run()
            if unfinished >= max_partial:
                raise TooManyPartialUploads(max_partial)
        if chunk.start == 0:
            await (
                MediaUpload.insert(
                    MediaUpload(
                        key=key, sha256=sha256, uploaded_by=user_id, total=chunk.total, bytes_received=0
                    )
                )
                .on_conflict(target=MediaUpload.key, action="DO NOTHING")
                .run()
            )
        row = await upload_row(key, for_update=True)
        if row is None:
            raise OffsetMismatch(0)
        offset, total = row["bytes_received"], row["total"]
        if total is not None and offset == total:
            return offset, total  # all bytes held; the processing was interrupted, so finish now
        if total is not None and chunk.total is not None and chunk.total != total:
            raise BadRange(details={"reason": "the total differs from earlier chunks", "total": total})
        total = total if total is not None else chunk.total
        if total is not None and chunk.end >= total:
            raise BadRange()
        if chunk.start != offset:
            raise OffsetMismatch(offset)
        written = await in_thread(storage.append_partial, path, offset, data)
        now = clock.now()
        new_offset = chunk.end + 1 if written else 0
        await (
            MediaUpload.update(
                {
                    MediaUpload.bytes_received: new_offset,
                    MediaUpload.total: total,
                    MediaUpload.updated_at: now,
                }
            )
            .where(MediaUpload.key == key)
            .run()
        )
    if not written:
        log.warning("partial upload file lost, restarting from 0: %s", path.name)
        raise OffsetMismatch(0)
    return new_offset, total


async def _finish(media_dir: Path, user_id: int, sha256: str, total: int) -> UploadResult:
    """All bytes of a resumable upload are held: verify the hash, then store as a whole upload."""
    key = upload_key(sha256, user_id)
    path = storage.partial_path(media_dir, sha256, user_id)
    async with _photo_lock(sha256):
        try:
            digest = await in_thread(storage.sha256_of, path, total)
        except FileNotFoundError:
            await discard_upload(key, path)
            raise OffsetMismatch(0) from None
        if digest != sha256:
            await discard_upload(key, path)
            raise HashMismatch()
        if (view := await media_view(sha256)) is not None:
            await record_holder(sha256, user_id)
            await discard_upload(key, path)
            return UploadResult("exists", view)
        try:
            with open(path, "rb") as f:  # noqa: ASYNC230 - opening is instant; reading happens in the thread
                return await _store(media_dir, user_id, sha256, f, total)
        except AppError:
            # The bytes are exactly the phone's photo: sending them again cannot help.
            await discard_upload(key, path)
            raise


async def discard_upload(key: str, path: Path) -> None:
    async with write_transaction():
        await MediaUpload.delete().where(MediaUpload.key == key).run()
    await in_thread(storage.remove_partial, path)


async def _store(media_dir: Path, user_id: int, sha256: str, original: IO[bytes], size: int) -> UploadResult:
    """Decode and re-encode, write the derivatives, then insert the row (the commit point: files
    without a row are invisible and are overwritten by the next upload of the same photo)."""
    processed = await in_thread(imaging.process, original, decode=True)
    files = [
        (storage.media_path(media_dir, sha256, d.name, imaging.DERIVATIVE_EXT), d.data)
        for d in processed.derivatives
    ]
    await in_thread(storage.write_files_atomically, files)
    lon, lat = processed.gps if processed.gps else (None, None)
    async with write_transaction():
        inserted = (
            await Media.insert(
                Media(
                    sha256=sha256,
                    uploaded_by=user_id,
                    uploaded_at=clock.now(),
                    mime=processed.mime,
                    width=processed.width,
                    height=processed.height,
                    size_bytes=size,
                    orientation=processed.orientation,
                    gps_lon=lon,
                    gps_lat=lat,
                    taken_at=processed.taken_at,
                    derivatives={
                        d.name: {"width": d.width, "height": d.height, "bytes": len(d.data)}
                        for d in processed.derivatives
                    },
                )
            )
            .on_conflict(target=Media.sha256, action="DO NOTHING")
            .returning(Media.sha256)
            .run()
        )
        await record_holder(sha256, user_id)
        # Only this user's partial upload ends here: others holding the photo finish theirs, which
        # is how they show they hold it (their finish checks the bytes and records them).
        await MediaUpload.delete().where(MediaUpload.key == upload_key(sha256, user_id)).run()
    await in_thread(storage.remove_partial, storage.partial_path(media_dir, sha256, user_id))
    view = await media_view(sha256)
    assert view is not None
    return UploadResult("created" if inserted else "exists", view)


# --- who holds a photo ----------------------------------------------------------------------------


async def record_holder(sha256: str, user_id: int) -> None:
    """This user sent bytes matching the hash. Joins the caller's transaction if there is one."""
    async with write_transaction():
        await (
            MediaHolder.insert(MediaHolder(key=upload_key(sha256, user_id), sha256=sha256, user=user_id))
            .on_conflict(target=MediaHolder.key, action="DO NOTHING")
            .run()
        )


async def held_by(user_id: int, hashes: list[str]) -> set[str]:
    """Those of `hashes` this user has sent the bytes of (their first uploader counts too)."""
    if not hashes:
        return set()
    keys = [upload_key(h, user_id) for h in hashes]
    rows = await MediaHolder.select(MediaHolder.sha256).where(MediaHolder.key.is_in(keys)).run()
    held = {r["sha256"] for r in rows}
    rest = [h for h in hashes if h not in held]
    if rest:
        rows = (
            await Media.select(Media.sha256)
            .where(Media.sha256.is_in(rest) & (Media.uploaded_by == user_id))
            .run()
        )
        held.update(r["sha256"] for r in rows)
    return held


# --- reading back ---------------------------------------------------------------------------------


def _view(row: dict[str, Any]) -> schemas.MediaView:
    sha256 = row["sha256"]
    sizes = {
        name: schemas.DerivativeView(
            width=d["width"], height=d["height"], bytes=d["bytes"], url=f"/api/media/{sha256}?size={name}"
        )
        for name, d in sorted(row["derivatives"].items(), key=lambda item: imaging.SIZES.get(item[0], 0))
    }
    gps = None
    if row["gps_lon"] is not None and row["gps_lat"] is not None:
        gps = schemas.GpsView(lon=row["gps_lon"], lat=row["gps_lat"])
    return schemas.MediaView(
        sha256=sha256,
        status="complete",
        mime=row["mime"],
        width=row["width"],
        height=row["height"],
        bytes=row["size_bytes"],
        orientation=row["orientation"],
        taken_at=row["taken_at"],
        gps=gps,
        sizes=sizes,
        uploaded_at=row["uploaded_at"],
    )


async def media_row(sha256: str) -> dict[str, Any] | None:
    rows = await Media.select().where(Media.sha256 == sha256).output(load_json=True).run()
    return rows[0] if rows else None


async def media_view(sha256: str) -> schemas.MediaView | None:
    row = await media_row(sha256)
    return _view(row) if row else None
