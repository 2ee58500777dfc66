"""Locating points on the demo set: seats, GCJ-02 input, shared edges, boundary, nearest, outside."""

from __future__ import annotations

import csv
import math
import time

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from backend.grids import service
from backend.grids.importer import LayerOptions, read_layer
from backend.grids.locate import InvalidCoordinates
from tests.grids.conftest import SOURCE
from tests.grids.helpers import run_cli, square_fc, write_geojson

TIANYUAN_SEAT = (99.614962, 24.825632)
_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4542", always_xy=True)
_TO_LL = Transformer.from_crs("EPSG:4542", "EPSG:4326", always_xy=True)


def to_m(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_M.transform(xy[:, 0], xy[:, 1])))


def to_ll(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_LL.transform(xy[:, 0], xy[:, 1])))


def party_of(result) -> list[str]:
    return [o["code"] for o in result.overlays if o["network"] == "party"]


async def test_every_township_seat_locates_to_its_township(grids_index, demo_levels):
    for code, (props, _) in demo_levels["township"].items():
        result = await service.locate(props["seat_lon"], props["seat_lat"])
        assert result.status in ("inside", "boundary"), (props["name"], result)
        assert result.township.code == code and result.township.name == props["name"]
        assert result.village.code[:9] == code[:9]
        assert result.grid.code.startswith(result.village.code)
        assert result.generation == grids_index.generation
        # The party grid holds the seat's village.
        [party] = party_of(result)
        assert result.village.code in demo_levels["party"][party][0]["village_codes"]


def _seats_with_gcj02() -> list[dict]:
    with open(SOURCE / "townships.csv", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r["lon_gcj02"]]


async def test_gcj02_seats_locate_the_same(grids_index):
    rows = _seats_with_gcj02()
    assert len(rows) == 10
    for r in rows:
        wgs = await service.locate(float(r["lon_wgs84"]), float(r["lat_wgs84"]))
        gcj = await service.locate(float(r["lon_gcj02"]), float(r["lat_gcj02"]), crs="gcj02")
        raw = await service.locate(float(r["lon_gcj02"]), float(r["lat_gcj02"]))
        assert gcj.township.code == r["code12"] == wgs.township.code
        assert gcj.grid == wgs.grid
        assert abs(gcj.lon - wgs.lon) < 1e-5 and abs(gcj.lat - wgs.lat) < 1e-5  # ~1 m
        assert (raw.lon, raw.lat) != (gcj.lon, gcj.lat)


async def test_result_shape(grids_index):
    body = (await service.locate(*TIANYUAN_SEAT)).to_dict()
    assert body["status"] == "inside"
    assert body["township"] == {"code": "530524101000", "name": "田园镇"}
    assert body["village"]["code"] == "530524101001"
    assert body["grid"] == {"code": "530524101001001", "name": "关庙社区第1网格"}
    assert {"network": "party", "code": "DJ530524101-01", "name": "田园镇第1党建网格"} in body["overlays"]
    assert body["distance_m"] is None and isinstance(body["generation"], int)


def _county_m(demo_levels):
    return to_m(shapely.union_all([g for _, g in demo_levels["township"].values()]))


async def test_300_m_outside_the_county_is_nearest_and_50_km_is_outside(grids_index, demo_levels):
    county_m = _county_m(demo_levels)
    minx, miny, maxx, maxy = county_m.bounds
    # The easternmost vertex of the outline, then 300 m further east: nearest, about 300 m.
    coords = shapely.get_coordinates(county_m.exterior)
    east = coords[np.argmax(coords[:, 0])]
    for offset, expected in ((300.0, "nearest"), (50_000.0, "outside")):
        p_m = shapely.Point(east[0] + offset, east[1])
        assert county_m.distance(p_m) == pytest.approx(offset, rel=1e-6)
        p = to_ll(p_m)
        result = await service.locate(p.x, p.y)
        assert result.status == expected, result
        if expected == "nearest":
            assert result.distance_m == pytest.approx(300.0, abs=1.0)
            cell = to_m(
                grids_index._leaf[[r.code for r in grids_index._leaf].index(result.grid.code)].geometry
            )
            assert cell.distance(p_m) == pytest.approx(300.0, abs=1.0)
            assert result.township is not None and result.village is not None
        else:
            assert result.township is None and result.grid is None and result.distance_m is None
            assert result.overlays == []
    # 600 m out is beyond the 500 m tolerance.
    p = to_ll(shapely.Point(east[0] + 600, east[1]))
    assert (await service.locate(p.x, p.y)).status == "outside"


