"""A real server process for the OpenAPI fuzz pass, and the browser fixtures of tests/e2e for the CSP
test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import _free_port, browser, chromium_path, phone  # noqa: F401


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
    port = _free_port()
    env = {**os.environ, **server_env, "FENGQIAO_DATABASE_URL": database_url, "FENGQIAO_PORT": str(port)}
    log_path = Path(os.environ["FENGQIAO_DATA_DIR"]) / f"api-server-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a loaded CI machine
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            process.kill()
            raise RuntimeError(f"the server did not start: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            yield Server(base, log_path)
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def live_server(api_server, request) -> str:
    """tests/e2e's server for the browser fixtures, with api_server's longer wait for a busy machine."""
    request.getfixturevalue("chromium_path")  # skips without Chromium, fails without a PWA build
    return api_server.base
