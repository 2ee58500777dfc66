"""Importing boundary files: Gauss-Krüger Shapefiles with GBK attributes (made here from the demo
set), CRS detection and refusal, repairs, the topology report and the activation rules."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer

from backend.grids import service
from backend.grids.importer import ImportRefused, LayerOptions, read_layer
from tests.grids.conftest import DEMO
from tests.grids.helpers import run_cli, square, square_fc, write_geojson

_TO_M = Transformer.from_crs("EPSG:4326", "EPSG:4542", always_xy=True)
# Test networks live here: inside 昌宁 (every import is checked against the county outline), 17 km
# from its edge; each test has its own database, so they do not meet.
HERE = (99.6, 24.8)


def to_m(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(_TO_M.transform(xy[:, 0], xy[:, 1])))


def demo_frame(name: str, village: str | None = None) -> gpd.GeoDataFrame:
    gdf = pyogrio.read_dataframe(DEMO / name)[["code", "name", "parent_code", "geometry"]]
    if village:
        gdf = gdf[gdf["code"].str.startswith(village)]
    return gdf


def write_shapefile(gdf: gpd.GeoDataFrame, path, crs: str, *, cpg: bool = False):
    """A GBK Shapefile in `crs`; without .cpg unless asked (as surveyors' files often come)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'parent_code' is cut to 'parent_cod', as in real files
        pyogrio.write_dataframe(gdf.to_crs(crs), path, encoding="GBK")
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


def stored(features) -> dict[str, tuple[str, str | None, object]]:
    return {f.code: (f.name, f.parent_code, f.geometry) for f in features}


async def _features(generation_id: int, level: str):
    return (await service._load_features(generation_id, [level]))[level]


def assert_same_cells(got: dict, expected: gpd.GeoDataFrame, tol_m2: float = 0.01):
    assert sorted(got) == sorted(expected["code"])
    for row in expected.itertuples():
        name, parent, geom = got[row.code]
        assert name == row.name and parent == row.parent_code
        diff = to_m(geom).symmetric_difference(to_m(row.geometry)).area
        assert diff < tol_m2, (row.code, diff)


async def test_gbk_shapefile_in_gauss_kruger_zone_33_reproduces_the_cells(database, tmp_path):
    assert CRS.from_epsg(4521).name == "CGCS2000 / 3-degree Gauss-Kruger zone 33"
    villages, cells = demo_frame("villages.geojson"), demo_frame("grid_cells.geojson")
    v_path = write_shapefile(villages, tmp_path / "村界.shp", "EPSG:4521")
    c_path = write_shapefile(cells, tmp_path / "网格.shp", "EPSG:4521")
    raw = pyogrio.read_dataframe(c_path)
    assert raw["name"].iloc[0] != cells["name"].iloc[0]  # GDAL alone garbles the GBK names
    assert raw.total_bounds[0] > 33_000_000  # eastings carry the zone prefix
    layers = [
        read_layer(v_path, LayerOptions(level="village")),
        read_layer(c_path, LayerOptions(level="grid")),
    ]
    assert layers[1].info["crs"] == "EPSG:4521" and layers[1].info["encoding"].startswith("GBK")
    assert layers[1].info["fields"] == {"code": "code", "name": "name", "parent": "parent_cod"}
    result = await service.import_layers(
        "gk33", layers, network_kind="overlay", network_levels=["village", "grid"], activate=False
    )
    report = result.report
    assert report["clean"], report["issues"]
    assert report["by_check"] == {"encoding_guessed": 2}
    assert report["levels"] == {"village": 124, "grid": len(cells)}
    assert_same_cells(stored(await _features(result.generation_id, "grid")), cells)
    assert_same_cells(stored(await _features(result.generation_id, "village")), villages, tol_m2=0.05)
    # Given explicitly, the encoding is not guessed.
    explicit = read_layer(c_path, LayerOptions(level="grid", encoding="GBK"))
    assert not explicit.issues and explicit.features[0].name == cells["name"].iloc[0]


async def test_shapefile_without_zone_prefix_and_with_a_wrong_prj(database, tmp_path):
    assert CRS.from_epsg(4542).name == "CGCS2000 / 3-degree Gauss-Kruger CM 99E"
    cells = demo_frame("grid_cells.geojson", village="530524101")
    plain = write_shapefile(cells, tmp_path / "plain.shp", "EPSG:4542", cpg=True)
    assert pyogrio.read_dataframe(plain).total_bounds[2] < 1_000_000
    layer = read_layer(plain, LayerOptions(level="grid"))
    assert layer.info["crs"] == "EPSG:4542" and not layer.issues
    result = await service.import_layers("gk99", [layer], network_kind="overlay", activate=False)
    assert result.report["clean"]
    assert_same_cells(stored(await _features(result.generation_id, "grid")), cells)
    # Prefixed eastings under a .prj that says "no prefix": read with the prefixed zone, and said so.
    mixed = write_shapefile(cells, tmp_path / "mixed.shp", "EPSG:4521", cpg=True)
    mixed.with_suffix(".prj").write_text(CRS.from_epsg(4542).to_wkt("WKT1_ESRI"))
    fixed = read_layer(mixed, LayerOptions(level="grid"))
    assert fixed.info["crs"] == "EPSG:4521"
    assert [i["check"] for i in fixed.issues] == ["crs_adjusted"]
    assert_same_cells(stored(fixed.features), cells)
    # And the other way round.
    mixed2 = write_shapefile(cells, tmp_path / "mixed2.shp", "EPSG:4542", cpg=True)
    mixed2.with_suffix(".prj").write_text(CRS.from_epsg(4521).to_wkt("WKT1_ESRI"))
    fixed2 = read_layer(mixed2, LayerOptions(level="grid"))
    assert fixed2.info["crs"] == "EPSG:4542" and [i["check"] for i in fixed2.issues] == ["crs_adjusted"]
    # Prefixed eastings of another zone than the .prj's: refused.
    wrong = write_shapefile(cells, tmp_path / "wrong.shp", "EPSG:4521", cpg=True)
    wrong.with_suffix(".prj").write_text(CRS.from_epsg(4543).to_wkt("WKT1_ESRI"))
    with pytest.raises(ImportRefused) as err:
        read_layer(wrong, LayerOptions(level="grid"))
    assert err.value.code == "grids.crs_mismatch"


async def test_file_without_crs_is_refused_with_a_fix(database, tmp_path):
    cells = demo_frame("grid_cells.geojson", village="530524101001")
    path = write_shapefile(cells, tmp_path / "noprj.shp", "EPSG:4521", cpg=True)
    path.with_suffix(".prj").unlink()
    with pytest.raises(ImportRefused) as err:
        read_layer(path, LayerOptions(level="grid"))
    assert err.value.code == "grids.crs_missing"
    assert "--crs" in err.value.message and "EPSG:4521" in err.value.message  # guessed from the prefix
    assert "--crs" in err.value.message_en
    layer = read_layer(path, LayerOptions(level="grid", crs="EPSG:4521"))
    assert layer.info["crs"] == "EPSG:4521"
    assert_same_cells(stored(layer.features), cells)
    with pytest.raises(ImportRefused) as err:
        read_layer(path, LayerOptions(level="grid", crs="EPSG:99999"))
    assert err.value.code == "geo.invalid_crs"


async def test_bow_tie_is_repaired_and_reported(database, tmp_path):
    lon, lat = HERE
    d = 0.01
    bow_tie = {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + d, lat + d], [lon + d, lat], [lon, lat + d], [lon, lat]]],
    }
    fc = square_fc([("BT-2", "正常", lon + 2 * d, lat, 1000)])
    fc["features"].insert(
        0, {"type": "Feature", "properties": {"code": "BT-1", "name": "蝴蝶结"}, "geometry": bow_tie}
    )
    gdf = gpd.GeoDataFrame.from_features(fc["features"], crs="EPSG:4326")
    path = tmp_path / "bowtie.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="cells")
    layer = read_layer(path, LayerOptions(level="grid"))
    [repair] = [i for i in layer.issues if i["check"] == "invalid_repaired"]
    assert repair["codes"] == ["BT-1"] and "Self-intersection" in repair["reason"] and repair["parts"] == 2
    fixed = next(f for f in layer.features if f.code == "BT-1")
    assert fixed.geometry.is_valid and fixed.geometry.geom_type == "MultiPolygon"
    assert fixed.geometry.area == pytest.approx(d * d / 2)
    result = await service.import_layers("bowtie", [layer], network_kind="overlay")
    assert result.report["clean"] and result.report["warnings"] == 1  # repaired: a warning, not an error
    assert result.activated
    overlays = (await service.locate(lon + d * 0.2, lat + d * 0.5)).overlays
    assert [o["code"] for o in overlays if o["network"] == "bowtie"] == ["BT-1"]


