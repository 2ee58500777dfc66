"""Recording a return visit: face-to-face by GPS, idempotent replays, and what the outcome does."""

from __future__ import annotations

import uuid
from datetime import datetime

from backend.core import clock
from backend.core.coords import wgs84_to_gcj02
from backend.visits import service
from tests.factories import TIANYUAN_POINT, auth, make_user, tokens_for
from tests.notify.support import close_case_at, inbox_items

SHANGHAI = clock.LOCAL_TZ
NEAR = {"lon": TIANYUAN_POINT[0], "lat": TIANYUAN_POINT[1] + 0.0009, "accuracy_m": 8.0}  # ~100 m north
FAR = {"lon": TIANYUAN_POINT[0], "lat": TIANYUAN_POINT[1] + 0.009, "accuracy_m": 8.0}  # ~1 km north


def record(**overrides) -> dict:
    body = {
        "method": "in_person",
        "satisfaction": "satisfied",
        "recurred": False,
        "notes": "上门回访，通道已清理，双方关系缓和。",
        "location": NEAR,
        "visited_at": "2027-02-08T10:00:00+08:00",
    }
    body.update(overrides)
    return body


async def post_record(client, username: str, visit_id: str, body: dict):
    return await client.post(
        f"/api/visits/{visit_id}/record", json=body, headers=await auth(client, username)
    )


async def case_view(client, case_id: str, username: str = "mediator1") -> dict:
    return (await client.get(f"/api/cases/{case_id}", headers=await auth(client, username))).json()


async def test_satisfied_last_visit_in_person_nearby_archives_the_case(client):
    case = await close_case_at(client, datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    with clock.frozen(datetime(2027, 2, 8, 11, 0, tzinfo=SHANGHAI)):
        response = await post_record(client, "mediator1", visit_id, record())
    assert response.status_code == 200, response.text
    visit = response.json()
    assert (
        visit["status"] == "done"
        and visit["method_label"] == "上门"
        and visit["satisfaction_label"] == "满意"
    )
    assert 95 < visit["distance_m"] < 105 and visit["face_to_face"] is True and visit["on_time"] is True
    assert visit["location_source"] == "gps"
    assert datetime.fromisoformat(visit["done_at"]) == datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI)
    after = await case_view(client, case["id"])
    assert after["state"] == "archived"
    assert after["events"][-1]["action"] == "archive"
    assert after["visits"][0]["face_to_face"] is True

    # The phone sends it again (its answer was lost): the same answer, nothing changes.
    again = await post_record(client, "mediator1", visit_id, record())
    assert again.status_code == 200 and again.json()["recorded_at"] == visit["recorded_at"]
    assert (await case_view(client, case["id"]))["version"] == after["version"]
    # A different record of the same visit is a conflict, with the server's copy.
    clash = await post_record(client, "mediator1", visit_id, record(satisfaction="basically_satisfied"))
    assert clash.status_code == 409 and clash.json()["code"] == "visit.already_recorded"
    assert clash.json()["server_copy"]["satisfaction"] == "satisfied"


async def test_face_to_face_needs_an_in_person_visit_within_the_radius(client):
    at = datetime(2027, 2, 2, 10, 0, tzinfo=SHANGHAI)
    far = await close_case_at(client, at)
    by_phone = await close_case_at(client, at)
    no_fix = await close_case_at(client, at)
    gcj = await close_case_at(client, at)
    a = (await post_record(client, "mediator1", far["visits"][0]["id"], record(location=FAR))).json()
    assert 990 < a["distance_m"] < 1010 and a["face_to_face"] is False
    b = (await post_record(client, "mediator1", by_phone["visits"][0]["id"], record(method="phone"))).json()
    assert b["face_to_face"] is False and b["method_label"] == "电话"
    c = (await post_record(client, "mediator1", no_fix["visits"][0]["id"], record(location=None))).json()
    assert c["distance_m"] is None and c["face_to_face"] is False
    lon, lat = wgs84_to_gcj02(NEAR["lon"], NEAR["lat"])  # a point picked on an AMap map
    d = await post_record(
        client, "mediator1", gcj["visits"][0]["id"], record(location={"lon": lon, "lat": lat, "crs": "gcj02"})
    )
    assert d.json()["location_source"] == "gcj02-converted" and 95 < d.json()["distance_m"] < 105


async def test_late_visit_is_not_on_time(client):
    case = await close_case_at(client, datetime(2027, 2, 3, 10, 0, tzinfo=SHANGHAI))
    with clock.frozen(datetime(2027, 2, 12, 9, 0, tzinfo=SHANGHAI)):
        late = await post_record(
            client, "mediator1", case["visits"][0]["id"], record(visited_at="2027-02-11T16:00:00+08:00")
        )
    assert late.json()["on_time"] is False  # due on the 10th


