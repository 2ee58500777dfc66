"""督办 orders: issued by the area's supervisors to the case's team, acknowledged (offline too) and
reported by its leader, accepted or sent back by the issuer; red when unacknowledged for 24 h or past
the due date, and the issuer told."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from backend.notify import push
from backend.supervision.listeners import escalate
from tests.factories import act, auth, make_case
from tests.notify.support import inbox_items, subscribe_device
from tests.sync.helpers import action_op
from tests.sync.helpers import push as sync_push

SHANGHAI = clock.LOCAL_TZ
ISSUED = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


async def mediating_case(client, **overrides) -> dict:
    """A case of 关庙社区's team (mediator1, led by leader1), accepted: in mediation."""
    case = await make_case(client, "mediator1", **overrides)
    accepted = await act(client, "leader1", case["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    return case


async def detail(client, username: str, case_id: str) -> dict:
    response = await client.get(f"/api/cases/{case_id}", headers=await auth(client, username))
    assert response.status_code == 200, response.text
    return response.json()


async def supervise(client, case_id: str, username: str = "tianyuan", due: str = "2026-11-30", **body):
    return await act(
        client,
        username,
        case_id,
        "supervise",
        instruction=body.pop("instruction", "三日内上门调解并回复"),
        due_date=due,
        **body,
    )


def kinds(items: list[dict]) -> list[str]:
    return [n["kind"] for n in items]


async def test_the_journey_issue_acknowledge_offline_report_accept(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        issued = await supervise(client, case["id"])
        assert issued.status_code == 200, issued.text
    # The team hears at once, urgently; the issuer does not hear of their own order.
    for member in ("leader1", "mediator1"):
        [note] = await inbox_items(client, member)
        assert note["kind"] == "supervision_issued" and note["urgency"] == "high"
        assert "三日内上门调解并回复" in note["body"] and "2026-11-30" in note["body"]
    assert await inbox_items(client, "tianyuan") == []

    leader = await detail(client, "leader1", case["id"])
    assert leader["supervision"] == "issued"
    assert "acknowledge_supervision" in leader["allowed_actions"]
    assert "report_supervision" not in leader["allowed_actions"]
    # A mediator of the team is told but does not sign for the team.
    assert "acknowledge_supervision" not in (await detail(client, "mediator1", case["id"]))["allowed_actions"]

    # The leader acknowledges from the phone while offline: the outbox sends it later as a sync op.
    with clock.frozen(ISSUED + timedelta(hours=5)):
        [result] = await sync_push(
            client, await auth(client, "leader1"), action_op(case["id"], "acknowledge_supervision")
        )
    assert result["status"] == "applied", result
    with clock.frozen(ISSUED + timedelta(days=2)):
        reported = await act(
            client, "leader1", case["id"], "report_supervision", text="已上门调解，双方同意协商"
        )
        assert reported.status_code == 200, reported.text
    [note] = await inbox_items(client, "tianyuan")
    assert note["kind"] == "supervision_reported" and note["body"] == "已上门调解，双方同意协商"

    supervisor = await detail(client, "tianyuan", case["id"])
    assert supervisor["allowed_actions"].count("accept_supervision") == 1
    with clock.frozen(ISSUED + timedelta(days=3)):
        accepted = await act(client, "tianyuan", case["id"], "accept_supervision")
        assert accepted.status_code == 200, accepted.text
    after = await detail(client, "tianyuan", case["id"])
    assert after["supervision"] is None
    [order] = after["supervision_orders"]
    assert order["status"] == "accepted" and order["issued_by"] == supervisor_name(after)
    assert order["instruction"] == "三日内上门调解并回复" and order["due_date"] == "2026-11-30"
    assert order["report"] == "已上门调解，双方同意协商" and order["red"] is None
    assert datetime.fromisoformat(order["acknowledged_at"]) == ISSUED + timedelta(hours=5)
    # The history is in the case's event log, in order.
    steps = [
        e["action"] for e in after["events"] if "supervision" in e["action"] or e["action"] == "supervise"
    ]
    assert steps == ["supervise", "acknowledge_supervision", "report_supervision", "accept_supervision"]
    # A closed order may be followed by a new one.
    with clock.frozen(ISSUED + timedelta(days=3)):
        assert (await supervise(client, case["id"], due="2026-12-10")).status_code == 200


def supervisor_name(case: dict) -> str:
    [first] = [e for e in case["events"] if e["action"] == "supervise"]
    return first["actor"]


async def test_a_report_sent_back_is_reported_again(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        await supervise(client, case["id"], username="county")
        await act(client, "leader1", case["id"], "acknowledge_supervision")
        await act(client, "leader1", case["id"], "report_supervision", text="已电话联系")
        # Another township supervisor of the area did not issue it: only the issuer (or the county) decides.
        other = await act(client, "tianyuan", case["id"], "return_supervision", reason="不够")
        assert other.status_code == 403 and other.json()["code"] == "supervision.not_issuer"
        returned = await act(client, "county", case["id"], "return_supervision", reason="须当面调解")
        assert returned.status_code == 200, returned.text
    notes = await inbox_items(client, "leader1")
    assert kinds(notes) == ["supervision_returned", "supervision_issued"]
    assert "须当面调解" in notes[0]["body"]
    again = await detail(client, "leader1", case["id"])
    assert again["supervision"] == "acknowledged" and "report_supervision" in again["allowed_actions"]
    [order] = again["supervision_orders"]
    assert (order["returned_count"], order["return_reason"]) == (1, "须当面调解")


async def test_red_when_not_acknowledged_in_a_day_or_past_the_due_date(client):
    with clock.frozen(ISSUED):
        late = await mediating_case(client, title="未签收的督办")
        await supervise(client, late["id"], due="2026-12-10")
        ontime = await mediating_case(client, title="按时签收的督办")
        await supervise(client, ontime["id"], due="2026-11-25")
    with clock.frozen(ISSUED + timedelta(hours=23)):
        await act(client, "leader1", ontime["id"], "acknowledge_supervision")
        assert await escalate() == []
    with clock.frozen(ISSUED + timedelta(hours=24, minutes=1)):
        assert len(await escalate()) == 1
        assert await escalate() == []  # told once
        listed = await client.get(
            "/api/supervision", params={"status": "overdue"}, headers=await auth(client, "tianyuan")
        )
    assert [(i["case"]["id"], i["order"]["red"]) for i in listed.json()["items"]] == [
        (late["id"], "unacknowledged")
    ]
    [red] = await inbox_items(client, "tianyuan")
    assert red["kind"] == "supervision_red" and red["urgency"] == "high" and "24小时内未签收" in red["body"]
    assert red["case_id"] == late["id"]

    # 11-25 is the due date: red from the next local day (and the issuer told again, for the new reason).
    with clock.frozen(datetime(2026, 11, 25, 23, 59, tzinfo=SHANGHAI)):
        assert await escalate() == []
    with clock.frozen(datetime(2026, 11, 26, 0, 1, tzinfo=SHANGHAI)):
        assert len(await escalate()) == 1
        page = (await client.get("/api/supervision", headers=await auth(client, "tianyuan"))).json()
    assert page["counts"] == {"open": 2, "overdue": 2, "awaiting": 0}
    assert [i["order"]["red"] for i in page["items"]] == ["overdue", "unacknowledged"]
    # Acknowledging late takes the "unacknowledged" red away; a report ends "overdue" too.
    with clock.frozen(datetime(2026, 11, 26, 8, 0, tzinfo=SHANGHAI)):
        await act(client, "leader1", late["id"], "acknowledge_supervision")
        await act(client, "leader1", ontime["id"], "report_supervision", text="已调解")
        page = (await client.get("/api/supervision", headers=await auth(client, "tianyuan"))).json()
        dashboard = (
            await client.get("/api/reports/dashboard", headers=await auth(client, "tianyuan"))
        ).json()
    assert page["counts"] == {"open": 2, "overdue": 0, "awaiting": 1}
    assert dashboard["supervision"] == page["counts"]
    awaiting = await client.get(
        "/api/supervision", params={"status": "awaiting"}, headers=await auth(client, "tianyuan")
    )
    assert [i["case"]["number"] for i in awaiting.json()["items"]] == [ontime["number"]]


async def test_the_team_gets_a_push_at_once(client, push_service, settings):
    _, device = await subscribe_device(client, push_service, "leader1")
    case = await mediating_case(client)
    await supervise(client, case["id"], due=clock.local_now().date().isoformat())
    await push.deliver_due(settings)
    [sent] = push_service.for_device(device)
    assert sent.headers["urgency"] == "high"
    assert sent.payload["url"] == f"/cases/{case['id']}" and sent.payload["title"].startswith("督办：")


async def test_who_may_issue_and_answer(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        # Outside the area the case does not exist; the team does not order itself.
        kasi = await supervise(client, case["id"], username="kasi")
        assert (kasi.status_code, kasi.json()["code"]) == (404, "not_found")
        leader = await supervise(client, case["id"], username="leader1")
        assert (leader.status_code, leader.json()["code"]) == (403, "auth.forbidden")
        # Nothing to acknowledge yet.
        early = await act(client, "leader1", case["id"], "acknowledge_supervision")
        assert (early.status_code, early.json()["code"]) == (409, "case.invalid_transition")
        assert (await supervise(client, case["id"])).status_code == 200
        twice = await supervise(client, case["id"], username="county")
        # One open order at a time.
        assert (twice.status_code, twice.json()["code"]) == (409, "case.invalid_transition")
        assert "supervise" not in (await detail(client, "county", case["id"]))["allowed_actions"]
        # The issuer cannot sign for the team.
        own = await act(client, "tianyuan", case["id"], "acknowledge_supervision")
        assert (own.status_code, own.json()["code"]) == (403, "auth.forbidden")
    assert kinds(await inbox_items(client, "leader1")) == ["supervision_issued"]  # one order, one notice


async def test_bad_orders_are_refused_with_nothing_written(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        unassigned = await make_case(client, "tianyuan")
        no_team = await supervise(client, unassigned["id"])
        assert (no_team.status_code, no_team.json()["code"]) == (409, "supervision.no_team")
        assert no_team.json()["message"] == "案件尚未指派调解队，不能督办"
        for due in ("2026-11-22", "2027-12-01"):
            response = await supervise(client, case["id"], due=due)
            assert (response.status_code, response.json()["code"]) == (400, "supervision.bad_due_date"), due
            assert response.json()["message"] == "办理期限须在今天到一年之内"
        for body in ({"instruction": ""}, {"instruction": "x\x00y"}, {"instruction": "x" * 2001}):
            response = await supervise(client, case["id"], **body)
            assert response.status_code == 400, body
        bad_date = await act(
            client, "tianyuan", case["id"], "supervise", instruction="请办理", due_date="11月9日"
        )
        assert bad_date.status_code == 400
        huge = await act(client, "tianyuan", case["id"], "supervise", instruction="请办理", due_date=10**30)
        assert huge.status_code == 400
    after = await detail(client, "tianyuan", case["id"])
    assert after["supervision"] is None and after["supervision_orders"] == []
    assert await inbox_items(client, "leader1") == []
    bad = await client.get(
        "/api/supervision", params={"status": "late"}, headers=await auth(client, "tianyuan")
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "supervision.invalid_filter")


async def test_the_list_is_scoped_to_what_the_caller_sees(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        await supervise(client, case["id"])
        kasi_case = await make_case(client, "mediator2", location={"lon": 99.392591, "lat": 24.790793})
        await act(client, "kasi", kasi_case["id"], "accept")
        assert (await supervise(client, kasi_case["id"], username="kasi")).status_code == 200
        listed = {
            who: [
                i["case"]["id"]
                for i in (await client.get("/api/supervision", headers=await auth(client, who))).json()[
                    "items"
                ]
            ]
            for who in ("county", "tianyuan", "kasi", "leader1", "mediator2")
        }
    assert sorted(listed["county"]) == sorted([case["id"], kasi_case["id"]])
    assert listed["tianyuan"] == [case["id"]] and listed["leader1"] == [case["id"]]
    assert listed["kasi"] == [kasi_case["id"]] and listed["mediator2"] == [kasi_case["id"]]


async def test_open_orders_are_listed_in_the_monthly_screening_report(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client, title="月排查中的督办")
        await supervise(client, case["id"], due="2026-11-25")
    with clock.frozen(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)):
        report = await client.get(
            "/api/reports/monthly", params={"date": "2026-11-27"}, headers=await auth(client, "tianyuan")
        )
        kasi = await client.get(
            "/api/reports/monthly", params={"date": "2026-11-27"}, headers=await auth(client, "kasi")
        )
    assert report.status_code == 200, report.text
    [section] = [s for s in report.json()["sections"] if s["key"] == "supervision"]
    [row] = section["rows"]
    assert (row["number"], row["title"], row["status"], row["red"], row["due_date"]) == (
        case["number"],
        "月排查中的督办",
        "待签收",
        "超24小时未签收",
        "2026-11-25",
    )
    assert row["township"] == "田园镇" and row["instruction"] == "三日内上门调解并回复"
    [other] = [s for s in kasi.json()["sections"] if s["key"] == "supervision"]
    assert other["rows"] == []
