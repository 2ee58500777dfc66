"""Boundary files as counties really get them: GCJ-02 and BD-09 captures of web maps (made here from the
demo set with the project's own conversion), data in the wrong Gauss-Krüger zone, another place's data,
township-only re-imports, DataV's bare arrays and the field names of AMap, DataV and the county offices."""

from __future__ import annotations

import json

import numpy as np
import pyogrio
import pytest
import shapely
from shapely.geometry import mapping, shape

from backend.core.coords import wgs84_to_bd09, wgs84_to_gcj02
from backend.grids import service
from backend.grids.cli import carried_lines
from backend.grids.importer import ImportRefused, LayerOptions, read_layer
from tests.factories import TIANYUAN_POINT
from tests.grids.conftest import DEMO, read_fc
from tests.grids.helpers import run_cli, square, write_geojson

FORWARD = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def shifted(geometry: dict, datum: str) -> dict:
    """A WGS-84 GeoJSON geometry as a web map in `datum` would give it."""
    fn = FORWARD[datum]
    geom = shapely.transform(shape(geometry), lambda xy: np.array([fn(x, y) for x, y in xy]))
    return mapping(geom)


def datav_townships(datum: str | None) -> list[dict]:
    """The demo's townships as DataV writes a district: a bare array, `adcode`, a parent object."""
    return [
        {
            "type": "Feature",
            "properties": {
                "adcode": f["properties"]["code"],
                "name": f["properties"]["name"],
                "level": "street",
                "parent": {"adcode": 530524},
            },
            "geometry": shifted(f["geometry"], datum) if datum else f["geometry"],
        }
        for f in read_fc("townships.geojson")["features"]
    ]


def demo_townships() -> dict[str, shapely.Geometry]:
    return {f["properties"]["code"]: shape(f["geometry"]) for f in read_fc("townships.geojson")["features"]}


def checks(report: dict) -> list[str]:
    return [i["check"] for i in report["issues"]]


# --- GCJ-02 and BD-09 --------------------------------------------------------------------------------


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
async def test_web_map_file_read_as_wgs84_is_caught_and_imports_with_its_crs(database, tmp_path, datum):
    path = tmp_path / f"昌宁县_{datum}.json"
    path.write_text(json.dumps(datav_townships(datum), ensure_ascii=False), encoding="utf-8")

    as_wgs84 = read_layer(path, LayerOptions(level="township"))
    assert as_wgs84.info["fields"] == {"code": "adcode", "name": "name", "parent": "parent"}
    result = await service.import_layers("primary", [as_wgs84])
    assert not result.clean and not result.activated
    [shift] = [i for i in result.report["issues"] if i["check"].startswith("looks_like_")]
    assert shift["check"] == f"looks_like_{datum}" and shift["severity"] == "error"
    assert f"--crs {datum}" in shift["message"] and "昌宁县" in shift["message"]

    layer = read_layer(path, LayerOptions(level="township", crs=datum.upper()))
    assert layer.info["crs"].startswith({"gcj02": "GCJ-02", "bd09": "BD-09"}[datum])
    fixed = await service.import_layers("primary", [layer])
    assert fixed.clean and fixed.activated, fixed.report["issues"]
    expected = demo_townships()
    got = (await service._load_features(fixed.generation_id, ["township"]))["township"]
    assert sorted(f.code for f in got) == sorted(expected)
    for f in got:  # back where the demo has them, to well under a square metre
        assert f.geometry.symmetric_difference(expected[f.code]).area < 1e-10
    assert (await service.locate(*TIANYUAN_POINT)).township.code == "530524101000"


