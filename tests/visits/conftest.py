"""Fixtures for the notify and visits tests. Nothing from backend is imported at module level: an
initial conftest is loaded before tests/conftest.py has chosen the test database."""

from __future__ import annotations

import pytest


@pytest.fixture
async def app(migrated_db):
    """The app with the local receivers allowed as push hosts."""
    from backend.app import create_app
    from tests.notify.support import push_settings

    return create_app(push_settings(), manage_database=False)


@pytest.fixture
def settings():
    from tests.notify.support import push_settings

    return push_settings()


@pytest.fixture
async def push_service(client):
    """A local push service that checks messages against GET /api/push/key; the subscriptions made
    against it are dropped afterwards."""
    from backend.notify.tables import PushSubscription
    from tests.factories import auth
    from tests.notify.support import PushService

    key = await client.get("/api/push/key", headers=await auth(client, "mediator1"))
    assert key.status_code == 200, key.text
    service = PushService(vapid_public_key=key.json()["public_key"])
    await service.start()
    yield service
    await service.stop()
    await PushSubscription.delete().where(PushSubscription.endpoint.like(f"{service.base}/%")).run()
