"""Live delivery to an open app: the `notify` topic of the bus (core/bus.py), one key per recipient.

PostgreSQL: a notification is announced inside the transaction that writes it, so it reaches every
app process (and is announced by the CLI's reminder run too) when it commits, and never if it rolls
back. SQLite (one server process): a relay in the server reads new notification rows (by id, which
SQLite hands out in commit order) once a second or on a nudge, so rows written by another process
(`fengqiao visits remind`) are announced too. Either way a message carries only the notification's id:
the open stream reads the row itself (the payload stays small and nothing is trusted from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Litestar
from piccolo.query.functions.aggregate import Max

from backend import db
from backend.core import bus
from backend.notify import wake
from backend.notify.schemas import NotificationView
from backend.notify.tables import Notification

log = logging.getLogger("fengqiao.notify.live")

TOPIC = "notify"
RELAY_POLL_SECONDS = 1.0


def key_for(user_id: int) -> str:
    return str(user_id)


def encode(view: Any) -> str:
    return msgspec.json.encode(view).decode()


async def announce(items: list[tuple[int, Any]]) -> None:
    """Tell open apps about new notifications: (recipient, view) pairs. Call inside the writing
    transaction; on PostgreSQL the message leaves when it commits (and never if it rolls back)."""
    if not items or db.engine_name() != "postgresql":
        return  # SQLite: the relay reads committed rows
    await bus.publish_many(TOPIC, [(key_for(uid), {"id": view.id}) for uid, view in items])


async def views(user_id: int, ids: list[int]) -> list[NotificationView]:
    """The user's notifications among `ids`, oldest first (an id of someone else's is ignored)."""
    if not ids:
        return []
    rows = (
        await Notification.select()
        .where((Notification.recipient == user_id) & Notification.id.is_in(ids))
        .order_by(Notification.id)
        .run()
    )
    return [NotificationView.of(r) for r in rows]


async def newest_id(user_id: int) -> int:
    """The id of the user's newest notification (0 for none): where a stream's catch-up starts."""
    row = (
        await Notification.select(Notification.id)
        .where(Notification.recipient == user_id)
        .order_by(Notification.id, ascending=False)
        .first()
        .run()
    )
    return row["id"] if row else 0


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """The bus's listener for this process, and on SQLite the relay."""
    await bus.start(app.state.settings)
    relay = None
    if db.engine_name() != "postgresql":
        relay = asyncio.create_task(_relay(), name="notify-live-relay")
    try:
        yield
    finally:
        if relay is not None:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        await bus.stop()


async def _relay() -> None:
    newest = await Notification.select(Max(Notification.id, alias="newest")).first().run()
    last = int((newest or {}).get("newest") or 0)
    with wake.Waker() as waker:
        while True:
            rows: list[dict[str, Any]] = []
            try:
                rows = (
                    await Notification.select(Notification.id, Notification.recipient)
                    .where(Notification.id > last)
                    .order_by(Notification.id)
                    .limit(500)
                    .run()
                )
                for row in rows:
                    bus.dispatch(bus.Message(TOPIC, key_for(row["recipient"]), {"id": row["id"]}))
                    last = row["id"]
            except Exception:
                log.exception("live relay failed; retrying")
            if not rows:
                await waker.wait(RELAY_POLL_SECONDS)
