"""The map's live feed: changed cases in the user's area, read from the sync change log when the bus
says a case changed in the user's township (listeners.py), not on a timer. A feed also re-reads every
FALLBACK_SECONDS whatever it heard: a message lost with the listening connection, or a change written
by another process on SQLite (the CLI), still arrives."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from piccolo.query.functions.aggregate import Max

from backend.cases.tables import Case
from backend.core import bus, clock
from backend.core.identity import CurrentUser
from backend.db import read_transaction
from backend.map import schemas
from backend.map.service import marker_row, marker_rows
from backend.sync.tables import SyncChange

TOPIC = "cases"
FALLBACK_SECONDS = 30.0
# Changes that come close together are read together: at most one read per feed in this time.
MIN_GAP_SECONDS = 0.5


class LiveFeed:
    """One open map's view of the change log.

    It reads the log without the pull's horizon lock: a map must not take an exclusive lock every
    second. A PostgreSQL transaction can commit a lower id after a higher one was read, so each poll
    looks back LOOKBACK ids and skips the ones already seen. Events carry the change id, so a
    reconnect (Last-Event-ID) resumes where it stopped. A case the map was told about that leaves
    the user's scope, or is merged into another, is announced `gone` so its marker goes; a case the
    user never saw is never named."""

    LOOKBACK = 200
    RESUME_LIMIT = 5000  # a reconnect after a long absence resumes at most this far back

    def __init__(self, user: CurrentUser, last: int) -> None:
        self.user = user
        self.last = last
        self.seen: set[int] = set()
        self.announced: set[uuid.UUID] = set()
        self.read_again = True  # a resumed feed reads at once; so does one whose last read found news
        self.last_read = 0.0

    @classmethod
    async def open(cls, user: CurrentUser, last_event_id: str | None) -> LiveFeed:
        """Start at the newest change, or resume after the Last-Event-ID of a reconnect; the ids just
        before the start count as seen, so the look-back does not replay them."""
        newest = await _newest_change()
        last = newest
        if last_event_id and last_event_id.isdigit():
            last = min(newest, max(int(last_event_id), newest - cls.RESUME_LIMIT, 0))
        feed = cls(user, last)
        rows = (
            await SyncChange.select(SyncChange.id)
            .where((SyncChange.id > last - cls.LOOKBACK) & (SyncChange.id <= last))
            .run()
        )
        feed.seen = {r["id"] for r in rows}
        return feed

    async def next_changes(self, signals: bus.Subscription, wait: float) -> list[schemas.LiveChange]:
        """What changed, once the bus says something did (or after FALLBACK_SECONDS of quiet), waiting
        at most `wait` seconds for a message; [] when there was nothing for this user."""
        if not self.read_again:
            fallback_at = self.last_read + FALLBACK_SECONDS
            heard = await signals.wait(min(wait, max(0.0, fallback_at - time.monotonic())))
            if not heard and time.monotonic() < fallback_at:
                return []
            await asyncio.sleep(max(0.0, self.last_read + MIN_GAP_SECONDS - time.monotonic()))
        signals.drain()  # this read covers everything announced so far
        self.last_read = time.monotonic()
        found = await asyncio.shield(self.poll())
        self.read_again = bool(found)  # a read takes at most 1000 changes: there may be more
        return found

    async def poll(self) -> list[schemas.LiveChange]:
        """Changes since the last poll. Shielded by the caller: a poll cancelled mid-transaction would
        strand a pooled connection inside it."""
        async with read_transaction():
            changes = await (
                SyncChange.select(SyncChange.id, SyncChange.entity_id, SyncChange.action)
                .where((SyncChange.id > self.last - self.LOOKBACK) & (SyncChange.entity == "case"))
                .order_by(SyncChange.id)
                .limit(1000)
                .run()
            )
            changes = [c for c in changes if c["id"] not in self.seen]
            if not changes:
                return []
            by_case: dict[uuid.UUID, dict[str, Any]] = {}
            for c in changes:
                entry = by_case.setdefault(_uuid(c["entity_id"]), {"id": 0, "action": c["action"]})
                entry["id"] = max(entry["id"], c["id"])
                # A case logged and changed within one poll is still news as a new case.
                entry["action"] = "create" if "create" in (entry["action"], c["action"]) else c["action"]
            rows = await marker_rows(self.user, Case.id.is_in(list(by_case)), clock.now(), len(by_case))
        self.seen.update(c["id"] for c in changes)
        self.last = max(self.last, changes[-1]["id"])
        self.seen = {i for i in self.seen if i > self.last - self.LOOKBACK}
        visible = {_uuid(r["id"]): r for r in rows}
        out = []
        for case_id, entry in sorted(by_case.items(), key=lambda kv: kv[1]["id"]):
            row = visible.get(case_id)
            if row is not None and not row["merged"]:
                self.announced.add(case_id)
                out.append(schemas.LiveChange(id=entry["id"], action=entry["action"], row=marker_row(row)))
            elif case_id in self.announced or row is not None:
                self.announced.discard(case_id)
                out.append(schemas.LiveChange(id=entry["id"], action="gone", case=str(case_id)))
        return out


async def _newest_change() -> int:
    row = await SyncChange.select(Max(SyncChange.id, alias="newest")).first().run()
    return int((row or {}).get("newest") or 0)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
