"""The grid generations API of the admin console: upload in chunks, inspect, import without activating,
preview, activate (refused on errors unless forced) or discard. County admins only."""

from __future__ import annotations

import json

import pytest

from tests.grids.helpers import square_fc

HERE = (99.6, 24.8)  # inside the county, far from its edge


def overlay_file(overlapping: bool) -> bytes:
    cells = [("P-1", "甲", *HERE, 1000), ("P-2", "乙", *HERE, 1000, 900 if overlapping else 1000, 0)]
    fc = square_fc(cells)
    for f in fc["features"]:  # as a county office names them
        p = f["properties"]
        f["properties"] = {"WGBM": p["code"], "WGMC": p["name"]}
    return json.dumps(fc, ensure_ascii=False).encode()


async def upload(client, h, name: str, data: bytes, chunk: int = 700) -> str:
    upload_id = (await client.post("/api/admin/grids/uploads", headers=h)).json()["id"]
    for offset in range(0, len(data), chunk):
        r = await client.put(
            f"/api/admin/grids/uploads/{upload_id}/files/{name}",
            params={"offset": offset},
            content=data[offset : offset + chunk],
            headers=h,
        )
        assert r.status_code == 200, r.text
    return upload_id


async def import_overlay(client, h, upload_id: str, name: str, network: str = "party2"):
    body = {"upload": upload_id, "network": network, "layers": [{"file": name, "level": "grid"}]}
    return await client.post("/api/admin/grids/imports", json=body, headers=h)


async def test_only_county_admins(client, database, headers_for):
    for user in ("tianyuan", "mediator1"):
        r = await client.post("/api/admin/grids/uploads", headers=await headers_for(user))
        assert r.status_code == 403, user


async def test_upload_inspect_import_refuse_discard_then_activate(client, database, headers_for):
    h = await headers_for("county")
    # The overlay network must exist first (the first network of a deployment is the primary one).
    from backend.grids import service

    await service.ensure_network("party2", name="党建网格二", kind="overlay", levels=["grid"])

    data = overlay_file(overlapping=True)
    upload_id = await upload(client, h, "网格.geojson", data)
    # A chunk at the wrong offset: the server says where it is.
    r = await client.put(
        f"/api/admin/grids/uploads/{upload_id}/files/网格.geojson",
        params={"offset": 5},
        content=b"x",
        headers=h,
    )
    assert r.status_code == 409 and r.json()["code"] == "grids.upload_offset"
    assert r.json()["offset"] == len(data)

    [info] = (await client.get(f"/api/admin/grids/uploads/{upload_id}", headers=h)).json()
    assert info["file"] == "网格.geojson"
    [layer] = info["layers"]
    assert layer["features"] == 2 and layer["guess"] == {"code": "WGBM", "name": "WGMC", "parent": None}

    r = await import_overlay(client, h, upload_id, "网格.geojson")
    assert r.status_code == 201, r.text
    bad = r.json()
    assert not bad["clean"] and not bad["active"]
    assert [i["check"] for i in bad["report"]["issues"]] == ["overlap"]
    assert bad["report"]["issues"][0]["at"]  # where to zoom the map
    r = await client.post(
        f"/api/admin/grids/generations/{bad['generation_id']}/activate", json={"force": False}, headers=h
    )
    assert r.status_code == 409 and "--force" in r.json()["message"]
    preview = (
        await client.get(
            f"/api/admin/grids/generations/{bad['generation_id']}/geojson",
            params={"level": "grid"},
            headers=h,
        )
    ).json()
    assert [f["properties"]["code"] for f in preview["features"]] == ["P-1", "P-2"]
    assert (
        await client.delete(f"/api/admin/grids/generations/{bad['generation_id']}", headers=h)
    ).status_code == 204
    r = await client.get(f"/api/admin/grids/generations/{bad['generation_id']}/report", headers=h)
    assert r.status_code == 404

    good_id = await upload(client, h, "网格2.geojson", overlay_file(overlapping=False))
    good = (await import_overlay(client, h, good_id, "网格2.geojson")).json()
    assert good["clean"] and not good["active"]
    r = await client.post(
        f"/api/admin/grids/generations/{good['generation_id']}/activate", json={"force": False}, headers=h
    )
    assert r.status_code == 200 and r.json()["active"]
    r = await client.delete(f"/api/admin/grids/generations/{good['generation_id']}", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "grids.generation_in_use"


@pytest.mark.parametrize("name", ["evil.exe", ".hidden.shp", "网格.zip"])
async def test_only_boundary_files_are_taken(client, database, headers_for, name):
    h = await headers_for("county")
    upload_id = (await client.post("/api/admin/grids/uploads", headers=h)).json()["id"]
    r = await client.put(f"/api/admin/grids/uploads/{upload_id}/files/{name}", content=b"x", headers=h)
    assert r.status_code == 400 and r.json()["code"] == "grids.upload_type"
    assert "GeoPackage" in r.json()["message"]


async def test_import_errors_read_as_in_the_cli(client, database, headers_for):
    h = await headers_for("county")
    upload_id = await upload(client, h, "乡镇.geojson", b"<html>\xe7\x99\xbb\xe5\xbd\x95</html>")
    r = await client.post(
        "/api/admin/grids/imports",
        json={"upload": upload_id, "layers": [{"file": "乡镇.geojson", "level": "township"}]},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["code"] == "grids.unreadable"
    assert "另存为 GeoPackage 或 Shapefile" in r.json()["message"]
    r = await client.get("/api/admin/grids/uploads/0123456789abcdef", headers=h)
    assert r.status_code == 404 and r.json()["code"] == "grids.unknown_upload"
