"""The in-process delivery loop of a running server: push deliveries and SMS escalations as soon as
they are due (woken early by a nudge), and the periodic jobs other domains register (the visit
reminders, every few minutes). Several processes may run it at once: every job claims its rows.
Started and stopped with the app (only for the real server, never in tests' app instances)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar

from backend.notify import push, sms, wake
from backend.settings import Settings

log = logging.getLogger("fengqiao.notify.worker")

TICK_SECONDS = 5.0
Interval = Callable[[Settings], float]
Job = Callable[[], Awaitable[Any]]
_periodic: dict[str, tuple[Interval, Job]] = {}


def every(name: str, interval: Interval, job: Job) -> None:
    """Register a periodic job (idempotent by name); its interval is read from the settings."""
    _periodic[name] = (interval, job)


nudge = wake.nudge


async def deliver(settings: Settings) -> None:
    """One round of delivery on every channel."""
    await push.deliver_due(settings)
    await sms.escalate_unread(settings)


async def run(settings: Settings, tick: float = TICK_SECONDS) -> None:
    next_run: dict[str, float] = {}
    with wake.Waker() as waker:
        while True:
            for name, (interval, job) in list(_periodic.items()):
                if time.monotonic() >= next_run.get(name, 0.0):
                    next_run[name] = time.monotonic() + max(1.0, interval(settings))
                    try:
                        await job()
                    except Exception:
                        log.exception("periodic job %s failed; it runs again at its next turn", name)
            try:
                await deliver(settings)
            except Exception:
                log.exception("delivery round failed; retrying")
            await waker.wait(tick)


async def start(app: Litestar) -> None:
    app.state.notify_worker = asyncio.create_task(run(app.state.settings), name="notify-worker")


async def stop(app: Litestar) -> None:
    task: asyncio.Task | None = app.state.get("notify_worker")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        app.state.notify_worker = None