async def test_boundary_within_50_m_of_an_edge(grids_index, demo_levels):
    code = "530524101001001"
    props, cell = demo_levels["grid"][code]
    cell_m = to_m(cell)
    centre = shapely.maximum_inscribed_circle(cell_m, 0.01)
    c = shapely.get_point(centre, 0)
    edge = shapely.get_point(centre, 1)
    radius = c.distance(edge)
    assert radius > 200
    inside = await service.locate(*to_ll(c).coords[0])
    assert inside.status == "inside" and inside.grid.code == code and inside.distance_m is None
    for d in (20.0, 49.0, 51.0):
        # d metres from the edge, towards the centre of the largest inscribed circle.
        t = d / radius
        p_m = shapely.Point(edge.x + (c.x - edge.x) * t, edge.y + (c.y - edge.y) * t)
        p = to_ll(p_m)
        result = await service.locate(p.x, p.y)
        assert result.grid.code == code
        if d < 50:
            assert result.status == "boundary", (d, result)
            assert result.distance_m == pytest.approx(d, abs=0.2)
        else:
            assert result.status == "inside", (d, result)


def _shared_vertices(demo_levels, n: int) -> list[tuple[float, float, list[str]]]:
    """Vertices that several grid cells share, with the codes of the cells that cover them."""
    codes = sorted(demo_levels["grid"])
    geoms = np.array([demo_levels["grid"][c][1] for c in codes], dtype=object)
    tree = shapely.STRtree(geoms)
    out = []
    for i in range(0, len(codes), max(1, len(codes) // n)):
        for x, y in shapely.get_coordinates(geoms[i])[:-1][:3]:
            hits = tree.query(shapely.Point(x, y), predicate="intersects")
            if len(hits) >= 2:
                out.append((float(x), float(y), sorted(codes[h] for h in hits)))
    return out


async def test_shared_edge_points_go_to_the_smallest_code(grids_index, demo_levels):
    points = _shared_vertices(demo_levels, 60)
    assert len(points) > 50
    assert any(len(c) >= 3 for _, _, c in points)  # corners where three cells meet
    for x, y, covering in points:
        result = await service.locate(x, y)
        assert result.status == "boundary" and result.distance_m == 0.0
        assert result.grid.code == covering[0], (x, y, covering)
        # Always the same answer.
        assert (await service.locate(x, y)).grid.code == covering[0]
    # Midpoints of shared edges: whichever cells exactly cover the computed point, the smallest wins.
    codes = sorted(demo_levels["grid"])
    geoms = np.array([demo_levels["grid"][c][1] for c in codes], dtype=object)
    tree = shapely.STRtree(geoms)
    two = 0
    for x, y, covering in points[:40]:
        for x2, y2 in shapely.get_coordinates(demo_levels["grid"][covering[0]][1]):
            if (x2, y2) != (x, y) and math.dist((x, y), (x2, y2)) < 0.05:
                mx, my = (x + x2) / 2, (y + y2) / 2
                hits = sorted(codes[h] for h in tree.query(shapely.Point(mx, my), predicate="intersects"))
                result = await service.locate(mx, my)
                assert result.grid.code == hits[0]
                two += len(hits) >= 2
                break
    assert two > 0


async def test_batch_agrees_with_single_points(grids_index, demo_levels):
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = shapely.total_bounds(np.array([g for _, g in demo_levels["township"].values()]))
    lon = rng.uniform(minx - 0.01, maxx + 0.01, 1500)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, 1500)
    shared = _shared_vertices(demo_levels, 40)
    lon = np.r_[lon, [p[0] for p in shared], 101.5]
    lat = np.r_[lat, [p[1] for p in shared], 25.0]
    points = list(zip(lon.tolist(), lat.tolist(), strict=True))
    index = await service.load_index()
    batch = service.locate_many(points)
    single = [index.locate(x, y) for x, y in points]
    assert batch == single
    statuses = {r.status for r in batch}
    assert statuses == {"inside", "boundary", "nearest", "outside"}
    # GCJ-02 batches are converted first.
    gcj = service.locate_many([(99.615812, 24.822454)], crs="gcj02")
    assert gcj[0].township.code == "530524101000"


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (float("nan"), 24.8),
        (99.6, float("nan")),
        (float("inf"), 24.8),
        (181.0, 24.8),
        (99.6, -90.5),
        ("abc", 24.8),
    ],
)
async def test_invalid_coordinates(grids_index, lon, lat):
    with pytest.raises(InvalidCoordinates) as err:
        await service.locate(lon, lat)
    assert err.value.code == "geo.invalid_coordinates" and err.value.status_code == 400
    if isinstance(lon, float):
        with pytest.raises(InvalidCoordinates):
            service.locate_many([(99.6, 24.8), (lon, lat)])


