"""Periodic upkeep a running server does on its own (registered by backend.wiring.connect): unfinished
photo uploads nobody has touched for a month are forgotten with their partial files, so abandoned
uploads cannot fill the disk. (Deferred sync operations expire in the sync domain's own job.)"""

from __future__ import annotations

from backend.media import service as media
from backend.notify import worker
from backend.settings import get_settings

PURGE_INTERVAL_SECONDS = 3600.0


async def purge_stale_uploads() -> int:
    return await media.purge_stale_uploads(get_settings().media_dir)


worker.every("media.purge_uploads", lambda settings: PURGE_INTERVAL_SECONDS, purge_stale_uploads)
