"""A revoked device is forgotten by every process's caches (people/session_bus.py): on PostgreSQL the
revocation is announced on the bus when it commits, and each process's listener calls the caches'
forget; a resync (the listening connection came back) forgets everything."""

from __future__ import annotations

import contextlib

import pytest

from backend import db
from backend.core import bus
from backend.people import session_bus
from backend.settings import load_settings
from tests.factories import auth, login


@pytest.fixture
async def heard(database, monkeypatch):
    """What the caches were told to forget, as this process's listener hears it (PostgreSQL)."""
    if db.engine_name() != "postgresql":
        pytest.skip("SQLite has one server process: its own forget is enough")
    calls: list[tuple[int | None, str | None]] = []
    monkeypatch.setattr(session_bus, "_forgets", [lambda user, device: calls.append((user, device))])
    await bus.start(load_settings())
    try:
        yield calls
    finally:
        await bus.stop()


async def test_a_revocation_is_heard_by_every_process(client, heard):
    phone = await login(client, "mediator1", device_name="丢失的手机")
    with bus.subscribe(session_bus.TOPIC) as messages:
        revoked = await client.post(
            f"/api/admin/devices/{phone['device_id']}/revoke", headers=await auth(client, "county")
        )
        assert revoked.status_code == 204
        while (None, phone["device_id"]) not in heard:
            assert await messages.wait(10)
            messages.drain()
    # The device, and (people.service.forget_cached) its user's every device: nothing of anyone else.
    assert set(heard) <= {(None, phone["device_id"]), (phone["user"]["id"], None)}


async def test_an_announcement_leaves_on_commit_only(client, heard):
    class Boom(Exception):
        pass

    with bus.subscribe(session_bus.TOPIC) as messages:
        with contextlib.suppress(Boom):
            async with db.write_transaction():
                session_bus.announce(user_id=41)
                raise Boom()
        async with db.write_transaction():
            session_bus.announce(user_id=42)
        while len(heard) < 1:
            assert await messages.wait(10)
            messages.drain()
    assert heard == [(42, None)]


async def test_a_resync_forgets_everything(heard):
    bus.dispatch(bus.Message(session_bus.TOPIC, None, None))
    assert heard == [(None, None)]
