"""The outbox and the inbox. A notification row is the truth; channels (inbox, SSE, Web Push, SMS)
only deliver it. Knows nothing of HTTP."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from backend.core import clock
from backend.core.errors import NotFound
from backend.core.identity import CurrentUser
from backend.core.pagination import decode_cursor, encode_cursor
from backend.db import read_transaction, write_transaction
from backend.notify import live, schemas, wake
from backend.notify.tables import Notification, PushDelivery, PushSubscription

MAX_TITLE = 100
MAX_BODY = 1000


@dataclass(frozen=True)
class Message:
    """What to tell; `key` makes it happen once: the recipient's id is appended and the result is unique."""

    kind: str
    title: str
    body: str
    url: str
    key: str
    case_id: uuid.UUID | None = None
    visit_id: uuid.UUID | None = None
    urgency: str = "normal"  # normal | high
    topic: str | None = None


def topic_for(entity_id: uuid.UUID, prefix: str = "v") -> str:
    """A Web Push Topic (at most 32 base64url characters): one per visit, so a newer reminder replaces
    an older one still waiting at the push service."""
    return prefix + base64.urlsafe_b64encode(entity_id.bytes).decode().rstrip("=")


async def notify(recipients: Iterable[int], message: Message) -> list[int]:
    """Write one notification per recipient inside the caller's transaction, queue its push deliveries
    and announce it to open apps (on commit). A recipient already notified under the same key gets
    nothing new. Returns the ids written."""
    users = sorted(set(recipients))
    if not users:
        return []
    now = clock.now()
    rows = [
        Notification(
            recipient=uid,
            kind=message.kind,
            title=message.title[:MAX_TITLE],
            body=message.body[:MAX_BODY],
            url=message.url,
            case_id=message.case_id,
            visit_id=message.visit_id,
            urgency=message.urgency,
            topic=message.topic,
            dedupe_key=f"{message.key}:{uid}",
            created_at=now,
        )
        for uid in users
    ]
    async with write_transaction():
        written = (
            await Notification.insert(*rows)
            .on_conflict(target=Notification.dedupe_key, action="DO NOTHING")
            .returning(*Notification.all_columns())
            .run()
        )
        if not written:
            return []
        subscriptions = (
            await PushSubscription.select(PushSubscription.id, PushSubscription.user)
            .where(
                PushSubscription.user.is_in([r["recipient"] for r in written])
                & PushSubscription.device.revoked_at.is_null()
            )
            .run()
        )
        deliveries = [
            PushDelivery(notification=n["id"], subscription=s["id"], next_attempt_at=now, updated_at=now)
            for n in written
            for s in subscriptions
            if s["user"] == n["recipient"]
        ]
        if deliveries:
            await PushDelivery.insert(*deliveries).run()
        await live.announce([(r["recipient"], schemas.NotificationView.of(r)) for r in written])
    wake.nudge()
    return [r["id"] for r in written]


# --- inbox ----------------------------------------------------------------------------------------


async def unread_count(user_id: int) -> int:
    return await Notification.count().where(
        (Notification.recipient == user_id) & Notification.read_at.is_null()
    )


async def inbox(user: CurrentUser, *, unread_only: bool, cursor: str | None, limit: int) -> schemas.InboxPage:
    """The user's notifications, newest first, with the unread count (the inbox is always delivered)."""
    limit = max(1, min(limit, 200))
    before = decode_cursor(cursor, int)[0] if cursor else None
    async with read_transaction():
        query = Notification.select().where(Notification.recipient == user.id)
        if unread_only:
            query = query.where(Notification.read_at.is_null())
        if before is not None:
            query = query.where(Notification.id < before)
        rows = await query.order_by(Notification.id, ascending=False).limit(limit + 1).run()
        unread = await unread_count(user.id)
    more = len(rows) > limit
    rows = rows[:limit]
    return schemas.InboxPage(
        items=[schemas.NotificationView.of(r) for r in rows],
        unread=unread,
        next_cursor=encode_cursor(rows[-1]["id"]) if more and rows else None,
    )


async def since(user_id: int, last_id: int, limit: int = 100) -> list[schemas.NotificationView]:
    """What an event stream missed while reconnecting (Last-Event-ID)."""
    rows = (
        await Notification.select()
        .where((Notification.recipient == user_id) & (Notification.id > last_id))
        .order_by(Notification.id)
        .limit(limit)
        .run()
    )
    return [schemas.NotificationView.of(r) for r in rows]


async def mark_read(user: CurrentUser, notification_id: int) -> schemas.NotificationView:
    """Mark one of the user's notifications read (idempotent); read, it is no longer escalated by SMS."""
    async with write_transaction():
        await (
            Notification.update({Notification.read_at: clock.now()})
            .where(
                (Notification.id == notification_id)
                & (Notification.recipient == user.id)
                & Notification.read_at.is_null()
            )
            .run()
        )
        row = (
            await Notification.select()
            .where((Notification.id == notification_id) & (Notification.recipient == user.id))
            .first()
            .run()
        )
    if row is None:
        raise NotFound(message="未找到该通知", message_en="Notification not found")
    return schemas.NotificationView.of(row)


async def mark_all_read(user: CurrentUser) -> int:
    async with write_transaction():
        rows = (
            await Notification.update({Notification.read_at: clock.now()})
            .where((Notification.recipient == user.id) & Notification.read_at.is_null())
            .returning(Notification.id)
            .run()
        )
    return len(rows)
