"""`fengqiao init` on an empty database: a made-up county (not 昌宁) from its outline and division CSV,
its first admin with a one-time password, a case filed there; idempotent; the demo kept out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely

from tests.factories import bearer, case_body

REPO_ROOT = Path(__file__).resolve().parents[2]
CHANGNING = REPO_ROOT / "grids" / "changning" / "source"

# 测试县 (451099): a made-up county in Guangxi, a 0.2° square around this centre.
LON, LAT = 108.30, 23.10
DIVISIONS_CSV = """code,name,level,parent_code
451099101000,东山镇,township,451099000000
451099102000,西岭乡,township,451099000000
451099101001,东山社区居民委员会,village,451099101000
451099101002,石门村民委员会,village,451099101000
451099102001,岭脚村民委员会,village,451099102000
"""


@pytest.fixture(scope="session")
async def template(databases):
    """Migrations only, no demo: what a county's IT clerk starts from."""
    return await databases.bare("bare")


def _outline(tmp_path: Path, lon: float = LON, lat: float = LAT) -> Path:
    square = shapely.box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1)
    path = tmp_path / f"outline-{lon}-{lat}.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(square)}
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def _csv(tmp_path: Path, text: str = DIVISIONS_CSV, name: str = "divisions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def _init(tmp_path: Path, **overrides):
    from backend.people import deployment

    args = {"county_code": "451099", "county_name": "测试县", "admin_username": "admin", **overrides}
    if "outline_path" not in args:
        args["outline_path"] = _outline(tmp_path)
    if "divisions_path" not in args:
        args["divisions_path"] = _csv(tmp_path)
    return await deployment.initialise(**args)


async def _signed_in_admin(client, one_time_password: str, new_password: str = "Dongshan-2026!") -> dict:
    r = await client.post(
        "/api/auth/login",
        json={"username": "admin", "password": one_time_password, "device_name": "办公室电脑"},
    )
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["must_change_password"] is True
    r = await client.post(
        "/api/me/password",
        json={"old_password": one_time_password, "new_password": new_password},
        headers=bearer(first),
    )
    assert r.status_code == 204, r.text
    return first


async def test_a_new_county_starts_from_init_and_files_its_first_case(client, tmp_path):
    result = await _init(tmp_path)
    assert (result.county_code, result.townships, result.villages) == ("451099000000", 2, 3)
    assert result.one_time_password is not None

    county = (await client.get("/api/county")).json()
    assert county["name"] == "测试县"
    assert county["bbox"] == pytest.approx([LON - 0.1, LAT - 0.1, LON + 0.1, LAT + 0.1])

    # The one-time password opens only the password change.
    r = await client.post(
        "/api/auth/login",
        json={"username": "admin", "password": result.one_time_password, "device_name": "办公室电脑"},
    )
    tokens = r.json()
    assert tokens["must_change_password"] is True
    blocked = await client.get("/api/cases", headers=bearer(tokens))
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "auth.password_change_required"
    weak = await client.post(
        "/api/me/password",
        json={"old_password": result.one_time_password, "new_password": "88888888"},
        headers=bearer(tokens),
    )
    assert weak.status_code == 400
    assert weak.json()["code"] == "auth.weak_password"
    ok = await client.post(
        "/api/me/password",
        json={"old_password": result.one_time_password, "new_password": "Dongshan-2026!"},
        headers=bearer(tokens),
    )
    assert ok.status_code == 204
    assert (await client.get("/api/cases", headers=bearer(tokens))).status_code == 200

    # The county office sets up a team and a mediator in 石门村, who files a case there.
    team = await client.post(
        "/api/admin/teams",
        json={"name": "石门村红色调解队", "township_code": "451099101000", "village_codes": ["451099101002"]},
        headers=bearer(tokens),
    )
    assert team.status_code == 201, team.text
    mediator = await client.post(
        "/api/admin/users",
        json={
            "username": "shimen1",
            "display_name": "韦春兰",
            "password": "Shimen-tiaojie-9",
            "role": "mediator",
            "scope_code": "451099101002",
            "team_id": team.json()["id"],
        },
        headers=bearer(tokens),
    )
    assert mediator.status_code == 201, mediator.text
    r = await client.post(
        "/api/auth/login", json={"username": "shimen1", "password": "Shimen-tiaojie-9", "device_name": "手机"}
    )
    field = r.json()
    created = await client.post("/api/cases", json=case_body((LON, LAT)), headers=bearer(field))
    assert created.status_code == 201, created.text
    # No grids imported yet: the case counts under the mediator's township, numbered by this county.
    assert created.json()["number"].startswith("451099101-")


async def test_init_again_updates_names_in_place_and_makes_no_second_admin(client, tmp_path):
    first = await _init(tmp_path)
    renamed = DIVISIONS_CSV.replace("石门村民委员会", "石门村村民委员会")
    again = await _init(tmp_path, divisions_path=_csv(tmp_path, renamed, "renamed.csv"))
    assert again.one_time_password is None
    assert (again.divisions_created, again.divisions_updated) == (0, 1)
    tokens = await _signed_in_admin(client, first.one_time_password)
    r = await client.get("/api/admin/divisions", params={"township": "451099101000"}, headers=bearer(tokens))
    names = {d["code"]: d["name"] for d in r.json()}
    assert names["451099101002"] == "石门村村民委员会"
    users = await client.get("/api/admin/users", params={"role": "county_admin"}, headers=bearer(tokens))
    assert [u["username"] for u in users.json()["items"]] == ["admin"]


async def test_init_refuses_another_county_on_the_same_database(database, tmp_path):
    from backend.core.errors import AppError

    await _init(tmp_path)
    with pytest.raises(AppError) as refused:
        await _init(tmp_path, county_code="451098", county_name="别的县")
    assert refused.value.code == "init.other_county"


async def test_the_demo_refuses_a_database_made_by_init(database, tmp_path):
    from backend.core.errors import AppError
    from backend.demo import loader

    await _init(tmp_path)
    with pytest.raises(AppError) as refused:
        await loader.load_demo()
    assert refused.value.code == "demo.real_deployment"
    assert "fengqiao init" in refused.value.message


async def test_division_csv_errors_name_their_lines_and_nothing_is_stored(client, tmp_path):
    from backend.core.errors import AppError
    from backend.grids.tables import County, Division

    bad = (
        DIVISIONS_CSV + "451088101003,外县村,village,451088101000\n4510991010,短代码村,village,451099101000\n"
    )
    with pytest.raises(AppError) as refused:
        await _init(tmp_path, divisions_path=_csv(tmp_path, bad, "bad.csv"))
    assert refused.value.code == "init.invalid_divisions"
    assert refused.value.details["errors"] == [
        "第 7 行：区划代码 451088101003 不属于本县（451099）",
        "第 8 行：区划代码 '4510991010' 不是 12 位数字",
        "第 7 行：村（社区）451088101003 的上级 451088101000 不是文件中的乡镇",
    ]
    assert await County.count() == 0
    assert await Division.count() == 0


async def test_an_outline_in_the_wrong_place_is_refused(database, tmp_path):
    from backend.core.errors import AppError

    with pytest.raises(AppError) as refused:
        await _init(tmp_path, outline_path=_outline(tmp_path, lon=500000.0, lat=2700000.0))
    assert refused.value.code == "county.outline_outside_china"
    assert "--crs" in refused.value.message


async def test_a_gcj02_outline_is_converted_to_wgs84(database, tmp_path):
    """AMap/DataV outlines are GCJ-02: with crs=gcj02 the stored outline is the WGS-84 one (~360 m away)."""
    from backend.grids import county

    await _init(
        tmp_path,
        county_code="530524",
        county_name="昌宁县",
        outline_path=CHANGNING / "gcj02" / "county_gcj02.geojson",
        crs="gcj02",
        divisions_path=None,
    )
    stored = (await county.require()).outline()
    wgs84 = shapely.from_geojson((CHANGNING / "county.geojson").read_text(encoding="utf-8"))
    assert stored is not None
    # Vertex for vertex within a metre (1e-5° is about a metre here).
    assert shapely.hausdorff_distance(stored, shapely.union_all(shapely.get_parts(wgs84))) < 1e-5


@pytest.mark.slow  # a `fengqiao init` process: about 3 s
async def test_the_command_prints_one_json_document_for_scripts(database_url, tmp_path):
    from tests.grids.helpers import run_cli

    args = [
        "init",
        "--county-code",
        "451099",
        "--county-name",
        "测试县",
        "--outline",
        str(_outline(tmp_path)),
        "--divisions",
        str(_csv(tmp_path)),
        "--json",
    ]
    code, out, err = await run_cli(*args)
    assert code == 0, err
    printed = json.loads(out)
    assert set(printed) == {"admin_username", "one_time_password"}
    assert printed["admin_username"] == "admin"
    assert len(printed["one_time_password"]) == 14
    code, out, err = await run_cli(*args)
    assert code == 0, err
    assert json.loads(out) == {"admin_username": "admin", "one_time_password": None}
