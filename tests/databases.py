"""Every test gets a database of its own: a copy of a template made once per run.

The base template is built by the migrations themselves (so every run tests them) and the Changning
demo. A directory or module may derive a template of its own from it (the report fixture, a demo
year of cases): built once, copied for each of its tests. So no test sees another test's data, and
tests run alone or in any order.

- SQLite: a template is a checkpointed file; a copy is a file copy (a few milliseconds).
- PostgreSQL: `CREATE DATABASE … TEMPLATE …` (0.1 s on an idle server, 0.5 s under the suite's own
  load), so the next test's copy is made while the current test runs, and a used copy is dropped in
  the background; nothing stays connected to a template.

The backend binds one engine when it is imported (backend.db.DB, shared by every table), so moving
a test to its copy points that engine at the copy in place, and points the settings (which the
server processes and channel backends read) at it too.

Nothing from backend is imported at module level: tests/conftest.py chooses the database first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Template:
    url: str
    data: dict[str, Any] = field(default_factory=dict)  # what the seeding made (ids for the tests)
    grid_key: tuple = ()  # the grid generations it holds, to tell when a test changed them


Seed = Callable[[str], Awaitable[dict[str, Any] | None]]


class Databases:
    """Makes, binds and drops the run's databases. All share the prefix of this run."""

    def __init__(self, engine: str, data_dir: Path, run_id: str, pg_server: str | None = None) -> None:
        self.engine = engine
        self.dir = data_dir / "databases"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix = f"fengqiao_test_{run_id}"
        self.pg_server = pg_server
        self._serial = 0
        self._next: tuple[Template, asyncio.Task[str]] | None = None  # a copy made ahead of time
        self._dropping: set[asyncio.Task[None]] = set()

    # --- names and URLs ---------------------------------------------------------------------------

    def _name(self, label: str) -> str:
        self._serial += 1
        return f"{self.prefix}_{label}_{self._serial}"

    def url_of(self, name: str) -> str:
        if self.engine == "postgresql":
            assert self.pg_server is not None
            return f"{self.pg_server.rsplit('/', 1)[0]}/{name}"
        return f"sqlite:///{self.dir / (name + '.sqlite3')}"

    def template_url(self) -> str:
        """Where the base template is built (the engine binds to it when backend is imported)."""
        return self.url_of(f"{self.prefix}_template")

    # --- PostgreSQL administration ----------------------------------------------------------------

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.pg_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_empty(self, url: str) -> None:
        if self.engine == "postgresql":
            await self._admin(f'CREATE DATABASE "{_db_name(url)}"')

    async def drop_all(self) -> None:
        """Whatever this run left behind (a crashed run's databases have another prefix)."""
        if self.engine != "postgresql":
            return
        import asyncpg

        conn = await asyncpg.connect(self.pg_server)
        try:
            names = await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", self.prefix + "%"
            )
            for row in names:
                await conn.execute(_drop_sql(row["datname"]))
        finally:
            await conn.close()

    # --- copies -----------------------------------------------------------------------------------

    async def copy(self, template: Template, label: str) -> str:
        """A new database with the template's content."""
        url = self.url_of(self._name(label))
        if self.engine == "postgresql":
            await self._admin(f'CREATE DATABASE "{_db_name(url)}" TEMPLATE "{_db_name(template.url)}"')
        else:
            shutil.copyfile(_path(template.url), _path(url))
        return url

    async def take_copy(self, template: Template) -> str:
        """A copy for the next test; on PostgreSQL the one after is started at once, to be made while
        this test runs."""
        if self.engine != "postgresql":
            return await self.copy(template, "t")
        url = None
        if self._next is not None:
            made_from, task = self._next
            self._next = None
            if made_from is template:
                url = await task
            else:
                self._in_background(self._drop_when_made(task))
        url = url or await self.copy(template, "t")
        self._next = (template, asyncio.create_task(self.copy(template, "t")))
        return url

    async def put_back(self, url: str) -> None:
        """Done with a test's copy: dropped (in the background on PostgreSQL)."""
        from backend import db

        await db.close()
        if self.engine == "postgresql":
            self._in_background(self._drop_database(url))
        else:
            await self.drop(url)

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    async def _drop_when_made(self, task: asyncio.Task[str]) -> None:
        await self._drop_database(await task)

    async def _drop_database(self, url: str) -> None:
        await self._admin(_drop_sql(_db_name(url)))

    async def finish(self) -> None:
        """Wait for the background work (the session's end)."""
        if self._next is not None:
            self._in_background(self._drop_when_made(self._next[1]))
            self._next = None
        while self._dropping:
            await asyncio.gather(*list(self._dropping), return_exceptions=True)

    async def drop(self, url: str) -> None:
        from backend import db

        await db.close()
        if self.engine == "postgresql":
            await self._drop_database(url)
        else:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(str(_path(url)) + suffix)

    # --- binding the backend ----------------------------------------------------------------------

    async def bind(self, url: str) -> None:
        """Point the backend's engine and settings at `url`."""
        from backend import db
        from backend.grids import county
        from backend.settings import get_settings

        await db.close()
        os.environ["FENGQIAO_DATABASE_URL"] = url
        get_settings.cache_clear()
        county.forget()  # the county row read from the last database (a test may have made another)
        if self.engine == "postgresql":
            db.DB.config["dsn"] = url
        else:
            db.DB.path = str(_path(url))
        await db.prepare()

    async def seal(self, url: str) -> None:
        """Make `url` fit to be copied: everything on disk in one file (SQLite), no connection open."""
        from backend import db

        if self.engine == "sqlite":
            await db.DB.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")
        await db.close()

    async def bare(self, label: str) -> Template:
        """A template with the schema and nothing else: what a real county starts from (fengqiao init)."""
        from backend import db

        url = self.url_of(self._name(label))
        await self.create_empty(url)
        await self.bind(url)
        forget_cached_grids()  # built lazily, maybe after tests that loaded other grids
        await db.migrate()
        key = await grid_key()
        await self.seal(url)
        return Template(url=url, grid_key=key)

    async def derive(self, base: Template, label: str, seed: Seed) -> Template:
        """A template of `base` plus what `seed(url)` writes (in this process or another)."""
        url = await self.copy(base, label)
        await self.bind(url)
        forget_cached_grids()  # built lazily, maybe after tests that loaded other grids
        data = await seed(url) or {}
        key = await grid_key()
        await self.seal(url)
        return Template(url=url, data=data, grid_key=key)


def forget_cached_grids() -> None:
    from backend.grids.maps import forget_cached_grids as forget

    forget()


async def grid_key() -> tuple:
    """What the in-memory grid data (locate index, map levels) is built from: the generations and
    which are active, how many regions there are, and the divisions' names. A test that changes any of
    it leaves caches the next test must not inherit (tests/conftest.py forgets them)."""
    from backend.grids.tables import Division, GridGeneration, GridRegion

    rows = await GridGeneration.select(GridGeneration.id, GridGeneration.active).run()
    divisions = await Division.select(Division.code, Division.name).run()
    return (
        tuple(sorted((r["id"], bool(r["active"])) for r in rows)),
        await GridRegion.count().run(),
        hash(tuple(sorted((d["code"], d["name"]) for d in divisions))),
    )


def _db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _drop_sql(name: str) -> str:
    return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))