@pytest.mark.slow  # two `fengqiao grids import` processes: about 6 s
@pytest.mark.server
async def test_cli_json_is_one_document_and_names_the_crs_to_use(database, tmp_path):
    path = tmp_path / "townships_gcj02.json"
    path.write_text(json.dumps(datav_townships("gcj02"), ensure_ascii=False), encoding="utf-8")
    args = ["grids", "import", str(path), "-l", "township", "--json"]
    code, out, err = await run_cli(*args)
    assert code == 3, err
    doc = json.loads(out)  # exactly one document: anything else on stdout fails here
    assert not doc["activated"] and "looks_like_gcj02" in doc["report"]["by_check"]
    assert "--force" in doc["summary"] and "--force" in err
    code, out, err = await run_cli(*args, "--crs", "gcj02")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["activated"] and doc["report"]["clean"]
    assert doc["report"]["sources"][0]["crs"] == "GCJ-02（已转换为 WGS-84）"
    # A refusal is one JSON document too.
    code, out, err = await run_cli(*args, "--crs", "wgs85")
    assert code == 2
    assert json.loads(out)["code"] == "geo.invalid_crs" and "gcj02" in json.loads(out)["message"]


async def test_gcj02_is_refused_for_projected_coordinates(database, tmp_path):
    gdf = pyogrio.read_dataframe(DEMO / "villages.geojson").to_crs("EPSG:4542")
    path = tmp_path / "villages_gk.gpkg"
    pyogrio.write_dataframe(gdf, path)
    with pytest.raises(ImportRefused) as err:
        read_layer(path, LayerOptions(level="village", crs="gcj02"))
    assert err.value.code == "grids.crs_mismatch" and "只用于经纬度" in err.value.message


# --- the county as a check ---------------------------------------------------------------------------


async def test_data_in_the_wrong_gauss_kruger_zone_is_outside_the_county(database, tmp_path):
    villages = pyogrio.read_dataframe(DEMO / "villages.geojson")
    villages = villages[villages["code"].str.startswith("530524101")][
        ["code", "name", "parent_code", "geometry"]
    ]
    path = tmp_path / "村界.gpkg"
    pyogrio.write_dataframe(villages.to_crs("EPSG:4542"), path)  # CM 99°E, no zone prefix
    # Read with CM 105°E (EPSG:4544), as a clerk guessing the zone would: the villages land near 105°E.
    layer = read_layer(path, LayerOptions(level="village", crs="EPSG:4544"))
    assert layer.features[0].geometry.centroid.x > 104
    result = await service.import_layers("primary", [layer])
    assert not result.clean and not result.activated
    outside = [i for i in result.report["issues"] if i["check"] == "outside_county"]
    summary, *each = outside
    assert "坐标系可能不对" in summary["message"] and "高斯-克吕格" in summary["message"]
    assert sorted(c for i in each for c in i["codes"]) == sorted(villages["code"])
    assert all("完全在县界（昌宁县）之外" in i["message"] for i in each)
    assert all(i["area_m2"] > 100_000 for i in each)
    with pytest.raises(service.GenerationNotClean) as err:
        await service.activate_generation(result.generation_id)
    assert "--force" in err.value.message
    forced = await service.activate_generation(result.generation_id, force=True)
    assert forced["active"]


async def test_another_places_features_and_a_short_township_layer(database, tmp_path):
    features = read_fc("townships.geojson")["features"]
    # A neighbouring county's polygon 30 km east of 昌宁 slipped into the file.
    stranger = {
        "type": "Feature",
        "properties": {"code": "530523100000", "name": "别县某镇"},
        "geometry": square(100.35, 24.7, 8000),
    }
    path = write_geojson(
        tmp_path / "townships.geojson", {"type": "FeatureCollection", "features": [*features, stranger]}
    )
    result = await service.import_layers("primary", [read_layer(path, LayerOptions(level="township"))])
    [outside] = [i for i in result.report["issues"] if i["check"] == "outside_county"]
    assert outside["codes"] == ["530523100000"] and "别县某镇" in outside["message"]
    assert outside["area_m2"] == pytest.approx(64e6, rel=0.02)
    assert not result.activated
    # Seven of the thirteen townships: the area check says so.
    short = write_geojson(tmp_path / "seven.geojson", {"type": "FeatureCollection", "features": features[:7]})
    result = await service.import_layers("primary", [read_layer(short, LayerOptions(level="township"))])
    [area] = [i for i in result.report["issues"] if i["check"] == "county_area"]
    assert "县界（昌宁县）为 3,774.8 平方公里" in area["message"] and "缺了一部分乡镇" in area["message"]
    assert not result.activated