async def test_overlaps_are_reported_and_block_activation_without_force(database, tmp_path):
    lon, lat = HERE
    fc = square_fc(
        [
            ("OV-1", "甲", lon, lat, 1000),
            ("OV-2", "乙", lon, lat, 1000, 900, 0),
            ("OV-3", "丙", lon, lat, 1000, 0, 1000),
        ]
    )
    path = write_geojson(tmp_path / "overlap.geojson", fc)
    layer = read_layer(path, LayerOptions(level="grid"))
    result = await service.import_layers("overlap", [layer], network_kind="overlay")
    report = result.report
    assert not report["clean"] and not result.activated and not result.active
    [overlap] = [i for i in report["issues"] if i["check"] == "overlap"]
    assert overlap["codes"] == ["OV-1", "OV-2"] and overlap["area_m2"] == pytest.approx(100 * 1000, rel=0.01)
    assert overlap["severity"] == "error" and "重叠" in overlap["message"]
    assert "不" in result.summary() or "未启用" in result.summary()
    with pytest.raises(service.GenerationNotClean):
        await service.activate_generation(result.generation_id)
    # Same file again: no new generation; with force it is activated.
    again = await service.import_layers("overlap", [read_layer(path, LayerOptions(level="grid"))], force=True)
    assert again.reused and again.generation_id == result.generation_id and again.activated


