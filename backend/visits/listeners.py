"""Case-change listeners of the visits domain (registered by backend.wiring.connect): closing a case
schedules its visits; reopening it voids the open ones. Also registers the reminder job with the
server's in-process loop."""

from __future__ import annotations

from backend.cases.hooks import CaseChange, subscribe
from backend.notify import worker
from backend.visits import jobs, service


@subscribe
async def on_case_change(change: CaseChange) -> None:
    if change.action == "close":
        await service.schedule_for_closed_case(change)
    elif change.action == "reopen":
        await service.cancel_pending(change.case_id)


worker.every("visits.remind", lambda settings: settings.reminder_interval_seconds, jobs.remind)
