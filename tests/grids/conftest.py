"""Fixtures of the grids tests: the demo set as loaded by `fengqiao demo`, and signed-in sessions.

No backend import at module level: this conftest may load before tests/conftest.py has chosen the
database, and backend.db binds its engine on import.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import shape

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "grids" / "changning"
SOURCE = DEMO / "source"


def read_fc(name: str) -> dict:
    with open(DEMO / name, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def demo_levels() -> dict[str, dict[str, tuple[dict, shapely.Geometry]]]:
    """level -> code -> (properties, geometry), straight from the committed GeoJSON files."""
    files = {"township": "townships.geojson", "village": "villages.geojson", "grid": "grid_cells.geojson"}
    files["party"] = "party_grids.geojson"
    return {
        level: {
            f["properties"]["code"]: (f["properties"], shape(f["geometry"]))
            for f in read_fc(name)["features"]
        }
        for level, name in files.items()
    }


@pytest.fixture
async def grids_index(database):
    """The locate index over the demo's active generations (built once, reused while they stay)."""
    from backend.grids import service

    return await service.load_index()


@pytest.fixture
async def headers_for(client):
    """Authorization headers for a demo account (one sign-in per account per test)."""
    from tests.factories import auth

    async def get(username: str) -> dict[str, str]:
        return await auth(client, username)

    return get