@pytest.mark.slow  # two `fengqiao grids import` processes: about 5 s
@pytest.mark.server
async def test_cli_import_refuses_activation_then_forces(database, tmp_path):
    lon, lat = HERE
    fc = square_fc([("CLI-1", "甲", lon, lat, 1000), ("CLI-2", "乙", lon, lat, 1000, 500, 500)])
    path = write_geojson(tmp_path / "cli.geojson", fc)
    base = [
        "grids",
        "import",
        str(path),
        "--network",
        "cli",
        "--overlay",
        "-l",
        "grid",
    ]
    code, out, err = await run_cli(*base)
    assert code == 3, err
    assert "重叠" in out and "--force" in out
    code, out, err = await run_cli(*base, "--force")
    assert code == 0, err
    assert "已启用" in out


async def test_parent_problems(database, tmp_path):
    lon, lat = HERE
    villages = square_fc([("V1", "一村", lon, lat, 2000), ("V2", "二村", lon, lat, 2000, 2000, 0)])
    cells = square_fc(
        [
            ("V1-001", "一村第1网格", lon, lat, 1000, 0, 0, "V1"),
            ("V1-002", "一村第2网格", lon, lat, 1000, 1000, 0, "V1"),
            (
                "V1-003",
                "一村第3网格",
                lon,
                lat,
                1000,
                0,
                1000,
                "V1",
            ),  # (1000,1000)-(2000,2000) left open: a gap
            ("V2-001", "二村第1网格", lon, lat, 2000, 2000, 0, "V2"),
            ("V2-002", "越界网格", lon, lat, 1000, 4000, 0, "V2"),  # outside V2 entirely
            ("V9-001", "无主网格", lon, lat, 500, 1200, 1200, "V9"),  # unknown parent
        ]
    )
    layers = [
        read_layer(write_geojson(tmp_path / "v.geojson", villages), LayerOptions(level="village")),
        read_layer(write_geojson(tmp_path / "c.geojson", cells), LayerOptions(level="grid")),
    ]
    result = await service.import_layers(
        "parents", layers, network_kind="overlay", network_levels=["village", "grid"]
    )
    checks = {(i["check"], tuple(i.get("codes", []))) for i in result.report["issues"]}
    assert ("unknown_parent", ("V9-001",)) in checks
    assert ("outside_parent", ("V2-002",)) in checks
    assert ("gap", ("V1",)) in checks
    gap = next(i for i in result.report["issues"] if i["check"] == "gap")
    assert gap["area_m2"] == pytest.approx(1000 * 1000, rel=0.01)
    assert not result.report["clean"] and not result.activated


