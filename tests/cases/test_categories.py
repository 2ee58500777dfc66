"""The 11 categories and their administration."""

from __future__ import annotations

from tests.factories import auth, case_body, make_case


async def test_eleven_default_categories_with_national_mapping(client):
    response = await client.get("/api/categories", headers=await auth(client, "mediator1"))
    assert response.status_code == 200
    categories = {c["name"]: c for c in response.json()}
    assert list(categories)[:11] == [
        "邻里纠纷",
        "情感纠纷",
        "征地补偿",
        "农业农村",
        "劳动仲裁",
        "婚姻家庭",
        "山林土地",
        "房屋宅基地",
        "合同债务",
        "损害赔偿",
        "其他",
    ]
    assert categories["劳动仲裁"]["national_category"] == "劳动争议"
    assert categories["征地补偿"]["national_category"] == "征地拆迁"
    assert all(c["active"] for c in categories.values())


async def test_county_adds_renames_and_deactivates(client):
    county = await auth(client, "county")
    created = await client.post(
        "/api/categories",
        json={"code": "water_use", "name": "用水纠纷", "national_category": "生产经营"},
        headers=county,
    )
    assert created.status_code == 201, created.text
    renamed = await client.patch("/api/categories/water_use", json={"name": "灌溉用水纠纷"}, headers=county)
    assert renamed.json()["name"] == "灌溉用水纠纷"
    off = await client.patch("/api/categories/water_use", json={"active": False}, headers=county)
    assert off.json()["active"] is False
    listed = [c["code"] for c in (await client.get("/api/categories", headers=county)).json()]
    assert "water_use" not in listed
    # A deactivated category can no longer be chosen for a new case.
    refused = await client.post(
        "/api/cases", json=case_body(category="water_use"), headers=await auth(client, "mediator1")
    )
    assert refused.status_code == 400 and refused.json()["code"] == "case.unknown_category"
    # Unused, so it may be deleted.
    assert (await client.delete("/api/categories/water_use", headers=county)).status_code == 204


async def test_a_category_in_use_cannot_be_deleted(client):
    county = await auth(client, "county")
    await client.post(
        "/api/categories",
        json={"code": "grazing", "name": "放牧纠纷", "national_category": "生产经营"},
        headers=county,
    )
    await make_case(client, category="grazing")
    response = await client.delete("/api/categories/grazing", headers=county)
    assert response.status_code == 409 and response.json()["code"] == "case.category_in_use"


async def test_only_the_county_edits_categories(client):
    response = await client.post(
        "/api/categories",
        json={"code": "x_y", "name": "某某纠纷", "national_category": "其他纠纷"},
        headers=await auth(client, "tianyuan"),
    )
    assert response.status_code == 403
