"""The bus (backend/core/bus.py): a message leaves when its transaction commits and never when it
rolls back, reaches the subscribers of its key, and on PostgreSQL comes back through this process's
one listening connection, which reconnects (and tells everyone to re-read) when it is lost."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from piccolo.querystring import QueryString

from backend import db
from backend.core import bus
from backend.settings import load_settings


@pytest.fixture
async def listening(database):
    """The bus running as in a server (PostgreSQL: listening on its own connection)."""
    await bus.start(load_settings())
    try:
        yield
    finally:
        await bus.stop()


class Boom(Exception):
    pass


async def test_a_message_leaves_on_commit_and_never_on_rollback(listening):
    with (
        bus.subscribe("test", "a") as mine,
        bus.subscribe("test") as everyone,
        bus.subscribe("test", "b") as other,
    ):
        async with db.write_transaction():
            await bus.publish("test", {"n": 1}, key="a")
            assert mine.drain() == []  # not before the commit
        with contextlib.suppress(Boom):
            async with db.write_transaction():
                await bus.publish("test", {"n": 2}, key="a")
                raise Boom()
        await bus.publish("test", {"n": 3}, key="a")  # outside a transaction: at once

        got: list[bus.Message] = []
        while len(got) < 2:
            arrived = await mine.get(10)
            assert arrived, "the bus delivered nothing"
            got += arrived
        assert [m.data for m in got] == [{"n": 1}, {"n": 3}]
        assert [m.data for m in everyone.drain()] == [{"n": 1}, {"n": 3}]
        assert other.drain() == []


async def test_a_handler_hears_every_message_of_its_topic(listening):
    heard: list[bus.Message] = []
    bus.on("test-handler", heard.append)
    try:
        with bus.subscribe("test-handler") as done:
            await bus.publish("test-handler", {"generation": 7}, key="x")
            assert await done.wait(10)
        assert [(m.key, m.data) for m in heard] == [("x", {"generation": 7})]
    finally:
        bus._handlers.pop("test-handler", None)


def test_a_message_too_large_for_notify_is_refused():
    with pytest.raises(ValueError):
        bus.encode(bus.Message("test", None, {"text": "x" * bus.MAX_PAYLOAD}))
    with pytest.raises(ValueError):
        bus.encode(bus.Message("test", None, None))  # None is kept for resyncs


async def test_a_lost_listening_connection_comes_back_and_everyone_rereads(listening, monkeypatch):
    if db.engine_name() != "postgresql":
        pytest.skip("SQLite's bus is in-process: there is no connection to lose")
    monkeypatch.setattr(bus, "MAX_PAUSE_SECONDS", 0.5)
    first = bus.listening_pid()
    assert first is not None
    with bus.subscribe("test", "a") as mine:
        await db.DB.run_querystring(QueryString("SELECT pg_terminate_backend({})", first))
        resync = await mine.get(15)
        assert [m.resync for m in resync] == [True]
        assert bus.is_listening() and bus.listening_pid() not in (None, first)
        await bus.publish("test", {"n": 4}, key="a")
        assert [m.data for m in await mine.get(10)] == [{"n": 4}]


async def test_without_a_listener_nothing_is_heard_from_postgresql_but_sqlite_delivers(database):
    """Apps that run no lifespan (the test client) do not listen; on SQLite the bus needs no listener."""
    with bus.subscribe("test", "a") as mine:
        await bus.publish("test", {"n": 5}, key="a")
        if db.engine_name() == "postgresql":
            assert not bus.is_listening()
        else:
            await asyncio.sleep(0)
            assert [m.data for m in mine.drain()] == [{"n": 5}]
