"""A real uvicorn server in this event loop, for what must really stream (server-sent events), and a
reader of the events it sends. The server runs the app with the local push receivers allowed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[str]:
    """The app served on a free local port (its base URL), with its lifespan: channels run."""
    from backend.app import create_app
    from tests.notify.support import push_settings

    port = _free_port()
    config = uvicorn.Config(
        create_app(push_settings(), manage_database=False),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
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
