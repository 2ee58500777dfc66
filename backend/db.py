"""The database engine (SQLite with WAL, or PostgreSQL) and the write-transaction helper."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from backend.settings import Settings, get_settings

os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")

# Seconds an SQLite writer waits for the lock before failing; writers queue rather than error.
SQLITE_BUSY_TIMEOUT = 30


def make_engine(settings: Settings) -> SQLiteEngine | PostgresEngine:
    if settings.engine == "postgresql":
        return PostgresEngine(config={"dsn": settings.database_url})
    path = settings.sqlite_path
    private_file(path)
    return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT)


def private_file(path: Path) -> None:
    """Make the SQLite file (and its directory, when new) readable by this account only: it holds
    every party's name, phone and ID number. SQLite gives its -wal and -shm files the file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # made by an older version (0644)


def private_data_dir(settings: Settings) -> None:
    """Close the data directory and the photos to other accounts (older versions made them 0755);
    new files are private anyway (the CLI's umask, storage's modes)."""
    for path in (settings.data_dir, settings.media_dir, settings.secrets_dir):
        if path.is_dir() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
    if settings.engine == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            file = Path(f"{settings.sqlite_path}{suffix}")
            if file.is_file() and file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)


DB = make_engine(get_settings())


def engine_name() -> str:
    return "postgresql" if DB.engine_type == "postgres" else "sqlite"


# SQLite has one writer at a time. Its busy handler makes waiting writers sleep and retry with
# growing pauses, which is unfair: under 10 concurrent writers some wait seconds. Within one process
# an asyncio lock queues writers first come, first served, and SQLite's own lock (with the busy
# timeout) still guards against other processes (the CLI, a second server).
_writer_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
_holds_writer_lock: contextvars.ContextVar[bool] = contextvars.ContextVar("holds_writer_lock", default=False)


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for writes: IMMEDIATE on SQLite so the write lock is taken up front
    (a deferred one that upgrades later fails with 'database is locked' under concurrency).
    Nested calls join the outer transaction."""
    if not isinstance(DB, SQLiteEngine):
        async with DB.transaction() as transaction:
            yield transaction
        return
    if _holds_writer_lock.get():
        async with DB.transaction(transaction_type=TransactionType.immediate) as transaction:
            yield transaction
        return
    loop = asyncio.get_running_loop()
    lock = _writer_locks.setdefault(loop, asyncio.Lock())
    async with lock:
        token = _holds_writer_lock.set(True)
        try:
            async with DB.transaction(transaction_type=TransactionType.immediate) as transaction:
                yield transaction
        finally:
            _holds_writer_lock.reset(token)


def read_transaction() -> Any:
    """Several reads on one connection: Piccolo's SQLite engine otherwise opens a connection (and a
    thread) per query, which dominates the cost of a page made of ten small queries."""
    return DB.transaction()


async def prepare() -> None:
    """Per-process start-up: WAL for SQLite (kept in the file), a pool for PostgreSQL."""
    if isinstance(DB, SQLiteEngine):
        await prepare_file_only()
    elif DB.pool is None:
        await DB.start_connection_pool(min_size=1, max_size=10)


async def close() -> None:
    if isinstance(DB, PostgresEngine) and DB.pool is not None:
        await DB.close_connection_pool()
        DB.pool = None


async def migrate() -> list[str]:
    """Apply pending migrations from ../migrations; returns the ids applied."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    before = set((await migration_state())["applied_ids"])
    result = await run_forwards(app_name="fengqiao", migration_id="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
    await prepare_file_only()
    after = (await migration_state())["applied_ids"]
    return [m for m in after if m not in before]


async def prepare_file_only() -> None:
    if isinstance(DB, SQLiteEngine):
        await DB.run_ddl("PRAGMA journal_mode=WAL")


def migration_ids() -> list[str]:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    from backend.piccolo_app import APP_CONFIG

    modules = BaseMigrationManager().get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    return sorted(modules)


async def migration_state() -> dict[str, Any]:
    """Which migrations are applied and which are pending (for /api/health and `migrate`)."""
    from piccolo.apps.migrations.tables import Migration

    known = migration_ids()
    if not await Migration.table_exists().run():
        applied: list[str] = []
    else:
        rows = await Migration.select(Migration.name).where(Migration.app_name == "fengqiao").run()
        applied = sorted(r["name"] for r in rows)
    pending = [m for m in known if m not in applied]
    return {"applied": len(applied), "applied_ids": applied, "pending": pending}
