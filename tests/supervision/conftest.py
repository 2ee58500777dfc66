"""The app with the local push receivers allowed, and a local push service (tests/notify/fixtures.py)."""

from tests.notify.fixtures import app, push_service, settings  # noqa: F401
