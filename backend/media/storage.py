"""Where photos live on disk, and writing them so a crash never leaves half a file behind.

    media_dir/<aa>/<sha256>/<size>.jpg   derivatives (aa = the first two hex digits)
    media_dir/partial/<sha256>.<user>.part   unfinished resumable uploads
    media_dir/tmp/                        request bodies being received (spooled, deleted on close)

Synchronous file work: the service calls these through `anyio.to_thread`. A storage backend for
S3-compatible object stores would replace this module at the provincial scale.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

# Request bodies up to this size stay in memory while being received; larger ones spill to disk.
SPOOL_IN_MEMORY = 1024 * 1024
_COPY_BUFFER = 256 * 1024


def media_path(media_dir: Path, sha256: str, size: str, ext: str = "jpg") -> Path:
    return media_dir / sha256[:2] / sha256 / f"{size}.{ext}"


def partial_dir(media_dir: Path) -> Path:
    return media_dir / "partial"


def partial_path(media_dir: Path, sha256: str, user_id: int) -> Path:
    return partial_dir(media_dir) / f"{sha256}.{user_id}.part"


def tmp_dir(media_dir: Path) -> Path:
    return media_dir / "tmp"


# Photos show parties, homes and papers: readable by the server's account only.
FILE_MODE = 0o600
DIR_MODE = 0o700


def _open_private(path: Path, flags: int) -> IO[bytes]:
    return os.fdopen(os.open(path, flags, FILE_MODE), "r+b" if flags & os.O_RDWR else "wb")


def spool(media_dir: Path) -> tempfile.SpooledTemporaryFile[bytes]:
    """A file for an incoming body: memory for small chunks, an unnamed temp file for big ones
    (tempfile makes it 0600)."""
    directory = tmp_dir(media_dir)
    if not directory.exists():
        _makedirs_durable(directory)
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=str(directory))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs_durable(path: Path) -> None:
    """mkdir -p, then fsync each new directory's parent so the new entries survive a power cut."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for created in reversed(missing):  # one by one: mkdir(parents=True) gives parents the umask's mode
        created.mkdir(exist_ok=True, mode=DIR_MODE)
    for created in reversed(missing):
        _fsync_dir(created.parent)


def write_files_atomically(files: Iterable[tuple[Path, bytes]]) -> None:
    """Each file is written to a temp name beside it, fsynced, then renamed over the final name,
    so a reader sees the whole file or none. Identical content may be written twice (a concurrent
    upload of the same photo) without harm: encoding is deterministic."""
    touched: set[Path] = set()
    for path, data in files:
        _makedirs_durable(path.parent)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            with _open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        touched.add(path.parent)
    for directory in touched:
        _fsync_dir(directory)


def append_partial(path: Path, offset: int, chunk: IO[bytes]) -> bool:
    """Write `chunk` at `offset` of the partial file, cutting off anything past `offset` first (left
    by a crash between an append and its commit). False if the file holds fewer than `offset` bytes
    (lost), in which case nothing is written."""
    _makedirs_durable(path.parent)
    f: IO[bytes]
    if offset == 0:
        f = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    else:
        try:
            f = _open_private(path, os.O_RDWR)
        except FileNotFoundError:
            return False
    with f:
        if offset and os.fstat(f.fileno()).st_size < offset:
            return False
        f.truncate(offset)
        f.seek(offset)
        chunk.seek(0)
        shutil.copyfileobj(chunk, f, _COPY_BUFFER)
        f.flush()
        os.fsync(f.fileno())
    return True


def old_partial_files(media_dir: Path, before: float) -> list[tuple[Path, str, int]]:
    """(path, sha256, user id) of partial files last written before the POSIX time `before`."""
    found = []
    for path in partial_dir(media_dir).glob("*.part"):
        sha256, _, user = path.name.removesuffix(".part").partition(".")
        try:
            if path.stat().st_mtime < before and user.isdigit():
                found.append((path, sha256, int(user)))
        except FileNotFoundError:
            continue
    return found


def remove_partial(path: Path) -> None:
    path.unlink(missing_ok=True)


def sha256_of(path: Path, length: int) -> str:
    """SHA-256 of the first `length` bytes of a file."""
    digest = hashlib.sha256()
    remaining = length
    with open(path, "rb") as f:
        while remaining > 0:
            block = f.read(min(_COPY_BUFFER, remaining))
            if not block:
                break
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


def ensure_dir(path: Path) -> None:
    """A directory for media (mode 0700, like every one the server makes), made durably if missing."""
    _makedirs_durable(path)