# --- partial imports ---------------------------------------------------------------------------------


def moved_border(tmp_path):
    """The demo's townships with one village of 田园镇 (A) handed to a neighbour (B), as a county's new
    township survey would: (path, A, B, the village moved, a point in it)."""
    towns = demo_townships()
    villages = {
        f["properties"]["code"]: shape(f["geometry"]) for f in read_fc("villages.geojson")["features"]
    }
    a = "530524101000"
    mine = {c: g for c, g in villages.items() if c.startswith(a[:9])}
    # The village of A with the longest border with another township, and that township.
    border, v, b = max(
        (g.intersection(towns[t].buffer(1e-7)).length, c, t) for c, g in mine.items() for t in towns if t != a
    )
    assert border > 0.01
    towns[a] = shapely.union_all([g for c, g in mine.items() if c != v])
    towns[b] = shapely.union_all([towns[b], villages[v]])
    point = villages[v].buffer(-0.002).point_on_surface()
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"code": c, "name": c}, "geometry": mapping(g)}
            for c, g in towns.items()
        ],
    }
    return write_geojson(tmp_path / "新乡镇界.geojson", fc), a, b, v, (point.x, point.y)


async def test_township_only_import_says_the_carried_levels_no_longer_nest(database, tmp_path):
    path, a, b, v, point = moved_border(tmp_path)
    before = await service.locate(*point)
    assert before.township.code == a and before.village and before.grid
    result = await service.import_layers("primary", [read_layer(path, LayerOptions(level="township"))])
    assert not result.activated
    first = result.report["issues"][0]
    assert first["check"] == "carried_mismatch" and first["level"] == "village"
    assert "--drop-lower" in first["message"] and "--recut-lower" in first["message"]
    assert {"outside_parent", "gap"} <= set(checks(result.report))
    assert carried_lines(result.report) == [
        "村（社区）、网格：沿用第 1 代（本次没有导入这些层级，原样使用第 1 代的边界）"
    ]


async def test_drop_lower_locates_from_the_new_townships(database, tmp_path):
    path, a, b, v, point = moved_border(tmp_path)
    result = await service.import_layers(
        "primary", [read_layer(path, LayerOptions(level="township"))], lower="drop"
    )
    assert result.clean and result.activated, result.report["issues"]
    assert result.report["levels"] == {"township": 13} and result.report["lower"]["dropped"] == [
        "village",
        "grid",
    ]
    assert "网格：不再沿用（--drop-lower）" in carried_lines(result.report)[0]
    moved = await service.locate(*point)
    assert moved.township.code == b and moved.village is None and moved.grid is None
    here = await service.locate(*TIANYUAN_POINT)
    assert here.township.code == a and here.grid is None


async def test_recut_lower_clips_the_carried_cells_to_the_new_townships(database, tmp_path):
    path, a, b, v, point = moved_border(tmp_path)
    before = await service.locate(*point)
    result = await service.import_layers(
        "primary", [read_layer(path, LayerOptions(level="township"))], lower="recut"
    )
    assert result.clean and result.activated, result.report["issues"]
    recut_notes = [i for i in result.report["issues"] if i["check"] == "recut"]
    assert [i["level"] for i in recut_notes] == ["village", "grid"]
    assert "临时的合成边界" in recut_notes[0]["message"]
    assert "1 个换了上级" in recut_notes[0]["message"] and "0 个被分成几块" in recut_notes[0]["message"]
    moved = await service.locate(*point)
    # The village moved with its cells; it belongs to B now, by location.
    assert (moved.township.code, moved.village.code, moved.grid.code) == (b, v, before.grid.code)
    villages = (await service._load_features(result.generation_id, ["village"]))["village"]
    piece = next(f for f in villages if f.code == v)
    assert piece.parent_code == b and piece.properties["synthetic"] == "recut"
    here = await service.locate(*TIANYUAN_POINT)
    assert (here.township.code, here.village.code) == (a, "530524101001")


