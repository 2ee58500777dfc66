"""Checks of the committed 昌宁县 demo grid set (grids/changning/*.geojson).

Names and codes must be the real ones from grids/changning/source/; all boundaries are synthetic but
must form an exact hierarchy: every level tiles its parent and the townships tile the real outline.
Areas are measured in metres in EPSG:4542 (CGCS2000 / 3-degree Gauss-Kruger CM 99E; note that
EPSG:4544 is the CM 105E zone, which would also work for area sums but is 6 degrees off-meridian).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Point, shape

ROOT = Path(__file__).resolve().parents[2]
GRIDS = ROOT / "grids" / "changning"
SOURCE = GRIDS / "source"
FILES = {
    "township": "townships.geojson",
    "village": "villages.geojson",
    "grid": "grid_cells.geojson",
    "party": "party_grids.geojson",
}
COUNTY_CODE = "530524000000"
TOL_M2 = 1.0  # overlap / gap tolerance in m²

_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4542", always_xy=True)


def to_m(geom):
    def f(xy):
        x, y = _TO_M.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, f)


def _read_csv(name: str) -> list[dict]:
    with open(SOURCE / name, encoding="utf-8", newline="") as f:
        return sorted(csv.DictReader(f), key=lambda r: r["code12"])


@pytest.fixture(scope="module")
def towns_csv() -> list[dict]:
    return _read_csv("townships.csv")


@pytest.fixture(scope="module")
def villages_csv() -> list[dict]:
    return _read_csv("villages.csv")


@pytest.fixture(scope="module")
def county():
    with open(SOURCE / "county.geojson", encoding="utf-8") as f:
        return shape(json.load(f)["features"][0]["geometry"])


@pytest.fixture(scope="module")
def fcs() -> dict[str, dict]:
    out = {}
    for level, name in FILES.items():
        with open(GRIDS / name, encoding="utf-8") as f:
            out[level] = json.load(f)
    return out


@pytest.fixture(scope="module")
def levels(fcs) -> dict[str, dict[str, tuple[dict, object]]]:
    """level -> code -> (properties, geometry in lon/lat)."""
    return {
        level: {ft["properties"]["code"]: (ft["properties"], shape(ft["geometry"])) for ft in fc["features"]}
        for level, fc in fcs.items()
    }


@pytest.fixture(scope="module")
def metric(levels) -> dict[str, dict[str, object]]:
    return {level: {code: to_m(g) for code, (_, g) in feats.items()} for level, feats in levels.items()}


def tiling_error(parent, children: list) -> tuple[float, float]:
    """(overlap incl. area outside the parent, gap) in m²."""
    union = shapely.union_all(children)
    overlap = max(0.0, sum(c.area for c in children) - union.area) + union.difference(parent).area
    gap = parent.difference(union).area
    return overlap, gap


# --------------------------------------------------------------------------- identity / properties


def test_feature_collections(fcs):
    for level, fc in fcs.items():
        assert fc["type"] == "FeatureCollection"
        assert fc["name"]
        assert "crs" not in fc  # RFC 7946: WGS-84 lon/lat
        codes = [ft["properties"]["code"] for ft in fc["features"]]
        assert codes == sorted(codes) and len(set(codes)) == len(codes), level
        for ft in fc["features"]:
            p = ft["properties"]
            assert p["synthetic"] is True
            assert p["level"] == level
            assert ft["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_townships_are_the_real_13(levels, towns_csv):
    towns = levels["township"]
    assert len(towns) == 13
    assert sorted(towns) == [t["code12"] for t in towns_csv]
    for t in towns_csv:
        p, _ = towns[t["code12"]]
        assert p["name"] == t["name"]
        assert p["code9"] == t["code9"]
        assert p["parent_code"] == COUNTY_CODE
        assert p["seat_known"] is bool(t["lon_wgs84"])
    unknown = {towns[c][0]["name"] for c in towns if not towns[c][0]["seat_known"]}
    assert unknown == {"大田坝镇", "鸡飞镇", "翁堵镇"}


def test_villages_are_the_real_124(levels, villages_csv):
    vil = levels["village"]
    assert len(vil) == 124
    assert sorted(vil) == [v["code12"] for v in villages_csv]
    for v in villages_csv:
        p, _ = vil[v["code12"]]
        assert p["name"] == v["name"]
        assert p["short_name"] == v["short_name"]
        assert p["parent_code"] == v["town_code12"]


def test_villages_inside_their_township(levels, metric):
    for code, (p, _) in levels["village"].items():
        outside = metric["village"][code].difference(metric["township"][p["parent_code"]]).area
        assert outside < TOL_M2, (code, outside)


def test_grid_cells_counts_codes_names(levels):
    vil = levels["village"]
    grids = levels["grid"]
    assert 800 <= len(grids) <= 1200
    per_village = defaultdict(list)
    for code, (p, _) in grids.items():
        assert re.fullmatch(r"\d{15}", code)
        assert code[:12] == p["parent_code"]
        per_village[p["parent_code"]].append(code)
    assert set(per_village) == set(vil)
    for vcode, codes in per_village.items():
        assert 3 <= len(codes) <= 12, (vcode, len(codes))
        assert sorted(int(c[12:]) for c in codes) == list(range(1, len(codes) + 1))
        short = vil[vcode][0]["short_name"]
        for c in codes:
            assert grids[c][0]["name"] == f"{short}第{int(c[12:])}网格"


def test_party_grids(levels, metric):
    vil = levels["village"]
    town_names = {c: p["name"] for c, (p, _) in levels["township"].items()}
    seen = Counter()
    per_town = defaultdict(list)
    for code, (p, geom) in levels["party"].items():
        members = p["village_codes"]
        assert 2 <= len(members) <= 3, code
        assert all(vil[m][0]["parent_code"] == p["parent_code"] for m in members)
        seen.update(members)
        per_town[p["parent_code"]].append(code)
        # the party grid is exactly the union of its villages, and they are neighbours (one piece)
        members_m = shapely.union_all([metric["village"][m] for m in members])
        assert members_m.symmetric_difference(metric["party"][code]).area < TOL_M2, code
        assert geom.geom_type == "Polygon", code
    assert set(seen) == set(vil) and set(seen.values()) == {1}
    for tcode, codes in per_town.items():
        codes.sort()
        for k, c in enumerate(codes, start=1):
            assert c == f"DJ{tcode[:9]}-{k:02d}"
            assert levels["party"][c][0]["name"] == f"{town_names[tcode]}第{k}党建网格"


# --------------------------------------------------------------------------- geometry


def test_geometries_valid(levels, metric):
    for level, feats in levels.items():
        for code, (_, g) in feats.items():
            assert g.is_valid and not g.is_empty, (level, code, shapely.is_valid_reason(g))
            assert metric[level][code].is_valid, (level, code)


def test_neighbours_share_identical_edges(levels):
    # coverage_is_valid: no overlaps and every shared edge has the same vertices on both sides
    for level, feats in levels.items():
        assert shapely.coverage_is_valid([g for _, g in feats.values()]), level


def test_coordinates_rounded_to_6_decimals(fcs):
    for fc in fcs.values():
        for ft in fc["features"]:
            xy = shapely.get_coordinates(shape(ft["geometry"]))
            assert np.array_equal(np.round(xy, 6), xy)


def test_townships_tile_the_real_outline(metric, county):
    county_m = to_m(county)
    towns = list(metric["township"].values())
    overlap, gap = tiling_error(county_m, towns)
    assert overlap < TOL_M2 and gap < TOL_M2, (overlap, gap)
    # The outline is valid and every one of its vertices is kept, so no extra tolerance is needed.
    assert shapely.union_all(towns).symmetric_difference(county_m).area < TOL_M2


@pytest.mark.parametrize(
    ("child", "parent"), [("village", "township"), ("grid", "village"), ("party", "township")]
)
def test_children_tile_parent(levels, metric, child, parent):
    kids = defaultdict(list)
    for code, (p, _) in levels[child].items():
        kids[p["parent_code"]].append(metric[child][code])
    assert set(kids) == set(levels[parent])
    worst = 0.0
    for pcode, pgeom in metric[parent].items():
        overlap, gap = tiling_error(pgeom, kids[pcode])
        worst = max(worst, overlap, gap)
        assert overlap < TOL_M2 and gap < TOL_M2, (child, pcode, overlap, gap)
    assert worst < TOL_M2


def test_seats_lie_in_their_township(levels, towns_csv, villages_csv):
    towns = levels["township"]
    for t in towns_csv:
        p, geom = towns[t["code12"]]
        if t["lon_wgs84"]:
            seat = Point(float(t["lon_wgs84"]), float(t["lat_wgs84"]))
            assert (p["seat_lon"], p["seat_lat"]) == (seat.x, seat.y)
        else:
            seat = Point(p["seat_lon"], p["seat_lat"])
        assert geom.covers(seat), t["name"]
        # the seat village (first 镇中心区/乡中心区 village by code, else the first) holds the seat
        vs = [v for v in villages_csv if v["town_code12"] == t["code12"]]
        central = [v for v in vs if v["ur_class"] in ("镇中心区", "乡中心区")]
        seat_village = (central or vs)[0]["code12"]
        assert levels["village"][seat_village][1].covers(seat), t["name"]


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.slow  # regenerates the whole set: about 3 s
def test_generate_reproduces_committed_files(tmp_path):
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from grids.generate import generate

    report = generate(tmp_path, progress=False)
    assert report["townships"] == 13 and report["villages"] == 124
    for name in FILES.values():
        assert (tmp_path / name).read_bytes() == (GRIDS / name).read_bytes(), name
