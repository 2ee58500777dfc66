"""Performance per obligation of a written agreement (人民调解法 art. 31): recorded on the return visit; an
obligation not performed tells the team leader and the township, who may reopen or refer the case."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from tests.cases.test_agreement import WRITTEN
from tests.factories import act, auth, make_case
from tests.notify.support import inbox_items
from tests.visits.test_record import case_view, post_record, record

SHANGHAI = clock.LOCAL_TZ


async def closed_with_written_agreement(client, at: datetime) -> dict:
    with clock.frozen(at):
        case = await make_case(client, "mediator1", level="hard")
        for who, action, body in (
            ("leader1", "accept", {}),
            ("mediator1", "resolve", {"agreement": WRITTEN}),
            ("mediator1", "close", {}),
        ):
            r = await act(client, who, case["id"], action, **body)
            assert r.status_code == 200, r.text
    return await case_view(client, case["id"])


async def test_each_obligation_is_recorded_and_the_whole_is_derived(client):
    case = await closed_with_written_agreement(client, datetime(2027, 2, 4, 10, 0, tzinfo=SHANGHAI))
    first = case["visits"][0]
    body = record(
        obligations=[
            {"obligation": 0, "performance": "performed"},
            {"obligation": 1, "performance": "partly"},
        ]
    )
    r = await post_record(client, "mediator1", first["id"], body)
    assert r.status_code == 200, r.text
    visit = r.json()
    assert visit["performance"] == "partly" and visit["performance_label"] == "部分履行"
    assert [(o["obligation"], o["performance_label"]) for o in visit["obligations"]] == [
        (0, "已履行"),
        (1, "部分履行"),
    ]
    after = await case_view(client, case["id"])
    assert after["agreement"]["performance_status"] == "partly"
    assert [n for n in await inbox_items(client, "tianyuan") if n["kind"] == "agreement_not_performed"] == []
    # The same record again is a replay, not a conflict.
    again = await post_record(client, "mediator1", first["id"], body)
    assert again.status_code == 200


async def test_an_obligation_not_performed_flags_the_case_for_the_team_and_the_township(client):
    case = await closed_with_written_agreement(client, datetime(2027, 2, 4, 10, 0, tzinfo=SHANGHAI))
    body = record(
        obligations=[
            {"obligation": 0, "performance": "performed"},
            {"obligation": 1, "performance": "not_performed"},
        ]
    )
    r = await post_record(client, "mediator1", case["visits"][0]["id"], body)
    assert r.status_code == 200, r.text
    assert r.json()["performance"] == "partly"
    for who in ("leader1", "tianyuan"):
        [told] = [n for n in await inbox_items(client, who) if n["kind"] == "agreement_not_performed"]
        assert case["number"] in told["title"] and "第2项义务未履行" in told["body"]
        assert told["urgency"] == "high" and told["url"] == f"/cases/{case['id']}"
    assert [n for n in await inbox_items(client, "kasi") if n["kind"] == "agreement_not_performed"] == []
    # The township reopens it (an existing action) to mediate again.
    reopened = await act(client, "tianyuan", case["id"], "reopen", reason="协议第2项未履行")
    assert reopened.status_code == 200 and reopened.json()["state"] == "mediating"


async def test_nothing_performed_is_not_performed(client):
    case = await closed_with_written_agreement(client, datetime(2027, 2, 6, 10, 0, tzinfo=SHANGHAI))
    body = record(
        obligations=[
            {"obligation": 0, "performance": "not_performed"},
            {"obligation": 1, "performance": "not_performed"},
        ]
    )
    r = await post_record(client, "mediator1", case["visits"][0]["id"], body)
    assert r.json()["performance"] == "not_performed"
    [told] = [n for n in await inbox_items(client, "leader1") if n["kind"] == "agreement_not_performed"]
    assert "第1、2项义务未履行" in told["body"]


async def test_an_obligation_the_agreement_does_not_have_is_refused(client):
    case = await closed_with_written_agreement(client, datetime(2027, 2, 7, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    for obligations in (
        [{"obligation": 2, "performance": "performed"}],
        [{"obligation": 0, "performance": "performed"}, {"obligation": 0, "performance": "partly"}],
    ):
        r = await post_record(client, "mediator1", visit_id, record(obligations=obligations))
        assert r.status_code == 400 and r.json()["code"] == "visit.unknown_obligation"
    detail = await client.get(f"/api/visits/{visit_id}", headers=await auth(client, "mediator1"))
    assert detail.json()["status"] != "done"  # nothing recorded
