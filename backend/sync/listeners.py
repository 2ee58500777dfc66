"""Case-change listeners of the sync domain (registered by backend.wiring.connect): every change of a
case goes into the change log that pulls read, in the change's own transaction."""

from __future__ import annotations

import backend.cases.edits  # noqa: F401  (stamps each case event with its version)
from backend.cases.hooks import CaseChange, subscribe
from backend.sync import feed


@subscribe
async def log_case_change(change: CaseChange) -> None:
    await feed.append(change)
