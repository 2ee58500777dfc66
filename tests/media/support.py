"""Looking at what the server kept of a photo: rows, derivative files, partial files."""

from __future__ import annotations

from pathlib import Path


def files_on_disk(sha256: str, media_dir: Path) -> tuple[list[str], list[str]]:
    """(derivative file names, partial upload file names) of one photo."""
    if not media_dir.exists():
        return [], []
    files = sorted(p.name for p in (media_dir / sha256[:2] / sha256).glob("*"))
    partials = sorted(p.name for p in (media_dir / "partial").glob(f"{sha256}.*"))
    return files, partials


async def stored(sha256: str, media_dir: Path) -> dict:
    """Everything the server keeps about one photo: rows, derivative files, partial files."""
    from backend.media.tables import Media, MediaUpload

    files, partials = files_on_disk(sha256, media_dir)
    return {
        "media": await Media.count().where(Media.sha256 == sha256).run(),
        "uploads": await MediaUpload.count().where(MediaUpload.sha256 == sha256).run(),
        "files": files,
        "partials": partials,
    }


async def assert_nothing_stored(sha256: str, media_dir: Path) -> None:
    assert await stored(sha256, media_dir) == {"media": 0, "uploads": 0, "files": [], "partials": []}
    assert not leftover_bodies(media_dir), "request bodies must not be left behind"


def leftover_bodies(media_dir: Path) -> list[Path]:
    tmp = media_dir / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []
