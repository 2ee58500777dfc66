"""Fixtures for the media tests: signed-in phones and the media directory.

Nothing from `backend` (or tests.factories, which imports it) is imported at module level: pytest
loads this file before the root conftest has chosen the database, and Piccolo binds at import.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def media_dir() -> Path:
    from backend.settings import load_settings

    return load_settings().media_dir


@pytest.fixture
async def mediator1(client) -> dict[str, str]:
    from tests.factories import bearer, login

    return bearer(await login(client, "mediator1"))


@pytest.fixture
async def mediator2(client) -> dict[str, str]:
    from tests.factories import bearer, login

    return bearer(await login(client, "mediator2"))
