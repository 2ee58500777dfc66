"""The map's live feed: changed cases in the user's area, read from the sync change log."""

from __future__ import annotations

import uuid
from typing import Any

from piccolo.query.functions.aggregate import Max

from backend.cases.tables import Case
from backend.core import clock
from backend.core.identity import CurrentUser
from backend.db import read_transaction
from backend.map import schemas
from backend.map.service import marker_row, marker_rows
from backend.sync.tables import SyncChange

POLL_SECONDS = 1.0


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
