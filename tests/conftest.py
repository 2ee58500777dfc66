"""Test set-up: one database per run, built by running the migrations, on SQLite or PostgreSQL.

`pytest` runs on SQLite. `pytest --engine=postgresql` runs the same suite on a fresh PostgreSQL
database made on the server named by FENGQIAO_TEST_POSTGRES_URL (set by .ci/run); without it that
run is skipped with a message saying so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

PG_URL_VAR = "FENGQIAO_TEST_POSTGRES_URL"
_state: dict[str, str] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("FENGQIAO_TEST_ENGINE", "sqlite"),
        help="database engine for this run",
    )


async def _create_pg_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pytest_configure(config: pytest.Config) -> None:
    # The engine is chosen before any backend module is imported: Piccolo binds tables at import.
    engine = config.getoption("--engine")
    data_dir = Path(tempfile.mkdtemp(prefix="fengqiao-test-"))
    _state["data_dir"] = str(data_dir)
    os.environ["FENGQIAO_DATA_DIR"] = str(data_dir)
    os.environ["FENGQIAO_LOG_LEVEL"] = "WARNING"
    if engine == "postgresql":
        server_url = os.environ.get(PG_URL_VAR)
        if not server_url:
            _state["skip"] = (
                f"PostgreSQL run skipped: {PG_URL_VAR} is not set "
                "(e.g. postgresql://postgres@127.0.0.1:5432/postgres; .ci/run sets it)"
            )
            os.environ["FENGQIAO_DATABASE_URL"] = f"sqlite:///{data_dir / 'unused.sqlite3'}"
            return
        name = f"fengqiao_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(_create_pg_database(server_url, name))
        _state["pg_server"], _state["pg_name"] = server_url, name
        base = server_url.rsplit("/", 1)[0]
        os.environ["FENGQIAO_DATABASE_URL"] = f"{base}/{name}"
    else:
        os.environ["FENGQIAO_DATABASE_URL"] = f"sqlite:///{data_dir / 'test.sqlite3'}"
    _state["database_url"] = os.environ["FENGQIAO_DATABASE_URL"]


def pytest_report_header(config: pytest.Config) -> str:
    return f"fengqiao database: {config.getoption('--engine')} {_state.get('skip', '')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "skip" in _state:
        marker = pytest.mark.skip(reason=_state["skip"])
        for item in items:
            item.add_marker(marker)


def pytest_unconfigure(config: pytest.Config) -> None:
    if "pg_name" in _state:
        asyncio.run(_drop_pg_database(_state["pg_server"], _state["pg_name"]))
    shutil.rmtree(_state.get("data_dir", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def database_url() -> str:
    return _state["database_url"]


@pytest.fixture(scope="session")
async def migrated_db():
    """The schema, built by the migrations themselves, and the Changning demo loaded once."""
    from backend import db, demo, wiring

    wiring.connect()
    await db.prepare()
    applied = await db.migrate()
    assert applied, "the test database must start empty and be built by migrations"
    await demo.load_demo()
    yield db
    await db.close()


@pytest.fixture
async def app(migrated_db):
    from backend.app import create_app
    from backend.settings import load_settings

    return create_app(load_settings(), manage_database=False)


@pytest.fixture
async def client(app):
    """An HTTP client calling the app in this event loop (Litestar's AsyncTestClient runs the app
    in another thread's loop, which a PostgreSQL pool made in this loop cannot serve)."""
    import httpx

    # No lifespan here: start-up work must not be needed per test (it runs in the session fixture).
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
