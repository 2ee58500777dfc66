"""API shapes of the notify domain (msgspec)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta


class NotificationView(msgspec.Struct):
    id: int
    kind: str
    title: str
    body: str
    url: str
    urgency: str
    case_id: str | None
    visit_id: str | None
    created_at: datetime
    read_at: datetime | None
    read: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> NotificationView:
        """A notification row as the inbox, the live stream and push show it."""
        return cls(
            id=row["id"],
            kind=row["kind"],
            title=row["title"],
            body=row["body"],
            url=row["url"],
            urgency=row["urgency"],
            case_id=str(row["case_id"]) if row["case_id"] else None,
            visit_id=str(row["visit_id"]) if row["visit_id"] else None,
            created_at=row["created_at"],
            read_at=row["read_at"],
            read=row["read_at"] is not None,
        )


class InboxPage(msgspec.Struct):
    items: list[NotificationView]
    unread: int
    next_cursor: str | None


class PushKey(msgspec.Struct):
    public_key: str  # VAPID application server key, base64url (65-byte uncompressed P-256 point)


class SubscriptionKeys(msgspec.Struct):
    p256dh: Annotated[str, Meta(max_length=200)]
    auth: Annotated[str, Meta(max_length=100)]


class SubscriptionIn(msgspec.Struct):
    """What the browser's PushSubscription.toJSON() gives (expirationTime is ignored)."""

    endpoint: Annotated[str, Meta(min_length=1, max_length=2048)]
    keys: SubscriptionKeys
    expirationTime: int | float | None = None  # noqa: N815 (the browser's own name)


class SubscriptionOut(msgspec.Struct):
    id: int
    endpoint_host: str
    device_id: str
    created_at: datetime


class SubscriptionDelete(msgspec.Struct):
    endpoint: Annotated[str, Meta(min_length=1, max_length=2048)]


class ReadAll(msgspec.Struct):
    marked: int
