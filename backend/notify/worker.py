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


async def run(settings: Settings, tick: float = TICK_SECONDS, stopping: asyncio.Event | None = None) -> None:
    """Until `stopping` is set (checked between rounds, so a round's transactions are not cut short)."""
    stopping = stopping or asyncio.Event()
    next_run: dict[str, float] = {}
    with wake.Waker() as waker:
        while not stopping.is_set():
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
            if not stopping.is_set():
                await waker.wait(tick)


STOP_GRACE_SECONDS = 10.0


async def start(app: Litestar) -> None:
    stopping = asyncio.Event()
    app.state.notify_worker_stopping = stopping
    app.state.notify_worker = asyncio.create_task(
        run(app.state.settings, stopping=stopping), name="notify-worker"
    )


async def stop(app: Litestar) -> None:
    """Ask the loop to finish its round; cancel it if it takes longer than STOP_GRACE_SECONDS."""
    task: asyncio.Task | None = app.state.get("notify_worker")
    if task is None:
        return
    app.state.notify_worker_stopping.set()
    nudge()
    try:
        await asyncio.wait_for(asyncio.shield(task), STOP_GRACE_SECONDS)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    app.state.notify_worker = None
