"""A return visit recorded on the phone goes through the outbox like every other record (the sync
operation `visit.record`), says whether the agreement was performed, and has no answer made up for it."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from tests.factories import TIANYUAN_POINT, auth
from tests.notify.support import close_case_at
from tests.sync.helpers import op, push

SHANGHAI = clock.LOCAL_TZ
RECORD = {
    "method": "in_person",
    "satisfaction": "satisfied",
    "recurred": False,
    "performance": "partly",
    "notes": "通道已清理一半。",
    "location": {"lon": TIANYUAN_POINT[0], "lat": TIANYUAN_POINT[1], "accuracy_m": 8.0},
}


async def test_a_visit_recorded_offline_arrives_through_sync_with_its_time_and_performance(client):
    case = await close_case_at(client, datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    headers = await auth(client, "mediator1")
    visited = datetime(2027, 2, 8, 9, 30, tzinfo=SHANGHAI)
    record = op("visit.record", visit_id, RECORD, client_time=visited.isoformat())
    with clock.frozen(datetime(2027, 2, 9, 18, 0, tzinfo=SHANGHAI)):  # back in signal a day later
        [first] = await push(client, headers, record)
        [again] = await push(client, headers, record)
    assert (first["status"], first["code"]) == ("applied", "visit.recorded")
    assert (again["status"], again["original_status"]) == ("duplicate", "applied")
    visit = (await client.get(f"/api/visits/{visit_id}", headers=headers)).json()
    assert visit["status"] == "done" and visit["status_label"] == "已回访"
    assert (visit["performance"], visit["performance_label"]) == ("partly", "部分履行")
    assert datetime.fromisoformat(visit["done_at"]) == visited
    assert visit["on_time"] is True  # done on the day it was due, though it arrived later


async def test_a_different_record_of_a_done_visit_is_refused_and_kept_on_the_item(client):
    case = await close_case_at(client, datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    headers = await auth(client, "mediator1")
    with clock.frozen(datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI)):
        await push(client, headers, op("visit.record", visit_id, RECORD))
        [clash] = await push(
            client, headers, op("visit.record", visit_id, {**RECORD, "satisfaction": "unsatisfied"})
        )
    assert (clash["status"], clash["code"]) == ("rejected", "visit.already_recorded")
    assert clash["message"] == "该回访已有不同的记录"


async def test_a_record_without_method_or_satisfaction_is_refused(client):
    case = await close_case_at(client, datetime(2027, 2, 1, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    headers = await auth(client, "mediator1")
    for missing in ("method", "satisfaction"):
        body = {k: v for k, v in RECORD.items() if k != missing}
        [result] = await push(client, headers, op("visit.record", visit_id, body))
        assert (result["status"], result["code"]) == ("rejected", "visit.invalid_record"), missing
    bad = await client.post(
        f"/api/visits/{visit_id}/record", json={**RECORD, "performance": "maybe"}, headers=headers
    )
    assert bad.status_code == 400
    assert (await client.get(f"/api/visits/{visit_id}", headers=headers)).json()["status"] != "done"


async def test_a_record_for_a_visit_not_yet_known_waits(client):
    headers = await auth(client, "mediator1")
    [result] = await push(client, headers, op("visit.record", "00000000-0000-4000-8000-000000000001", RECORD))
    assert (result["status"], result["code"]) == ("deferred", "sync.waiting_for_entity")