async def test_region_names(grids_index):
    names = await service.region_names(
        {"530524101001001", "530524101000", "DJ530524101-01", "530524000000", "x"}
    )
    assert names == {
        "530524101001001": "关庙社区第1网格",
        "530524101000": "田园镇",
        "DJ530524101-01": "田园镇第1党建网格",
        "530524000000": "昌宁县",
    }


async def test_tiling_of_the_stored_generation(grids_index):
    """Each level of the active generation tiles its parent: no overlap or gap above 1 m²."""
    net = grids_index.primary
    by_level: dict[str, dict[str, object]] = {}
    parents: dict[str, str] = {}
    for r in net.regions:
        by_level.setdefault(r.level, {})[r.code] = to_m(r.geometry)
        parents[r.code] = r.parent_code
    assert {lv: len(v) for lv, v in by_level.items()} == {
        "township": 13,
        "village": 124,
        "grid": len(by_level["grid"]),
    }
    for child, parent in (("village", "township"), ("grid", "village")):
        for pcode, pgeom in by_level[parent].items():
            kids = [g for c, g in by_level[child].items() if parents[c] == pcode]
            union = shapely.union_all(kids)
            overlap = sum(k.area for k in kids) - union.area + union.difference(pgeom).area
            gap = pgeom.difference(union).area
            assert overlap < 1.0 and gap < 1.0, (child, pcode, overlap, gap)


async def test_demo_load_is_idempotent(grids_index):
    from backend.demo.grids import load_demo_grids
    from backend.grids.tables import GridGeneration

    before = await GridGeneration.count().run()
    counts = await load_demo_grids()
    assert await GridGeneration.count().run() == before
    assert counts["grid_townships"] == 13 and counts["grid_villages"] == 124
    assert counts["grid_generation"] == grids_index.generation


class FrozenMonotonic:
    """The `time` module as backend.grids.service sees it, with time.monotonic() moved by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.mark.slow  # a `fengqiao grids activate` process: about 3.5 s
@pytest.mark.server
async def test_activation_in_another_process_reaches_this_one(grids_index, tmp_path, monkeypatch):
    """`fengqiao grids activate` in another process: this process picks it up within RECHECK_SECONDS,
    asking the database at most once in that interval (the clock it reads is moved by the test)."""
    clock = FrozenMonotonic()
    monkeypatch.setattr(service, "time", clock)
    here = (99.6, 24.8)  # inside the county (imports are checked against it), far from its edge
    ids = []
    for code in ("XA-1", "XB-1"):
        path = write_geojson(tmp_path / f"{code}.geojson", square_fc([(code, f"跨进程{code}", *here, 2000)]))
        layer = read_layer(path, LayerOptions(level="grid"))
        result = await service.import_layers(
            "xproc", [layer], network_kind="overlay", network_levels=["grid"], activate=code == "XA-1"
        )
        ids.append(result.generation_id)
    assert [o["code"] for o in (await service.locate(*here)).overlays if o["network"] == "xproc"] == ["XA-1"]
    code, out, err = await run_cli("grids", "activate", str(ids[1]))
    assert code == 0, err
    assert "已启用" in out
    # Within the re-check interval this process still answers from the generation it had ...
    clock.now += service.RECHECK_SECONDS - 0.1
    assert [o["code"] for o in (await service.locate(*here)).overlays if o["network"] == "xproc"] == ["XA-1"]
    # ... and once it has passed, from the one activated elsewhere.
    clock.now += 0.2
    assert [o["code"] for o in (await service.locate(*here)).overlays if o["network"] == "xproc"] == ["XB-1"]