def test_recut_splits_a_cell_between_two_new_parents():
    from backend.grids.partial import recut
    from backend.grids.topology import Feature

    def poly(x0, x1):
        return shapely.box(99.6 + x0 * 0.01, 24.8, 99.6 + x1 * 0.01, 24.81)

    parents = [
        Feature("village", "P1", "一村", None, poly(0, 3)),
        Feature("village", "P2", "二村", None, poly(3, 6)),
    ]
    children = [
        Feature("grid", "C1", "甲", "P1", poly(0, 2)),
        Feature("grid", "C2", "乙", "P1", poly(2, 5)),  # two thirds now in P2
        Feature("grid", "C3", "丙", "P1", poly(5, 6)),  # wholly in P2
    ]
    pieces, split, moved = recut(children, parents)
    got = {
        (f.code, f.parent_code, round(f.geometry.bounds[0], 4), round(f.geometry.bounds[2], 4))
        for f in pieces
    }
    assert got == {
        ("C1", "P1", 99.6, 99.62),
        ("C2", "P2", 99.63, 99.65),  # the largest piece keeps the code
        ("C2-1", "P1", 99.62, 99.63),
        ("C3", "P2", 99.65, 99.66),
    }
    assert (split, moved) == (1, 2)
    assert all(f.properties["synthetic"] == "recut" for f in pieces)
    assert next(f for f in pieces if f.code == "C2-1").properties["recut_from"] == "C2"


# --- what the files look like ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code_field, name_field",
    [("XZDM", "XZMC"), ("区划代码", "区划名称"), ("CUN_DM", "CUN_MC"), ("adcode", "name")],
)
def test_field_names_of_public_and_office_files(tmp_path, code_field, name_field):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {code_field: "530524101000", name_field: "田园镇", "面积": 1.0},
                "geometry": square(99.6, 24.8, 1000),
            }
        ],
    }
    layer = read_layer(write_geojson(tmp_path / "f.geojson", fc), LayerOptions(level="township"))
    assert layer.info["fields"]["code"] == code_field and layer.info["fields"]["name"] == name_field
    assert (layer.features[0].code, layer.features[0].name) == ("530524101000", "田园镇")


def test_unreadable_files_get_a_chinese_message_that_says_what_to_do(tmp_path):
    not_features = tmp_path / "list.json"
    not_features.write_text('[{"adcode": 530524, "name": "昌宁县"}]', encoding="utf-8")
    with pytest.raises(ImportRefused) as err:
        read_layer(not_features, LayerOptions(level="township"))
    assert err.value.code == "grids.unreadable" and "FeatureCollection" in err.value.message
    garbage = tmp_path / "乡镇.geojson"
    garbage.write_text("<html>登录已过期</html>", encoding="utf-8")
    with pytest.raises(ImportRefused) as err:
        read_layer(garbage, LayerOptions(level="township"))
    assert err.value.code == "grids.unreadable"
    assert "另存为" in err.value.message and "It might help" in err.value.message_en
    assert "It might help" not in err.value.message and "/tmp" not in err.value.message  # GDAL's words


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # the point of the test
def test_no_crs_message_reads_right_and_mentions_gcj02(tmp_path):
    path = tmp_path / "noprj.shp"
    gdf = pyogrio.read_dataframe(DEMO / "townships.geojson")[["code", "name", "geometry"]].set_crs(
        None, allow_override=True
    )
    pyogrio.write_dataframe(gdf, path)
    with pytest.raises(ImportRefused) as err:
        read_layer(path, LayerOptions(level="township"))
    message = err.value.message
    assert err.value.code == "grids.crs_missing"
    assert "3度带带号第33带" in message and "带带带" not in message
    assert "--crs gcj02" in message and "--crs bd09" in message
