"""The database engine (SQLite with WAL, or PostgreSQL) and the write-transaction helper."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import dataclasses
import enum
import functools
import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
from piccolo.columns import JSON, JSONB, Column, Serial
from piccolo.columns.defaults.base import Default
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory
from piccolo.querystring import QueryString
from piccolo.table import Table
from piccolo.utils.sql_values import convert_to_sql_value

from backend.settings import Settings, get_settings

os.environ.setdefault("PICCOLO_CONF", "backend.piccolo_conf")

# Seconds an SQLite writer waits for the lock before failing; writers queue rather than error.
SQLITE_BUSY_TIMEOUT = 30


# --- SQLite's converters -----------------------------------------------------------------------------
# Piccolo registers a Python function per declared type that SQLite calls for every value read;
# its INTEGER one goes through Decimal, and each is wrapped to accept text too (for its arrays,
# which keep their own). A case-list page reads some 1,500 values: these do the same for SQLite's
# bytes at about half the cost. They replace Piccolo's for the whole process (sqlite3's registry
# is global), and return exactly what Piccolo's return (tests/core/test_db.py compares them).
def _integer_out(value: bytes) -> int:
    try:
        return int(value)
    except ValueError:  # "1.0": SQLite does not enforce INTEGER; Piccolo accepts it too
        return int(Decimal(value.decode()))


def _timestamptz_out(value: bytes) -> datetime:
    return datetime.fromisoformat(value.decode()).replace(tzinfo=UTC)


def _uuid_out(value: bytes) -> uuid.UUID:
    return uuid.UUID(value.decode())


def _boolean_out(value: bytes) -> bool:
    return value == b"1"


SQLITE_CONVERTERS: dict[str, Callable[[bytes], Any]] = {
    "INTEGER": _integer_out,
    "TIMESTAMPTZ": _timestamptz_out,
    "UUID": _uuid_out,
    "BOOLEAN": _boolean_out,
}
for _type, _converter in SQLITE_CONVERTERS.items():
    sqlite3.register_converter(_type, _converter)


def make_engine(settings: Settings) -> SQLiteEngine | PostgresEngine:
    if settings.engine == "postgresql":
        return PostgresEngine(config={"dsn": settings.database_url})
    path = settings.sqlite_path
    private_file(path)
    return PooledSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT)


# --- SQLite: connections kept open --------------------------------------------------------------
#
# Piccolo's SQLite engine opens a connection (and with it a thread) for every query outside a
# transaction and closes it after: ~1-3 ms a query, most of an authenticated GET. This engine keeps
# up to POOL_SIZE idle connections and reuses them; more are opened when more queries are in flight
# at once and closed when they come back to a full pool (so nothing ever waits for a connection).
# - Reads outside a transaction run on any pooled connection (WAL: readers do not block the writer).
# - Writes outside a transaction queue for the in-process writer turn first, like write_transaction,
#   instead of sleeping in SQLite's busy handler.
# - A transaction holds one pooled connection from BEGIN to COMMIT/ROLLBACK; nesting joins the outer
#   one (Piccolo's rule), write_transaction still begins IMMEDIATE under the writer turn.
# - A connection is used only while the database file is the one it opened: a file replaced or
#   deleted under the server is opened anew, as before; pointing the engine at another file (the
#   tests' copies) drops the pool.
# - Each query is one round trip to the connection's thread (execute and fetch together), and the
#   per-query `PRAGMA foreign_keys` Piccolo sends is set once per connection instead.
# (A file replaced is noticed within FILE_RECHECK_SECONDS; `fengqiao restore` asks for the server to
# be stopped anyway.)

POOL_SIZE = 16
FILE_RECHECK_SECONDS = 1.0
# What surely only reads (anything else takes the writer turn; a read taken for a write only waits).
_READ = re.compile(r"\s*\(?\s*(select|with)\b", re.IGNORECASE)
_WRITE_WORD = re.compile(r"\b(insert|update|delete|replace)\b", re.IGNORECASE)


def _only_reads(query: str) -> bool:
    return bool(_READ.match(query)) and not _WRITE_WORD.search(query)


class PooledTransaction(SQLiteTransaction):
    """Piccolo's SQLite transaction on a pooled connection, given back (not closed) at the end."""

    engine: PooledSQLiteEngine

    async def __aenter__(self) -> PooledTransaction:
        if self._parent is not None:
            return self._parent  # type: ignore[return-value]
        self.connection = await self.engine.checkout()
        try:
            await self.begin()
        except BaseException:
            await self.engine.checkin(self.connection)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        except BaseException:
            await self.engine.discard(self.connection)
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
        await self.engine.checkin(self.connection)
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    """SQLiteEngine with its connections kept open and reused (see above)."""

    def __init__(self, path: str, pool_size: int = POOL_SIZE, **connection_kwargs: Any) -> None:
        self._idle: list[aiosqlite.Connection] = []
        self._files: dict[int, tuple[int, int] | None] = {}  # id(connection) -> the file it opened
        self._file: tuple[int, int] | None = None
        self._file_checked = -FILE_RECHECK_SECONDS
        self.pool_size = pool_size
        super().__init__(path=path, **connection_kwargs)

    @property
    def path(self) -> str:
        return str(self.connection_kwargs["database"])

    @path.setter
    def path(self, value: str) -> None:
        # Another database (the tests' copies): connections to the old file are not used again.
        self.connection_kwargs["database"] = value
        self._file_checked = -FILE_RECHECK_SECONDS
        idle, self._idle = self._idle, []
        for connection in idle:
            self._files.pop(id(connection), None)
            connection.stop()

    def _file_id(self, fresh: bool = False) -> tuple[int, int] | None:
        # Looked at once a second at most: a stat releases the GIL, and the connections' threads
        # waiting for it make each release cost up to a switch interval under load.
        now = time.monotonic()
        if fresh or now - self._file_checked > FILE_RECHECK_SECONDS:
            try:
                stat = os.stat(self.path)
                self._file = (stat.st_dev, stat.st_ino)
            except FileNotFoundError:
                self._file = None
            self._file_checked = now
        return self._file

    async def get_connection(self) -> aiosqlite.Connection:
        """A new connection (Piccolo's batch() and anyone outside the pool close it themselves)."""
        connection = aiosqlite.connect(**self.connection_kwargs)
        # Its worker thread must not keep a finishing process alive (the CLI's one-shot commands
        # leave their pooled connections idle): SQLite in WAL needs no orderly close to stay whole.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def checkout(self) -> aiosqlite.Connection:
        current = self._file_id()
        while self._idle:
            connection = self._idle.pop()
            if current is not None and self._files.get(id(connection)) == current:
                return connection
            await self.discard(connection)
        connection = await self.get_connection()
        self._files[id(connection)] = self._file_id(fresh=True)
        return connection

    async def checkin(self, connection: aiosqlite.Connection) -> None:
        reusable = (
            len(self._idle) < self.pool_size
            and connection._connection is not None
            and not connection.in_transaction
            and self._files.get(id(connection)) == self._file_id()
        )
        if reusable:
            self._idle.append(connection)
        else:
            await self.discard(connection)

    async def discard(self, connection: aiosqlite.Connection) -> None:
        self._files.pop(id(connection), None)
        with contextlib.suppress(Exception):
            await connection.close()

    async def close_pool(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await self.discard(connection)

    def transaction(
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True
    ) -> PooledTransaction:
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(
        self, query: str, args: list[Any] | None = None, query_type: str = "generic", table: Any = None
    ) -> Any:
        # Not in a transaction (Piccolo's name): a pooled connection, and the writer turn for writes.
        if _only_reads(query):
            return await self._run_pooled(query, args)
        async with _writer_turn():
            return await self._run_pooled(query, args)

    async def _run_pooled(self, query: str, args: list[Any] | None) -> Any:
        connection = await self.checkout()
        try:
            return await connection.execute_fetchall(query, args or [])
        finally:
            # Also when cancelled: a statement still running on the connection's thread finishes
            # before the next one queued there starts.
            await self.checkin(connection)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        return await connection.execute_fetchall(query, args or [])


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
async def _writer_turn() -> AsyncIterator[None]:
    """This process's turn to write to SQLite (first come, first served); re-entered freely."""
    if _holds_writer_lock.get():
        yield
        return
    loop = asyncio.get_running_loop()
    lock = _writer_locks.setdefault(loop, asyncio.Lock())
    async with lock:
        token = _holds_writer_lock.set(True)
        try:
            yield
        finally:
            _holds_writer_lock.reset(token)


# What to do once the outermost write_transaction of this task is over (see after_commit).
_after_commit: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "after_commit", default=None
)


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for writes: IMMEDIATE on SQLite so the write lock is taken up front
    (a deferred one that upgrades later fails with 'database is locked' under concurrency).
    Nested calls join the outer transaction."""
    if _after_commit.get() is not None:  # nested: the outer one runs the callbacks
        async with _transaction() as transaction:
            yield transaction
        return
    callbacks: list[Callable[[], None]] = []
    token = _after_commit.set(callbacks)
    try:
        async with _transaction() as transaction:
            yield transaction
    finally:
        _after_commit.reset(token)
        for callback in callbacks:
            callback()


@contextlib.asynccontextmanager
async def _transaction() -> AsyncIterator[Any]:
    if not isinstance(DB, SQLiteEngine):
        async with DB.transaction() as transaction:
            yield transaction
        return
    async with _writer_turn(), DB.transaction(transaction_type=TransactionType.immediate) as transaction:
        yield transaction


def after_commit(callback: Callable[[], None]) -> None:
    """Run `callback` when the write_transaction this task is in has ended (committed or rolled
    back), or now when it is in none. For in-process caches of rows a transaction changes: a
    reader that looked between the change and its commit saw the old row and may have cached it."""
    callbacks = _after_commit.get()
    if callbacks is None:
        callback()
    else:
        callbacks.append(callback)


def read_transaction() -> Any:
    """Several reads on one connection and one snapshot (a page made of ten small queries)."""
    return DB.transaction()


# SQLite runs every query on its connection's own thread (aiosqlite), and hands the rows back to
# the event loop. Under load the loop and those threads take turns at the GIL, and at CPython's
# default switch interval (5 ms) each hand-over can wait up to that long for the thread holding it:
# 30 concurrent case-list pages cost 33 ms each against 18 ms one at a time. At 0.5 ms: 19 ms
# (bench/README.md, "Issue 19, second pass"). PostgreSQL's driver runs on the loop and needs none.
GIL_SWITCH_SECONDS = 0.0005


async def prepare() -> None:
    """Per-process start-up: WAL for SQLite (kept in the file), a pool for PostgreSQL."""
    if isinstance(DB, SQLiteEngine):
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        await prepare_file_only()
    elif DB.pool is None:
        await DB.start_connection_pool(min_size=1, max_size=10, reset=_keep_session)


async def _keep_session(connection: Any) -> None:
    """The pool's reset when a connection comes back. asyncpg has already rolled back a transaction
    left open; its default reset then also sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` — a round trip on every request and two on every sync push, for session state this
    application never leaves on a pooled connection: its advisory locks are transaction-level, its
    LISTEN has a connection of its own (core/bus.py), it sets nothing with SET. The one session lock,
    a periodic job's (notify/worker.py `alone`), closes its connection when it cannot unlock."""


async def close() -> None:
    if isinstance(DB, PooledSQLiteEngine):
        await DB.close_pool()
    if isinstance(DB, PostgresEngine) and DB.pool is not None:
        await DB.close_connection_pool()
        DB.pool = None


# --- inserts on the write path ---------------------------------------------------------------------
# Piccolo builds an INSERT from a Table instance column by column, and constructing the instance
# goes through every column too: for a case (52 columns, five of them foreign keys, whose attribute
# access Piccolo routes through dir()) that took 6 ms to build and 1.5 ms to construct on the
# development box, more than the database took to store it. These write the same statement from a
# plan made once per table, with the values passed as parameters exactly as Piccolo passes them
# (convert_to_sql_value), and the defaults Table() would fill in.


_PLAIN = frozenset({str, int, float, bool, type(None), uuid.UUID, datetime, Decimal, bytes})


@dataclasses.dataclass(frozen=True)
class _Plan:
    start: str  # INSERT INTO "table" ("a","b",...) VALUES
    one: str  # ({},{},...)
    columns: tuple[Column, ...]
    names: tuple[str, ...]
    defaults: tuple[tuple[str, Any, bool], ...]  # (name, default or Default, nullable)
    json: tuple[bool, ...]  # whether each column is JSON (its dicts and lists go as text)


@functools.cache
def _insert_plan(table: type[Table]) -> _Plan:
    columns = tuple(c for c in table._meta.columns if not isinstance(c, Serial))
    names = tuple(c._meta.name for c in columns)
    quoted = ",".join(f'"{c._meta.db_column_name}"' for c in columns)
    return _Plan(
        start=f'INSERT INTO "{table._meta.tablename}" ({quoted}) VALUES ',
        one="(" + ",".join("{}" for _ in columns) + ")",
        columns=columns,
        names=names,
        defaults=tuple((c._meta.name, getattr(c, "default", None), c._meta.null) for c in columns),
        json=tuple(isinstance(c, JSON | JSONB) for c in columns),
    )


def new_row(table: type[Table], **values: Any) -> dict[str, Any]:
    """A row of `table` as `table(**values)` would make it: the values given, the column defaults for
    the rest (a serial id is left to the database). An unknown name or a missing required value is a
    ValueError, as it is for Table()."""
    row: dict[str, Any] = {}
    for name, default, nullable in _insert_plan(table).defaults:
        if name in values:
            row[name] = values.pop(name)
            continue
        if isinstance(default, Default):
            value = default.python()
        elif isinstance(default, enum.Enum):
            value = default.value
        elif callable(default):
            value = default()
        else:
            value = copy.copy(default)
        if value is None and not nullable:
            raise ValueError(f"{name} wasn't provided")
        row[name] = value
    if values:
        raise ValueError(f"Unrecognized columns - {sorted(values)}")
    return row


def _values(plan: _Plan, rows: list[dict[str, Any]]) -> list[Any]:
    return [
        # A plain value goes as it is, which is what convert_to_sql_value returns for it (it only
        # changes JSON, enums, table instances and lists); its imports and checks cost more.
        value
        if type(value) in _PLAIN and not plain_json
        else convert_to_sql_value(value=value, column=column)
        for row in rows
        for name, column, plain_json in zip(plan.names, plan.columns, plan.json, strict=True)
        for value in (row[name],)
    ]


async def insert_rows(table: type[Table], rows: list[dict[str, Any]]) -> None:
    """INSERT rows made by new_row, in one statement."""
    if not rows:
        return
    plan = _insert_plan(table)
    await DB.run_querystring(QueryString(plan.start + ",".join([plan.one] * len(rows)), *_values(plan, rows)))


def insert_columns(table: type[Table]) -> tuple[str, ...]:
    """The columns insert_parts names, in its order."""
    return _insert_plan(table).names


def insert_parts(table: type[Table], row: dict[str, Any]) -> tuple[str, list[Any]]:
    """For an INSERT written by hand (`INSERT INTO {target} SELECT …` in a statement that does more):
    `"table" ("a","b",…)` and the row's values, as insert_rows passes them, in insert_columns' order."""
    plan = _insert_plan(table)
    return plan.start.removeprefix("INSERT INTO ").removesuffix(" VALUES "), _values(plan, [row])


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of a statement written by hand, `{}` for each argument (passed as parameters, never
    pasted in). For the hot paths where Piccolo's query building costs more than the query."""
    return await DB.run_querystring(QueryString(sql, *args))


def placeholders(values: Sequence[Any]) -> str:
    """`{}, {}, …` for an IN list of these values (at least one: `IN ()` is not SQL)."""
    if not values:
        raise ValueError("an IN list needs at least one value")
    return ", ".join(["{}"] * len(values))


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
