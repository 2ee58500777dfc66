"""The in-process delivery loop of a running server: push deliveries and SMS escalations as soon as
they are due (woken early by a nudge), and the periodic jobs other domains register (the visit
reminders, every few minutes). Several processes run it at once (`fengqiao serve --workers N` on
PostgreSQL), and each piece of work is done once:

- deliveries: every process sends, but each push delivery and each SMS is claimed by one process
  (FOR UPDATE SKIP LOCKED, with a lease a crashed process's claim outlives), so a nudge in the process
  that wrote a notification sends it at once, wherever the others are;
- periodic jobs (reminders, 督办 escalation, sync expiry, stale uploads): a job runs in one process at
  a time, under a PostgreSQL session advisory lock per job (`alone`); a process that finds it taken
  skips its turn. The jobs also claim their rows, so even a run racing past the lock does nothing twice.

Started and stopped with the app (only for the real server, never in tests' app instances)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Litestar
from piccolo.engine.postgres import PostgresEngine

from backend import db
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

# Advisory lock keys of the periodic jobs (PostgreSQL's two-int4 form): "FJ", then the name's CRC.
JOB_LOCK_NAMESPACE = 0x464A


def job_lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


@contextlib.asynccontextmanager
async def alone(name: str) -> AsyncIterator[bool]:
    """Whether this process may run job `name` now: on PostgreSQL, True while it holds the job's
    session advisory lock (no other process runs the job meanwhile), False when another holds it.
    The lock lives on a connection kept for the job's length; an unlock cut short closes that
    connection, which ends the lock with the session (the pool's reset does not release session
    locks: db.prepare). SQLite has one server process: always True."""
    engine = db.DB
    if not isinstance(engine, PostgresEngine):
        yield True
        return
    pool = engine.pool
    connection = await (pool.acquire() if pool is not None else engine.get_new_connection())
    key = (JOB_LOCK_NAMESPACE, job_lock_key(name))
    unlocked = False
    try:
        mine = bool(await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key))
        try:
            yield mine
        finally:
            if mine:
                await connection.execute("SELECT pg_advisory_unlock($1, $2)", *key)
            unlocked = True
    finally:
        if not unlocked:
            connection.terminate()  # the lock may still be held: it ends with the session
        if pool is not None:
            await pool.release(connection)
        elif not connection.is_closed():
            await connection.close()


async def run_job(name: str, job: Job) -> bool:
    """Run a periodic job unless another process is running it; whether it ran here."""
    async with alone(name) as mine:
        if mine:
            await job()
        return mine


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
                        await run_job(name, job)
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
