"""A real server process for the fault tests, on the session's database (SQLite file or PostgreSQL).

Nothing from `backend` is imported at module level: pytest loads this file before the root conftest
has chosen the database, and Piccolo binds at import.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`fengqiao serve` in its own process; start, SIGKILL and start again on the same database."""

    def __init__(self, database_url: str, env: dict[str, str]) -> None:
        self.database_url = database_url
        self.env = env
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.log_path = Path(os.environ["FENGQIAO_DATA_DIR"]) / "sync-server.log"

    def start(self) -> int:
        self.port = _free_port()
        env = {
            **os.environ,
            **self.env,
            "FENGQIAO_DATABASE_URL": self.database_url,
            "FENGQIAO_PORT": str(self.port),
            "FENGQIAO_LOG_LEVEL": "WARNING",
        }
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return self.port
            except httpx.TransportError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the server did not start; see {self.log_path}")

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (Linux /proc), to tell server-bound from link-bound."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, AttributeError, IndexError, ValueError):
            return 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, whatever was in flight is cut."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def server_process(database_url):
    """A factory of server processes on the test database, all stopped at the end of the test.
    Access tokens last one minute, so phones meet `auth.token_expired` mid-run and refresh."""
    started: list[ServerProcess] = []

    def make(**env: str) -> ServerProcess:
        server = ServerProcess(
            database_url,
            {"FENGQIAO_ACCESS_TOKEN_MINUTES": "1", "FENGQIAO_SYNC_PUSH_PER_MINUTE": "100000", **env},
        )
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
