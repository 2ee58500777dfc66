"""Write transactions of the sync domain.

On SQLite only one writer can hold the database at a time, and one that finds it taken is left to
SQLite's busy handler, which sleeps in steps of up to 100 ms and so often sleeps on while the lock
is already free. Under many phones pushing at once most of the time went there. So the sync domain's
writers in this process queue on an asyncio lock before they BEGIN IMMEDIATE: the same one-at-a-time
order SQLite imposes anyway, without the sleeping. On PostgreSQL writers run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from backend.db import engine_name, write_transaction

_lock: asyncio.Lock | None = None


def _sqlite_lock() -> asyncio.Lock:
    global _lock
    if _lock is None:
        _lock = asyncio.Lock()
    return _lock


@contextlib.asynccontextmanager
async def sync_write() -> AsyncIterator[Any]:
    """A write transaction (yields it, for savepoints)."""
    if engine_name() == "postgresql":
        async with write_transaction() as transaction:
            yield transaction
        return
    async with _sqlite_lock(), write_transaction() as transaction:
        yield transaction