async def test_unsatisfied_visit_reopens_the_case_and_notifies_the_supervisor(client):
    case = await close_case_at(client, datetime(2027, 2, 4, 10, 0, tzinfo=SHANGHAI), level="hard")
    first, second = case["visits"]
    response = await post_record(
        client, "mediator1", first["id"], record(satisfaction="unsatisfied", notes="李家称建材仍未清理。")
    )
    assert response.status_code == 200, response.text
    after = await case_view(client, case["id"])
    assert after["state"] == "mediating"  # reopened; its team mediates again
    reopen = after["events"][-1]
    assert reopen["action"] == "reopen" and "不满意" in reopen["data"]["reason"]
    statuses = {v["id"]: v["status"] for v in after["visits"]}
    assert statuses == {first["id"]: "done", second["id"]: "cancelled"}
    [told] = await inbox_items(client, "tianyuan")
    assert told["visit_id"] == first["id"]
    assert (
        told["kind"] == "visit_unsatisfied" and told["urgency"] == "high" and case["number"] in told["title"]
    )
    assert told["url"] == f"/cases/{case['id']}"

    # Mediated again and closed again: a new round of visits.
    from tests.factories import act
    from tests.notify.support import AGREEMENT

    assert (await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)).status_code == 200
    closed = await act(client, "mediator1", case["id"], "close")
    rounds = sorted({v["round"] for v in closed.json()["visits"]})
    assert rounds == [1, 2]


async def test_recurred_dispute_reopens_even_when_satisfied(client):
    case = await close_case_at(client, datetime(2027, 2, 5, 10, 0, tzinfo=SHANGHAI))
    await post_record(client, "mediator1", case["visits"][0]["id"], record(recurred=True))
    after = await case_view(client, case["id"])
    assert after["state"] == "mediating" and "纠纷反复" in after["events"][-1]["data"]["reason"]


async def test_hard_case_is_archived_only_after_its_last_visit(client):
    case = await close_case_at(client, datetime(2027, 2, 6, 10, 0, tzinfo=SHANGHAI), level="hard")
    first, second = case["visits"]
    await post_record(client, "mediator1", first["id"], record())
    assert (await case_view(client, case["id"]))["state"] == "closed"
    await post_record(client, "leader1", second["id"], record(satisfaction="basically_satisfied"))
    assert (await case_view(client, case["id"]))["state"] == "archived"


async def test_who_may_record(client):
    case = await close_case_at(client, datetime(2027, 2, 7, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    assert (await post_record(client, "mediator2", visit_id, record())).status_code == 404  # not in scope
    admin = await tokens_for(client, "county")
    worker = await make_user(client, admin, role="grid_worker", scope_code="530524101001")
    from tests.factories import bearer, login

    tokens = await login(client, worker["username"], password=worker["password"])
    refused = await client.post(f"/api/visits/{visit_id}/record", json=record(), headers=bearer(tokens))
    assert refused.status_code == 403  # sees the village's cases, but is not on the visit
    assert (await post_record(client, "tianyuan", visit_id, record())).status_code == 200


async def test_record_visit_for_the_sync_operation(client):
    """The sync engineer's `visit.record` op calls service.record_visit with the payload as a dict."""
    from backend.people.service import load_current_user

    case = await close_case_at(client, datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI))
    tokens = await tokens_for(client, "mediator1")
    user = await load_current_user(tokens["user"]["id"], tokens["device_id"])
    payload = record(method="phone", satisfaction="basically_satisfied", location=None)
    first = await service.record_visit(user, case["visits"][0]["id"], payload)
    replay = await service.record_visit(user, uuid.UUID(case["visits"][0]["id"]), payload)
    assert first.applied is True and replay.applied is False
    assert replay.visit.recorded_at == first.visit.recorded_at
    try:
        await service.record_visit(user, case["visits"][0]["id"], {**payload, "notes": "改了"})
    except service.VisitAlreadyRecorded as exc:
        assert exc.status_code == 409 and exc.code == "visit.already_recorded"
    else:
        raise AssertionError("a different record must conflict")
    bad = await client.post(
        f"/api/visits/{case['visits'][0]['id']}/record",
        json={"method": "by_pigeon", "satisfaction": "satisfied"},
        headers=await auth(client, "mediator1"),
    )
    assert bad.status_code == 400


async def test_two_identical_records_at_once_apply_once(client):
    import asyncio

    case = await close_case_at(client, datetime(2027, 2, 9, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    a, b = await asyncio.gather(
        post_record(client, "mediator1", visit_id, record()),
        post_record(client, "mediator1", visit_id, record()),
    )
    assert (a.status_code, b.status_code) == (200, 200)
    assert a.json()["recorded_at"] == b.json()["recorded_at"]
    after = await case_view(client, case["id"])
    assert after["state"] == "archived" and [e["action"] for e in after["events"]].count("archive") == 1
