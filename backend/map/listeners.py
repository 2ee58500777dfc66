"""Case-change listeners of the map (registered by backend.wiring.connect): every change of a case is
announced on the bus's `cases` topic, keyed by township, in the change's own transaction, so the open
maps of that township (and the county's) re-read the change log when it commits, in every process."""

from __future__ import annotations

from backend.cases.hooks import CaseChange, subscribe
from backend.core import bus
from backend.map import live


@subscribe
async def announce_case_change(change: CaseChange) -> None:
    # A case moved to another township is news in both: the old one's maps must drop its marker.
    townships = sorted(
        str(code) for code in {change.case.get("township_code"), change.before.get("township_code")} if code
    )
    # No case id: the maps re-read the log anyway, and PostgreSQL sends identical messages of one
    # transaction once (a sync batch of 50 cases in a township is one message).
    await bus.publish_many(live.TOPIC, [(code, {}) for code in townships])