async def test_missing_parent_codes_are_found_by_location(database, tmp_path):
    lon, lat = HERE
    villages = square_fc([("W1", "一村", lon, lat, 1000), ("W2", "二村", lon, lat, 1000, 1000, 0)])
    cells = square_fc([("W1-001", "甲", lon, lat, 1000), ("W2-001", "乙", lon, lat, 1000, 1000, 0)])
    layers = [
        read_layer(write_geojson(tmp_path / "v.geojson", villages), LayerOptions(level="village")),
        read_layer(write_geojson(tmp_path / "c.geojson", cells), LayerOptions(level="grid")),
    ]
    result = await service.import_layers(
        "byloc", layers, network_kind="overlay", network_levels=["village", "grid"]
    )
    assert result.report["clean"], result.report["issues"]
    assert result.report["by_check"] == {"parent_by_location": 1}
    got = {f.code: f.parent_code for f in await _features(result.generation_id, "grid")}
    assert got == {"W1-001": "W1", "W2-001": "W2"}
    # A later import of just the grid level carries the villages forward.
    cells2 = square_fc(
        [("W1-001", "甲", lon, lat, 1000, 0, 0, "W1"), ("W2-001", "乙改", lon, lat, 1000, 1000, 0, "W2")]
    )
    layer = read_layer(write_geojson(tmp_path / "c2.geojson", cells2), LayerOptions(level="grid"))
    second = await service.import_layers("byloc", [layer])
    assert second.report["clean"] and second.report["carried"] == {"village": result.number}
    assert second.number == result.number + 1 and second.activated
    assert {f.code for f in await _features(second.generation_id, "village")} == {"W1", "W2"}
    names = await service.region_names(["W2-001"])
    assert names == {"W2-001": "乙改"}


async def test_duplicate_codes_are_refused(database, tmp_path):
    lon, lat = HERE
    fc = square_fc([("D-1", "甲", lon, lat, 1000), ("D-1", "乙", lon, lat, 1000, 1000, 0)])
    layer = read_layer(write_geojson(tmp_path / "dup.geojson", fc), LayerOptions(level="grid"))
    with pytest.raises(ImportRefused) as err:
        await service.import_layers("dups", [layer], network_kind="overlay", force=True)
    assert err.value.code == "grids.import_blocked"
    assert err.value.details["report"]["blocking"] == ["duplicate_code"]


async def test_fields_layers_and_kml(database, tmp_path):
    lon, lat = HERE
    gdf = gpd.GeoDataFrame(
        {"WGBM": ["K-1", "K-2"], "WGMC": ["甲网格", "乙网格"]},
        geometry=[
            shapely.geometry.shape(square(lon, lat, 1000)),
            shapely.geometry.shape(square(lon, lat, 1000, 1000, 0)),
        ],
        crs="EPSG:4490",
    )
    gpkg = tmp_path / "two_layers.gpkg"
    pyogrio.write_dataframe(gdf, gpkg, layer="a")
    pyogrio.write_dataframe(gdf.rename(columns={"WGBM": "bianhao"}), gpkg, layer="b")
    with pytest.raises(ImportRefused) as err:
        read_layer(gpkg, LayerOptions(level="grid"))
    assert err.value.code == "grids.several_layers" and "a, b" in err.value.message
    a = read_layer(gpkg, LayerOptions(level="grid", layer="a"))
    assert (
        a.info["fields"]["code"] == "WGBM"
        and a.info["fields"]["name"] == "WGMC"
        and a.info["crs"] == "EPSG:4490"
    )
    assert [f.name for f in a.features] == ["甲网格", "乙网格"]
    with pytest.raises(ImportRefused) as err:
        read_layer(gpkg, LayerOptions(level="grid", layer="b"))
    assert err.value.code == "grids.unknown_field" and "bianhao" in err.value.message
    assert (
        read_layer(gpkg, LayerOptions(level="grid", layer="b", code_field="BIANHAO")).features[0].code
        == "K-1"
    )
    # KML from a phone: names in <name>, codes in ExtendedData.
    kml = tmp_path / "cells.kml"
    pyogrio.write_dataframe(gdf.rename(columns={"WGBM": "code", "WGMC": "Name"}), kml, driver="LIBKML")
    k = read_layer(kml, LayerOptions(level="grid"))
    assert [(f.code, f.name) for f in k.features] == [("K-1", "甲网格"), ("K-2", "乙网格")]
    result = await service.import_layers("kml", [k], network_kind="overlay")
    assert result.activated and result.report["clean"]
