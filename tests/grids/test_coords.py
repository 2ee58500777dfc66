"""GCJ-02 → WGS-84: the shared reference files in GCJ-02 must convert to the WGS-84 ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyproj import Geod

from backend.core.coords import gcj02_to_wgs84, gcj02_to_wgs84_array, wgs84_to_gcj02
from tests.grids.conftest import SOURCE

_GEOD = Geod(ellps="WGS84")


def _coords(path) -> np.ndarray:
    with open(path, encoding="utf-8") as f:
        fc = json.load(f)
    out = []
    for ft in fc["features"]:
        g = ft["geometry"]
        if g["type"] == "Point":
            out.append(g["coordinates"])
        else:
            out.extend(g["coordinates"][0])
    return np.array(out, dtype=float)


def test_gcj02_outline_and_seats_reproduce_wgs84_under_a_metre():
    for gcj, wgs in [
        ("gcj02/county_gcj02.geojson", "county.geojson"),
        ("gcj02/township_seats_gcj02.geojson", "township_seats.geojson"),
    ]:
        g = _coords(SOURCE / gcj)
        w = _coords(SOURCE / wgs)
        assert g.shape == w.shape and len(g) > 5
        converted = np.array([gcj02_to_wgs84(x, y) for x, y in g])
        d = _GEOD.inv(converted[:, 0], converted[:, 1], w[:, 0], w[:, 1])[2]
        assert d.max() < 1.0, (gcj, d.max())
        # The offset is real (hundreds of metres here), so the test would notice a no-op.
        raw = _GEOD.inv(g[:, 0], g[:, 1], w[:, 0], w[:, 1])[2]
        assert raw.min() > 200


def test_round_trip_and_vectorised_agree():
    rng = np.random.default_rng(7)
    lon = rng.uniform(98.5, 100.5, 500)
    lat = rng.uniform(24.0, 25.5, 500)
    g = np.array([wgs84_to_gcj02(x, y) for x, y in zip(lon, lat, strict=True)])
    back = np.array([gcj02_to_wgs84(x, y) for x, y in g])
    assert np.abs(back[:, 0] - lon).max() < 1e-9 and np.abs(back[:, 1] - lat).max() < 1e-9
    vlon, vlat = gcj02_to_wgs84_array(g[:, 0], g[:, 1])
    assert np.abs(vlon - back[:, 0]).max() < 1e-12 and np.abs(vlat - back[:, 1]).max() < 1e-12


def test_outside_china_is_unchanged():
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
    assert wgs84_to_gcj02(-74.0, 40.7) == (-74.0, 40.7)


def test_bd09_round_trip_and_offset():
    from backend.core.coords import bd09_to_wgs84, bd09_to_wgs84_array, wgs84_to_bd09

    lon = np.linspace(99.3, 100.0, 15)
    lat = np.linspace(24.3, 25.2, 15)
    bd = np.array([wgs84_to_bd09(x, y) for x, y in zip(lon, lat, strict=True)])
    # Baidu's offset is GCJ-02's plus about half a kilometre more: hundreds of metres, never zero.
    shift = _GEOD.inv(lon, lat, bd[:, 0], bd[:, 1])[2]
    assert shift.min() > 500
    back_lon, back_lat = bd09_to_wgs84_array(bd[:, 0], bd[:, 1])
    assert np.abs(back_lon - lon).max() < 1e-9 and np.abs(back_lat - lat).max() < 1e-9
    assert bd09_to_wgs84(*bd[0]) == pytest.approx((lon[0], lat[0]), abs=1e-9)
