"""Case-change listeners of the sync domain (registered by backend.wiring.connect): every change of a
case goes into the change log that pulls read, in the change's own transaction. Also the running
server's hourly settling of operations that waited a week (`fengqiao sync expire` does the same from
cron), so a deployment without cron still keeps its promise."""

from __future__ import annotations

from backend.cases.hooks import CaseChange, subscribe
from backend.notify import worker
from backend.sync import feed, service

EXPIRE_INTERVAL_SECONDS = 3600.0


@subscribe
async def log_case_change(change: CaseChange) -> None:
    await feed.append(change)


worker.every("sync.expire", lambda settings: EXPIRE_INTERVAL_SECONDS, service.expire_deferred)
