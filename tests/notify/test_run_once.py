"""Periodic jobs run in one process at a time (notify/worker.py `alone`): on PostgreSQL a job holds its
advisory lock while it runs, and a second scheduler (another process: another database session) that
finds it taken skips its turn."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from backend import db
from backend.notify import worker
from backend.settings import load_settings


@pytest.fixture
def postgresql_only(database):
    if db.engine_name() != "postgresql":
        pytest.skip("SQLite serves from one process: its scheduler is alone by construction")


async def test_sqlite_has_one_scheduler_and_it_always_runs(database):
    if db.engine_name() != "sqlite":
        pytest.skip("the PostgreSQL case is below")
    ran = []

    async def job() -> None:
        ran.append(1)

    assert await worker.run_job("test.once", job) and ran == [1]


async def test_a_job_running_in_one_session_is_skipped_by_another(postgresql_only):
    started, release, runs = asyncio.Event(), asyncio.Event(), []

    async def job() -> None:
        runs.append(1)
        started.set()
        await release.wait()

    first = asyncio.create_task(worker.run_job("test.once", job))
    await asyncio.wait_for(started.wait(), 10)
    assert await worker.run_job("test.once", job) is False
    assert await worker.run_job("test.other", lambda: asyncio.sleep(0)) is True  # locks are per job
    release.set()
    assert await asyncio.wait_for(first, 10) is True
    assert runs == [1]
    assert await worker.run_job("test.once", job) is True  # released: the next turn runs it
    assert runs == [1, 1]


async def test_two_schedulers_run_a_due_job_once(postgresql_only, monkeypatch):
    runs, results = [], []
    started, skipped, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def job() -> None:
        runs.append(1)
        started.set()
        await release.wait()

    real_run_job = worker.run_job

    async def counted(name: str, job_) -> bool:
        ran = await real_run_job(name, job_)
        results.append(ran)
        if not ran:
            skipped.set()
        return ran

    monkeypatch.setattr(worker, "_periodic", {"test.once": (lambda settings: 3600.0, job)})
    monkeypatch.setattr(worker, "run_job", counted)
    settings = load_settings()
    stops = [asyncio.Event(), asyncio.Event()]
    schedulers = [asyncio.create_task(worker.run(settings, tick=0.1, stopping=stop)) for stop in stops]
    try:
        # The job started in one scheduler, and the other, finding it running, skipped its turn.
        await asyncio.wait_for(asyncio.gather(started.wait(), skipped.wait()), 20)
        assert runs == [1]
    finally:
        release.set()
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*schedulers), 20)
    assert runs == [1] and sorted(results) == [False, True]


async def test_a_lock_whose_unlock_is_cut_short_ends_with_its_connection(postgresql_only, monkeypatch):
    # The pool's reset keeps session state (db.prepare), so a connection still holding a job's
    # lock must not go back to the pool: the job would never run in another process again.
    real_execute = asyncpg.Connection.execute

    async def cut_short(self, query, *args, **kwargs):
        if "pg_advisory_unlock(" in query:
            raise ConnectionResetError("the link dropped")
        return await real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.Connection, "execute", cut_short)
    with pytest.raises(ConnectionResetError):
        await worker.run_job("test.cut", lambda: asyncio.sleep(0))
    monkeypatch.setattr(asyncpg.Connection, "execute", real_execute)
    other = await asyncpg.connect(db.DB.config["dsn"])  # another process's session
    try:
        key = (worker.JOB_LOCK_NAMESPACE, worker.job_lock_key("test.cut"))
        assert await other.fetchval("SELECT pg_try_advisory_lock($1, $2)", *key) is True
        assert await worker.run_job("test.cut", lambda: asyncio.sleep(0)) is False  # `other` has it
    finally:
        await other.close()
    assert await worker.run_job("test.cut", lambda: asyncio.sleep(0)) is True
