"""The locate index on small synthetic networks: holes in the finest level, no primary network,
overlays that only partly cover a cell, and batch = single everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import shape

from backend.grids.locate import LocateIndex, NetworkData, RegionData
from tests.grids.helpers import square

LON, LAT = 100.0, 25.0


def region(level: str, code: str, size: float, dx: float = 0.0, dy: float = 0.0, parent: str | None = None):
    return RegionData(level, code, f"名{code}", parent, shape(square(LON, LAT, size, dx, dy)))


def primary(*regions: RegionData) -> NetworkData:
    return NetworkData("primary", "综治网格", "primary", ("township", "village", "grid"), 7, list(regions))


def at(dx: float, dy: float) -> tuple[float, float]:
    kx = 111_320 * np.cos(np.radians(LAT))
    return LON + dx / kx, LAT + dy / 110_574


def check_batch(index: LocateIndex, points: list[tuple[float, float]]):
    single = [index.locate(x, y) for x, y in points]
    arr = np.array(points)
    assert index.locate_many(arr[:, 0], arr[:, 1]) == single
    return single


def test_a_hole_in_the_grid_level_is_answered_by_the_village():
    index = LocateIndex(
        [
            primary(
                region("township", "T", 4000),
                region("village", "V1", 4000, parent="T"),
                region("grid", "V1-001", 2000, parent="V1"),  # the western half only
                region("grid", "V1-002", 2000, 0, 2000, parent="V1"),
            )
        ]
    )
    inside_cell, in_hole, near_hole_edge, outside = (
        at(500, 500),
        at(3000, 1000),
        at(3980, 1000),
        at(4300, 1000),
    )
    r = check_batch(index, [inside_cell, in_hole, near_hole_edge, outside])
    assert (r[0].status, r[0].grid.code, r[0].village.code, r[0].township.code) == (
        "inside",
        "V1-001",
        "V1",
        "T",
    )
    assert (r[1].status, r[1].grid, r[1].village.code, r[1].township.code) == ("inside", None, "V1", "T")
    assert (r[2].status, r[2].grid, r[2].village.code) == ("boundary", None, "V1")
    assert r[2].distance_m == pytest.approx(20, abs=0.5)
    # East of the village: the nearest grid cell is 2,300 m away, beyond 500 m.
    assert r[3].status == "outside"
    assert all(x.generation == 7 for x in r)


def test_nearest_ties_and_overlays_that_partly_cover_a_cell():
    cells = primary(
        region("grid", "G2", 1000, 1000, 0),
        region("grid", "G1", 1000),
    )
    overlay = NetworkData(
        "party",
        "党建网格",
        "overlay",
        ("party",),
        8,
        [region("party", "P-west", 1500), region("party", "P-east", 500, 1500, 0)],
    )
    index = LocateIndex([cells, overlay])
    points = [at(200, 500), at(1200, 500), at(1800, 500), at(1000, -300), at(1000, 500), at(5000, 5000)]
    r = check_batch(index, points)
    assert [o["code"] for o in r[0].overlays] == ["P-west"]  # the overlay covers all of G1
    assert [o["code"] for o in r[1].overlays] == ["P-west"]  # G2 partly: by the point
    assert [o["code"] for o in r[2].overlays] == ["P-east"]
    # 300 m south of the corner both cells share: equally near, the smaller code wins.
    assert (r[3].status, r[3].grid.code) == ("nearest", "G1") and r[3].distance_m == pytest.approx(300, abs=1)
    # On the shared edge: the smaller code.
    assert (r[4].status, r[4].grid.code, r[4].distance_m) == ("boundary", "G1", 0.0)
    assert r[5].status == "outside" and r[5].overlays == []


def test_no_primary_network():
    overlay = NetworkData("party", "党建网格", "overlay", ("party",), 8, [region("party", "P", 1000)])
    index = LocateIndex([overlay])
    r = check_batch(index, [at(500, 500), at(5000, 0)])
    assert r[0].status == "outside" and r[0].generation is None
    assert [o["code"] for o in r[0].overlays] == ["P"] and r[1].overlays == []
    empty = LocateIndex([])
    assert empty.locate(LON, LAT).status == "outside"
    assert empty.locate_many([], []) == []
