"""The fields the 司法局's statistics count: captured on the phone, edited offline, set when closing; and
the archive number (卷宗号) a case gets when archived."""

from __future__ import annotations

import re
import uuid

import pytest

from backend.cases.tables import Case
from backend.core import clock
from tests.factories import act, auth, case_body, make_case


async def _close(client, case_id: str, **flags):
    assert (await act(client, "mediator1", case_id, "resolve", agreement=AGREEMENT)).status_code == 200
    return await act(client, "mediator1", case_id, "close", **flags)


AGREEMENT = {"facts": "占道", "matters": "通道", "terms": "三日内清走建材", "performance": "张家自行清理"}


async def test_source_referrer_and_people_are_captured_and_shown(client):
    case = await make_case(client, source="referral", referred_by="court", people_involved=6)
    assert (case["source"], case["referred_by"], case["people_involved"]) == ("referral", "court", 6)
    assert case["group_dispute"] is True
    assert (case["prevented_criminal"], case["archive_number"]) == (False, None)


async def test_people_involved_defaults_to_the_parties(client):
    case = await make_case(client)
    assert (case["source"], case["people_involved"], case["group_dispute"]) == (None, 2, False)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"source": "gossip"}, "case.invalid_source"),
        ({"source": "screening", "referred_by": "court"}, "case.referrer_without_referral"),
        ({"source": "referral", "referred_by": "mayor"}, "case.invalid_referrer"),
        ({"people_involved": 0}, "case.invalid_people_involved"),
        ({"people_involved": 100_001}, "case.invalid_people_involved"),
        ({"people_involved": 99999999999999999999}, "request.number_out_of_range"),
        ({"source": "screening\x00"}, "text.control_characters"),
    ],
)
async def test_bad_statistics_fields_are_refused_and_nothing_is_written(client, fields, code):
    body = case_body(**fields)
    response = await client.post("/api/cases", json=body, headers=await auth(client, "mediator1"))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["message"])
    assert not await Case.exists().where(Case.id == uuid.UUID(body["id"])).run()


async def _push_update(client, case: dict, changes: dict) -> dict:
    op = {
        "op_id": str(uuid.uuid4()),
        "type": "case.update",
        "entity_id": case["id"],
        "base_version": case["version"],
        "payload": changes,
        "client_time": "2026-11-20T10:00:00+08:00",
    }
    response = await client.post(
        "/api/sync/push", json={"ops": [op]}, headers=await auth(client, "mediator1")
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


async def test_an_offline_edit_changes_source_and_people_and_leaving_referral_clears_the_sender(client):
    case = await make_case(client, source="referral", referred_by="police")
    result = await _push_update(client, case, {"source": "screening", "people_involved": 7})
    assert result["status"] == "applied", result
    detail = (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()
    assert (detail["source"], detail["referred_by"], detail["people_involved"]) == ("screening", None, 7)
    assert detail["group_dispute"] is True
    update = [e for e in detail["events"] if e["action"] == "update"][-1]
    assert update["before"]["referred_by"] == "police" and update["after"]["referred_by"] is None


async def test_an_offline_edit_naming_a_sender_without_referral_is_rejected(client):
    case = await make_case(client, source="screening")
    result = await _push_update(client, case, {"referred_by": "hotline"})
    assert (result["status"], result["code"]) == ("rejected", "case.referrer_without_referral")


async def test_closing_records_what_the_settlement_prevented(client):
    case = await make_case(client)
    response = await _close(client, case["id"], prevented_criminal=True, prevented_group_fight=True)
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["state"] == "closed"
    flags = (
        closed["prevented_criminal"],
        closed["prevented_group_petition"],
        closed["prevented_group_fight"],
    )
    assert flags == (True, False, True)


async def test_close_flags_must_be_booleans(client):
    case = await make_case(client)
    await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)
    response = await act(client, "mediator1", case["id"], "close", prevented_criminal="maybe")
    assert response.status_code == 400
    assert (await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))).json()[
        "state"
    ] == "resolved"


async def test_archiving_gives_a_committee_archive_number_once(client):
    first = await make_case(client)
    second = await make_case(client)
    for case in (first, second):
        assert (await _close(client, case["id"])).status_code == 200
    archived = []
    for case in (first, second):
        response = await act(client, "tianyuan", case["id"], "archive", reason="当事人外出务工，无法回访")
        assert response.status_code == 200, response.text
        archived.append(response.json()["archive_number"])
    year = clock.local_now().year
    # 关庙社区 530524101001: the committee short code is the village's last six digits.
    assert re.fullmatch(rf"{year}-101001-\d{{4}}", archived[0]), archived
    assert int(archived[1][-4:]) == int(archived[0][-4:]) + 1
    # Reopened and archived again: the file keeps its number.
    assert (await act(client, "tianyuan", first["id"], "reopen", reason="纠纷复发")).status_code == 200
    assert (await _close(client, first["id"])).status_code == 200
    again = await act(client, "tianyuan", first["id"], "archive", reason="复查后归档")
    assert again.json()["archive_number"] == archived[0]
