"""Test set-up: every test on its own copy of a migrated database, on SQLite or PostgreSQL.

`pytest` runs on SQLite. `pytest --engine=postgresql` runs the same suite on PostgreSQL, on the server
named by FENGQIAO_TEST_POSTGRES_URL (set by .ci/run); without it that run is skipped with a message
saying so. How the copies are made: tests/databases.py.

Fixtures: `database` (the test's own database, migrated, with the demo; its URL), `app` and `client`
(the app on it, called in this event loop), `database_url` (for server processes and CLI runs).
A directory or module with data of its own overrides `template` (see tests/reports/conftest.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.databases import Databases, Template, forget_cached_grids, grid_key

PG_URL_VAR = "FENGQIAO_TEST_POSTGRES_URL"
_state: dict[str, object] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engine",
        choices=["sqlite", "postgresql"],
        default=os.environ.get("FENGQIAO_TEST_ENGINE", "sqlite"),
        help="database engine for this run",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The engine is chosen before any backend module is imported: Piccolo binds tables at import.
    engine = config.getoption("--engine")
    data_dir = Path(tempfile.mkdtemp(prefix="fengqiao-test-"))
    _state["data_dir"] = data_dir
    os.environ["FENGQIAO_DATA_DIR"] = str(data_dir)
    os.environ["FENGQIAO_LOG_LEVEL"] = "WARNING"
    # Thousands of sign-ins: Argon2 at its cheapest (hashes carry their parameters; see core/auth.py).
    os.environ["FENGQIAO_PASSWORD_HASHING"] = "fast-insecure"
    run_id = uuid.uuid4().hex[:8]
    server_url = os.environ.get(PG_URL_VAR)
    if engine == "postgresql" and not server_url:
        _state["skip"] = (
            f"PostgreSQL run skipped: {PG_URL_VAR} is not set "
            "(e.g. postgresql://postgres@127.0.0.1:5432/postgres; .ci/run sets it)"
        )
        os.environ["FENGQIAO_DATABASE_URL"] = f"sqlite:///{data_dir / 'unused.sqlite3'}"
        return
    databases = Databases(engine, data_dir, run_id, server_url if engine == "postgresql" else None)
    _state["databases"] = databases
    url = databases.template_url()
    asyncio.run(databases.create_empty(url))
    os.environ["FENGQIAO_DATABASE_URL"] = url


def pytest_report_header(config: pytest.Config) -> str:
    return f"fengqiao database: {config.getoption('--engine')} {_state.get('skip', '')}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "skip" in _state:
        marker = pytest.mark.skip(reason=str(_state["skip"]))
        for item in items:
            item.add_marker(marker)


def pytest_unconfigure(config: pytest.Config) -> None:
    databases = _state.get("databases")
    if isinstance(databases, Databases):
        asyncio.run(databases.drop_all())
    shutil.rmtree(str(_state.get("data_dir", "")), ignore_errors=True)


@pytest.fixture(scope="session")
async def databases():
    databases = _state["databases"]
    yield databases
    await databases.finish()


@pytest.fixture(scope="session")
async def template(databases: Databases) -> Template:
    """The schema, built by the migrations themselves, and the Changning demo: made once per run."""
    from backend import db, wiring
    from backend.demo import loader as demo

    wiring.connect()
    url = databases.template_url()
    await databases.bind(url)
    forget_cached_grids()  # built lazily: a worker may have run tests on other templates first
    applied = await db.migrate()
    assert applied, "the test database must start empty and be built by migrations"
    await demo.load_demo()
    key = await grid_key()
    await databases.seal(url)
    return Template(url=url, grid_key=key)


@pytest.fixture
async def database(databases: Databases, template: Template):
    """This test's own copy of the template (its URL); the backend is bound to it."""
    from backend.core import refcache
    from backend.grids import county
    from backend.grids.maps import forget_cached_grids
    from backend.people import session_cache
    from backend.settings import get_settings
    from tests import factories

    url = await databases.take_copy(template)
    await databases.bind(url)
    # Photos live on disk beside the database: a test starts with none, like its database.
    shutil.rmtree(get_settings().media_dir, ignore_errors=True)
    factories.forget_sessions()
    session_cache.clear()  # user ids repeat across copies
    refcache.forget_all()  # categories, rules and division names are the copy's own
    county.forget()  # a test may set up another county (fengqiao init)
    yield url
    if await grid_key() != template.grid_key:
        # Generation ids repeat across copies: what this test imported must not be served to the next.
        forget_cached_grids()
    await databases.put_back(url)


@pytest.fixture
def database_url(database: str) -> str:
    """The test's database, for server processes and command-line runs."""
    return database


_apps: dict[str, object] = {}  # built apps, by their settings apart from the database


@pytest.fixture
async def app(database):
    """The app on this test's database. Building one costs 0.1–0.2 s (Litestar checks every handler's
    signature), a minute or two over the suite, so an app is reused by the tests whose settings differ
    only in the database, with its state set back to what a new one has (backend/app.py:
    initial_state). A test that changes a setting gets an app built for it."""
    from dataclasses import replace

    from backend.app import create_app, initial_state
    from backend.core import secrets
    from backend.settings import load_settings

    settings = load_settings()
    secret = secrets.jwt_secret(settings.secrets_dir)  # built into the app's JWTAuth: part of the key
    key = repr((replace(settings, database_url=""), secret))
    built = _apps.get(key)
    if built is None:
        built = _apps[key] = create_app(settings, manage_database=False)
    else:
        built.state.clear()
        built.state.update(initial_state(settings, secret))
    return built


@pytest.fixture
async def client(app):
    """An HTTP client calling the app in this event loop (Litestar's AsyncTestClient runs the app
    in another thread's loop, which a PostgreSQL pool made in this loop cannot serve)."""
    import httpx

    # No lifespan here: start-up work must not be needed per test (it runs in the session fixture).
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
