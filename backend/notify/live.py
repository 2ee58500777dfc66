"""Live delivery to an open app: server-sent events fed by Litestar channels.

PostgreSQL: the asyncpg LISTEN/NOTIFY backend. A notification is announced with pg_notify inside the
transaction that writes it, so PostgreSQL delivers it only on commit, to every app process (the CLI's
reminder run included). SQLite (one server process): the memory backend, fed by a relay that reads
new notification rows (by id, which SQLite hands out in commit order) once a second or on a nudge, so
rows written by another process (`fengqiao visits remind`) are announced too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from piccolo.querystring import QueryString

from backend import db
from backend.notify import wake
from backend.notify.schemas import NotificationView
from backend.notify.tables import Notification
from backend.settings import Settings

log = logging.getLogger("fengqiao.notify.live")

CHANNEL_PREFIX = "fq_user_"
RELAY_POLL_SECONDS = 1.0


def channel_for(user_id: int) -> str:
    return f"{CHANNEL_PREFIX}{user_id}"


def encode(view: Any) -> str:
    return msgspec.json.encode(view).decode()


async def announce(items: list[tuple[int, Any]]) -> None:
    """Tell open apps about new notifications: (recipient, view) pairs. Call inside the writing
    transaction; on PostgreSQL the NOTIFY is sent when it commits (and never if it rolls back)."""
    if not items or db.engine_name() != "postgresql":
        return  # SQLite: the relay reads committed rows
    await db.DB.run_querystring(
        QueryString(
            "SELECT pg_notify(c, p) FROM unnest({}::text[], {}::text[]) AS t(c, p)",
            [channel_for(uid) for uid, _ in items],
            [encode(v) for _, v in items],
        )
    )


class LiveChannels(ChannelsPlugin):
    """Litestar channels with one channel per user, plus the SQLite relay."""

    def __init__(self, settings: Settings) -> None:
        self.postgres = settings.engine == "postgresql"
        backend = (
            AsyncPgChannelsBackend(dsn=settings.database_url) if self.postgres else MemoryChannelsBackend()
        )
        super().__init__(
            backend=backend,
            arbitrary_channels_allowed=True,
            subscriber_max_backlog=200,
            subscriber_backlog_strategy="dropleft",
        )
        self._relay_task: asyncio.Task | None = None

    async def __aenter__(self) -> LiveChannels:
        await super().__aenter__()
        if not self.postgres:
            self._relay_task = asyncio.create_task(self._relay(), name="notify-live-relay")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._relay_task is not None:
            self._relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._relay_task
            self._relay_task = None
        await super().__aexit__(*exc)

    async def _relay(self) -> None:
        newest = (
            await Notification.select(Notification.id)
            .order_by(Notification.id, ascending=False)
            .first()
            .run()
        )
        last = newest["id"] if newest else 0
        with wake.Waker() as waker:
            while True:
                rows: list[dict[str, Any]] = []
                try:
                    rows = (
                        await Notification.select()
                        .where(Notification.id > last)
                        .order_by(Notification.id)
                        .limit(500)
                        .run()
                    )
                    for row in rows:
                        self.publish(encode(NotificationView.of(row)), channel_for(row["recipient"]))
                        last = row["id"]
                except Exception:
                    log.exception("live relay failed; retrying")
                if not rows:
                    await waker.wait(RELAY_POLL_SECONDS)
