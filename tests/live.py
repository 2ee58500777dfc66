"""Real servers for tests: `serve_process` runs `fengqiao serve` in a process of its own (the fuzz
pass, several processes on one database); `served_whole` serves the whole app with uvicorn in this event
loop (the browser journeys); `served` runs the app without its start-up work, for what must really
stream (server-sent events), with the local push receivers allowed; `next_event` reads the events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import uvicorn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_process(
    database_url: str, name: str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[tuple[str, Path]]:
    """`fengqiao serve` on a free port on `database_url`, with more `env` and `args` (`--workers 2`):
    its base URL and its log
    (stdout and stderr; each unhandled error is logged there, core/http.py), `name`-<port>.log in the
    test data directory. Waits up to 2 minutes for /api/health: a loaded 2-core box imports slowly."""
    port = _free_port()
    env = {**os.environ, **(env or {}), "FENGQIAO_DATABASE_URL": database_url, "FENGQIAO_PORT": str(port)}
    log_path = Path(os.environ["FENGQIAO_DATA_DIR"]) / f"{name}-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        command = [sys.executable, "-m", "backend.cli", "serve", "--port", str(port), *args]
        # A session of its own: if it does not stop, its workers are stopped with it (killpg).
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        try:
            if not _answers_health(base, process, deadline=time.monotonic() + 120):
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server did not start: {tail}")
            yield base, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)  # several workers stop one after the other
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                raise


def _answers_health(base: str, process: subprocess.Popen, deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[str]:
    """The app served on a free local port (its base URL), with its lifespan: channels run."""
    from backend.app import create_app
    from tests.notify.support import push_settings

    async with _uvicorn_here(create_app(push_settings(), manage_database=False)) as base:
        yield base


@contextlib.asynccontextmanager
async def served_whole() -> AsyncIterator[str]:
    """The app exactly as `fengqiao serve` builds it, start-up and shutdown hooks included (the
    notification worker, the periodic jobs, the warm locate index, the bus listener), served by uvicorn
    in this event loop on the test's database. The browser journeys use it: the same app behind the same
    HTTP server as a server process, without a new interpreter importing everything for each test (3 s
    on a quiet box, 12–16 s under the suite's own load). What only the process does (`serve`'s checks,
    several workers, being killed) is tested with `serve_process`."""
    from backend.app import create_app, server_options
    from backend.settings import load_settings

    settings = load_settings()
    async with _uvicorn_here(create_app(settings), access_log=False, **server_options(settings)) as base:
        yield base


@contextlib.asynccontextmanager
async def _uvicorn_here(app, **options) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        # A page's event stream still open at the end must not hold the test up.
        timeout_graceful_shutdown=5,
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def next_event(lines) -> dict:
    """The next event (its fields by name) from the stream's lines; comments are skipped."""
    event: dict = {}
    async for line in lines:
        if line == "":
            if "event" in event or "data" in event:
                return event
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        event[name] = value
    raise AssertionError("stream ended")


async def lines_after_revoking(client, monkeypatch, path: str, username: str) -> list[str]:
    """Open the event stream at `path` on a phone of `username`, have the county revoke that phone, and
    read on: the server must end the stream by itself (within 10 s, keep-alives shortened to 1 s). The
    lines it sent after the revocation, keep-alive comments left out."""
    import httpx

    from backend.core import sse
    from tests.factories import auth, bearer, login

    monkeypatch.setattr(sse, "KEEPALIVE_SECONDS", 1.0)  # the listener is re-checked at each keep-alive
    phone = await login(client, username, device_name="丢失的手机")
    async with served() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("GET", path, headers=bearer(phone)) as response:
            lines = response.aiter_lines()
            assert (await asyncio.wait_for(next_event(lines), 5))["event"] == "ready"
            revoked = await client.post(
                f"/api/admin/devices/{phone['device_id']}/revoke", headers=await auth(client, "county")
            )
            assert revoked.status_code == 204

            async def rest() -> list[str]:
                return [line async for line in lines]

            return [line for line in await asyncio.wait_for(rest(), 10) if line and not line.startswith(":")]
