"""Logging a dispute from the phone: located, numbered, idempotent, validated."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.factories import KASI_POINT, auth, bearer, case_body, login, make_case, make_user, tokens_for


async def test_a_new_case_is_located_numbered_and_owned_by_the_team(client):
    case = await make_case(client)
    assert re.fullmatch(r"530524101-\d{4}-\d{6}", case["number"])
    assert case["state"] == "reported"
    assert case["township"] == {"code": "530524101000", "name": "田园镇"}
    assert case["village"]["code"] == "530524101001"
    assert case["grid"]["code"].startswith("530524101001") and "网格" in case["grid"]["name"]
    assert case["owner_level"] == "team" and case["owner_team"]["name"] == "关庙社区红色调解队"
    assert case["locate"]["status"] == "inside"  # the township seat, in 关庙社区's first grid
    assert case["version"] == 1
    assert [e["action"] for e in case["events"]] == ["create"]
    # The history says what the case was logged as, its number included (given in the event's own
    # statement on PostgreSQL, intake._number_case).
    assert case["events"][0]["after"] == {
        "state": "reported",
        "number": case["number"],
        "level": "small",
        "grid": case["grid"]["code"],
    }
    # The mediator who logged it works the case, so sees the parties in full.
    assert case["parties"][0]["name"] == "张建华" and case["personal_data"] == "full"


async def test_identical_replay_is_200_with_the_same_case(client):
    body = case_body()
    headers = await auth(client, "mediator1")
    first = await client.post("/api/cases", json=body, headers=headers)
    again = await client.post("/api/cases", json=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["number"] == first.json()["number"]
    listed = (await client.get("/api/cases", params={"limit": 200}, headers=headers)).json()["items"]
    assert sum(1 for c in listed if c["id"] == body["id"]) == 1


async def test_same_id_with_other_content_is_409_with_the_servers_copy(client):
    body = case_body()
    headers = await auth(client, "mediator1")
    await client.post("/api/cases", json=body, headers=headers)
    clash = await client.post("/api/cases", json={**body, "title": "另一件事"}, headers=headers)
    assert clash.status_code == 409
    payload = clash.json()
    assert payload["code"] == "case.id_conflict"
    assert payload["server_copy"]["title"] == body["title"]


async def test_case_numbers_are_unique_under_concurrent_intake(client):
    headers = await auth(client, "mediator1")
    responses = await asyncio.gather(
        *[client.post("/api/cases", json=case_body(), headers=headers) for _ in range(12)]
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses if r.status_code != 201]
    numbers = [r.json()["number"] for r in responses]
    assert len(set(numbers)) == 12
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + 12))


async def test_concurrent_replays_of_one_id_make_one_case(client):
    body = case_body()
    headers = await auth(client, "mediator1")
    responses = await asyncio.gather(
        *[client.post("/api/cases", json=body, headers=headers) for _ in range(6)]
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["number"] for r in responses}) == 1


async def test_gcj02_input_is_converted_and_numbered_in_the_right_township(client):
    # 卡斯镇 seat as an AMap picker gives it (GCJ-02), from the county's own data.
    case = await make_case(
        client,
        "mediator2",
        point=KASI_POINT,
        location={"lon": 99.393742, "lat": 24.787973, "crs": "gcj02", "source": "manual"},
    )
    assert case["township"]["code"] == "530524104000"
    assert case["number"].startswith("530524104-")
    assert abs(case["lon"] - KASI_POINT[0]) < 0.0001 and abs(case["lat"] - KASI_POINT[1]) < 0.0001
    assert case["location_source"] == "gcj02-converted"


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"category": "no_such_thing"}, 400, "case.unknown_category"),
        ({"location": {"lon": 200.0, "lat": 24.8}}, 400, "geo.invalid_coordinates"),
        ({"location": {"lon": 99.6, "lat": -95}}, 400, "geo.invalid_coordinates"),
        ({"title": "长" * 101}, 400, "case.text_too_long"),
        ({"title": "   "}, 400, "case.title_required"),
        ({"description": "字" * 5001}, 400, "case.text_too_long"),
        ({"photos": [f"{i:064x}" for i in range(10)]}, 400, "case.too_many_photos"),
        ({"photos": ["not-a-hash"]}, 400, "media.invalid_sha256"),
        ({"parties": [{"name": "王五", "id_number": "110105194912310021"}]}, 400, "case.invalid_id_number"),
        ({"parties": [{"name": "王五", "id_number": "12345"}]}, 400, "case.invalid_id_number"),
        ({"parties": [{"name": "王五", "phone": "12345"}]}, 400, "case.invalid_phone"),
        ({"parties": [{"name": "王五", "phone": "23812345678"}]}, 400, "case.invalid_phone"),
        ({"level": "huge"}, 400, "request.invalid"),
        ({"id": "not-a-uuid"}, 400, "request.invalid"),
    ],
)
async def test_bad_input_gets_a_stable_code_and_nothing_is_stored(client, overrides, status, code):
    body = case_body(**overrides)
    response = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["message"]  # a Chinese message for the phone
    if overrides.get("id") is None:
        detail = await client.get(f"/api/cases/{body['id']}", headers=await auth(client, "county"))
        assert detail.status_code == 404


async def test_nan_coordinates_are_refused(client):
    """A complete body but for a NaN longitude (which JSON has no way to write): refused, nothing made."""
    body = case_body()
    body["location"]["lon"] = float("nan")
    text = json.dumps(body)  # Python writes the NaN as the bare word NaN
    assert '"lon": NaN' in text
    response = await client.post(
        "/api/cases",
        content=text,
        headers={**await auth(client, "mediator1"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "request.invalid"
    detail = await client.get(f"/api/cases/{body['id']}", headers=await auth(client, "county"))
    assert detail.status_code == 404
    # The same body with a real longitude is a valid case: the NaN was the fault.
    body["location"]["lon"] = case_body()["location"]["lon"]
    accepted = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert accepted.status_code == 201, accepted.text


async def test_photos_not_yet_uploaded_are_listed_as_missing(client):
    sha = "ab" * 32
    case = await make_case(client, photos=[sha])
    assert case["missing_photos"] == [sha]
    assert case["photos"][0]["status"] == "missing"


@pytest.mark.parametrize("who", ["mediator", "grid_worker"])
async def test_the_intake_answers_with_the_very_detail_a_read_gives(client, who):
    # The answer skips the lookups a new case cannot need (agreement, 督办 orders, visits): it must
    # still be what GET /api/cases/{id} says, parties in full (the mediator) or masked (a grid worker
    # of the village), with the duplicate it found.
    if who == "mediator":
        headers = await auth(client, "mediator1")
    else:
        worker = await make_user(client, await tokens_for(client, "county"))
        headers = bearer(await login(client, worker["username"], worker["password"]))
    for body in (case_body(), case_body(title="又因通道问题争吵")):  # the second: a possible duplicate
        answered = await client.post("/api/cases", json=body, headers=headers)
        assert answered.status_code == 201, answered.text
        read = await client.get(f"/api/cases/{body['id']}", headers=headers)
        assert read.status_code == 200
        answer, detail = answered.json(), read.json()
        assert answer.pop("locate")["status"] == "inside" and detail.pop("locate") is None
        assert answer == detail
    assert len(answer["duplicates"]) == 1
    assert answer["personal_data"] == ("full" if who == "mediator" else "masked")
