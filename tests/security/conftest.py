"""A real server process for the OpenAPI fuzz pass, and the browser fixtures of tests/e2e for the CSP
test."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import browser, chromium_path, phone  # noqa: F401
from tests.live import serve_process


@dataclass(frozen=True)
class Server:
    base: str
    log: Path  # its stdout and stderr: each unhandled error is logged there (core/http.py)


@pytest.fixture
def server_env() -> dict[str, str]:
    """More environment for api_server (a test parametrizes it to change a setting)."""
    return {}


@pytest.fixture
def api_server(database_url, server_env):
    """`fengqiao serve` in its own process on the test's database (no PWA needed)."""
    with serve_process(database_url, "api-server", server_env) as (base, log):
        yield Server(base, log)


@pytest.fixture
def live_server(api_server, request) -> str:
    """tests/e2e's server for the browser fixtures, with api_server's longer wait for a busy machine."""
    request.getfixturevalue("chromium_path")  # skips without Chromium, fails without a PWA build
    return api_server.base
