"""The grids HTTP API: /api/locate, /api/grids (GeoJSON, ETag), /api/regions, admin generations."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

TIANYUAN = "530524101000"


async def test_locate_needs_sign_in(client, grids_index):
    response = await client.get("/api/locate", params={"lon": 99.614962, "lat": 24.825632})
    assert response.status_code == 401


async def test_locate(client, grids_index, headers_for):
    h = await headers_for("mediator1")
    response = await client.get("/api/locate", params={"lon": "99.614962", "lat": "24.825632"}, headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "inside"
    assert body["township"] == {"code": TIANYUAN, "name": "田园镇"}
    assert body["grid"]["code"] == "530524101001001"
    assert body["generation"] == grids_index.generation
    gcj = await client.get(
        "/api/locate", params={"lon": 99.615812, "lat": 24.822454, "crs": "gcj02"}, headers=h
    )
    assert gcj.status_code == 200 and gcj.json()["grid"] == body["grid"]
    far = await client.get("/api/locate", params={"lon": 105.0, "lat": 30.0}, headers=h)
    assert far.json()["status"] == "outside" and far.json()["township"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"lon": "NaN", "lat": "24.8"},
        {"lon": "99.6", "lat": "nan"},
        {"lon": "inf", "lat": "24.8"},
        {"lon": "1e999", "lat": "24.8"},
        {"lon": "abc", "lat": "24.8"},
        {"lon": "99,6", "lat": "24.8"},
        {"lon": "200", "lat": "24.8"},
        {"lon": "99.6", "lat": "-95"},
        {"lon": "", "lat": "24.8"},
        {"lat": "24.8"},
        {},
    ],
)
async def test_invalid_coordinates_are_400(client, grids_index, headers_for, params):
    response = await client.get("/api/locate", params=params, headers=await headers_for("mediator1"))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "geo.invalid_coordinates"
    assert body["message"] and body["message_en"]


async def test_unknown_crs(client, grids_index, headers_for):
    response = await client.get(
        "/api/locate",
        params={"lon": 99.6, "lat": 24.8, "crs": "bd09"},
        headers=await headers_for("mediator1"),
    )
    assert response.status_code == 400 and response.json()["code"] == "geo.invalid_crs"


async def test_grids_levels_counts_and_shared_edges(client, grids_index, headers_for, demo_levels):
    h = await headers_for("county")
    expected = {"township": 13, "village": 124, "grid": len(demo_levels["grid"]), "party": 46}
    for level, n in expected.items():
        response = await client.get("/api/grids", params={"level": level}, headers=h)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/geo+json")
        fc = response.json()
        assert fc["type"] == "FeatureCollection" and fc["level"] == level
        assert len(fc["features"]) == n
        geoms = [shape(f["geometry"]) for f in fc["features"]]
        # Simplified as a coverage: still valid, neighbours still share their edges exactly.
        assert all(g.is_valid for g in geoms)
        assert shapely.coverage_is_valid(geoms), level
        original = demo_levels[level]
        assert sum(shapely.get_num_coordinates(g) for g in geoms) < sum(
            shapely.get_num_coordinates(g) for _, g in original.values()
        )
        # Simplification moves boundaries only a little (areas within 2%).
        for f, g in zip(fc["features"], geoms, strict=True):
            orig = original[f["properties"]["code"]][1]
            assert abs(g.area - orig.area) / orig.area < 0.02, f["properties"]["code"]
            xy = shapely.get_coordinates(g)
            assert np.array_equal(np.round(xy, 6), xy)


async def test_grids_filters(client, grids_index, headers_for, demo_levels):
    h = await headers_for("county")
    villages = (
        await client.get("/api/grids", params={"level": "village", "township": TIANYUAN}, headers=h)
    ).json()
    codes = {f["properties"]["code"] for f in villages["features"]}
    assert codes == {c for c, (p, _) in demo_levels["village"].items() if p["parent_code"] == TIANYUAN}
    assert len(codes) == 13
    cells = (await client.get("/api/grids", params={"level": "grid", "township": TIANYUAN}, headers=h)).json()
    assert cells["features"] and all(f["properties"]["township"] == TIANYUAN for f in cells["features"])
    assert all(f["properties"]["parent_code"] in codes for f in cells["features"])
    party = (
        await client.get("/api/grids", params={"level": "party", "township": TIANYUAN}, headers=h)
    ).json()
    assert {f["properties"]["code"] for f in party["features"]} == {
        c for c, (p, _) in demo_levels["party"].items() if p["parent_code"] == TIANYUAN
    }
    bbox = (99.55, 24.75, 99.65, 24.85)
    boxed = (
        await client.get("/api/grids", params={"level": "grid", "bbox": ",".join(map(str, bbox))}, headers=h)
    ).json()
    box = shapely.box(*bbox)
    inside = {c for c, (_, g) in demo_levels["grid"].items() if g.intersects(box)}
    got = {f["properties"]["code"] for f in boxed["features"]}
    assert inside <= got and len(got) < len(demo_levels["grid"]) / 4
    # A phone asks for its own township's cells for offline use.
    mine = await client.get(
        "/api/grids", params={"level": "grid", "township": "mine"}, headers=await headers_for("tianyuan")
    )
    assert {f["properties"]["code"] for f in mine.json()["features"]} == {
        f["properties"]["code"] for f in cells["features"]
    }


async def test_grids_etag_and_cache_headers(client, grids_index, headers_for):
    h = await headers_for("mediator1")
    first = await client.get("/api/grids", params={"level": "township"}, headers=h)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    assert "private" in first.headers["cache-control"]
    again = await client.get("/api/grids", params={"level": "township"}, headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = await client.get(
        "/api/grids", params={"level": "township"}, headers={**h, "If-None-Match": f"W/{etag}"}
    )
    assert weak.status_code == 304
    other = await client.get("/api/grids", params={"level": "village"}, headers={**h, "If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag
    assert json.loads(other.content)["level"] == "village"


async def test_grids_bad_parameters(client, grids_index, headers_for):
    h = await headers_for("mediator1")
    bad_level = await client.get("/api/grids", params={"level": "province"}, headers=h)
    assert bad_level.status_code == 400 and bad_level.json()["code"] == "grids.unknown_level"
    bad_bbox = await client.get("/api/grids", params={"level": "grid", "bbox": "1,2,3"}, headers=h)
    assert bad_bbox.status_code == 400 and bad_bbox.json()["code"] == "geo.invalid_bbox"


async def test_regions(client, grids_index, headers_for):
    h = await headers_for("mediator2")
    response = await client.get("/api/regions", params={"level": "village", "parent": TIANYUAN}, headers=h)
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 13 and rows == sorted(rows, key=lambda r: r["code"])
    assert rows[0] == {
        "network": "primary",
        "level": "village",
        "code": "530524101001",
        "name": "关庙社区居民委员会",
        "parent_code": TIANYUAN,
        "area_km2": rows[0]["area_km2"],
    }
    assert rows[0]["area_km2"] > 0
    towns = (await client.get("/api/regions", params={"level": "township"}, headers=h)).json()
    assert len(towns) == 13
    other = await client.get(
        "/api/regions", params={"level": "township"}, headers={**h, "If-None-Match": response.headers["etag"]}
    )
    assert other.status_code == 200  # a different query, a different ETag
    same = await client.get(
        "/api/regions",
        params={"level": "village", "parent": TIANYUAN},
        headers={**h, "If-None-Match": response.headers["etag"]},
    )
    assert same.status_code == 304 and same.content == b""


async def test_admin_networks_and_activation(client, grids_index, headers_for):
    mediator = await client.get("/api/admin/grids/networks", headers=await headers_for("mediator1"))
    assert mediator.status_code == 403
    h = await headers_for("county")
    nets = (await client.get("/api/admin/grids/networks", headers=h)).json()
    primary = next(n for n in nets if n["code"] == "primary")
    assert primary["kind"] == "primary" and primary["levels"] == ["township", "village", "grid"]
    active = [g for g in primary["generations"] if g["active"]]
    assert len(active) == 1 and active[0]["id"] == grids_index.generation
    assert active[0]["counts"]["township"] == 13
    report = (await client.get(f"/api/admin/grids/generations/{active[0]['id']}/report", headers=h)).json()
    assert report["clean"] is True and report["levels"]["village"] == 124
    again = await client.post(f"/api/admin/grids/generations/{active[0]['id']}/activate", json={}, headers=h)
    assert again.status_code == 200 and again.json()["active"] is True
    missing = await client.post("/api/admin/grids/generations/999999/activate", json={}, headers=h)
    assert missing.status_code == 404
