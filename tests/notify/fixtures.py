"""Fixtures of the notify and visits tests (both conftests take them from here): the app with the
local push receivers allowed, and a local push service. Nothing from backend at module level: the
conftests that import this load before tests/conftest.py has chosen the database."""

from __future__ import annotations

import pytest


@pytest.fixture
async def app(database):
    """The app with the local receivers allowed as push hosts."""
    from backend.app import create_app
    from tests.notify.support import push_settings

    return create_app(push_settings(), manage_database=False)


@pytest.fixture
def settings(database):
    from tests.notify.support import push_settings

    return push_settings()


@pytest.fixture
async def push_service(client):
    """A local push service that checks messages against GET /api/push/key."""
    from tests.factories import auth
    from tests.notify.support import PushService

    key = await client.get("/api/push/key", headers=await auth(client, "mediator1"))
    assert key.status_code == 200, key.text
    service = PushService(vapid_public_key=key.json()["public_key"])
    await service.start()
    yield service
    await service.stop()
