"""Every role finishes its job: a team leader's actions and who acts next, a team's 小事 settled on the
spot, the phone's capture time, a create the creator cannot see, assigning inside one's area only, the
supervisor's whole toolset, and search by number, name and (whole) phone inside the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.core import clock
from tests.factories import KASI_POINT, TIANYUAN_POINT, act, auth, case_body, make_case
from tests.sync.helpers import create_op, push

AGREEMENT = {
    "facts": "堆放建材占道",
    "matters": "通道使用",
    "terms": "三日内清走建材",
    "performance": "当场履行",
}
SHANGHAI = clock.LOCAL_TZ


async def detail(client, username: str, case_id: str) -> dict:
    response = await client.get(f"/api/cases/{case_id}", headers=await auth(client, username))
    assert response.status_code == 200, response.text
    return response.json()


# --- team leaders and who acts next -----------------------------------------------------------------


async def test_a_mediator_sees_who_acts_next_and_the_leader_has_every_action(client):
    case = await make_case(client, "mediator1", level="hard")
    mine = await detail(client, "mediator1", case["id"])
    assert mine["next_step"] == "等待调解队长受理"
    assert "accept" not in mine["allowed_actions"] and "note" in mine["allowed_actions"]
    leader = await detail(client, "leader1", case["id"])
    assert {"accept", "reject", "assign", "escalate"} <= set(leader["allowed_actions"])

    accepted = await act(client, "leader1", case["id"], "accept")
    assert accepted.json()["state"] == "mediating" and accepted.json()["next_step"] is None
    me = (await client.get("/api/me", headers=await auth(client, "mediator1"))).json()
    assigned = await act(client, "leader1", case["id"], "assign", mediator_id=me["id"])
    assert assigned.status_code == 200 and assigned.json()["mediator"]["name"] == me["display_name"]
    escalated = await act(client, "leader1", case["id"], "escalate", owner="township", reason="涉及多个部门")
    assert escalated.status_code == 200 and escalated.json()["owner_level"] == "township"

    other = await make_case(client, "mediator1")
    rejected = await act(client, "leader1", other["id"], "reject", reason="不属于人民调解范围")
    assert rejected.json()["state"] == "rejected" and rejected.json()["reject_reason"] == "不属于人民调解范围"
    no_reason = await act(client, "leader1", (await make_case(client, "mediator1"))["id"], "reject")
    assert (no_reason.status_code, no_reason.json()["code"]) == (400, "request.invalid")


async def test_a_teams_small_matter_is_noted_settled_and_closed_on_the_spot(client):
    case = await make_case(client, "mediator1", level="small")
    assert "resolve" in (await detail(client, "mediator1", case["id"]))["allowed_actions"]
    assert (await act(client, "mediator1", case["id"], "note", text="当场拉家常")).status_code == 200
    resolved = await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolved"
    assert [e["action"] for e in resolved.json()["events"]] == ["create", "note", "resolve"]
    assert resolved.json()["events"][-1]["data"]["on_the_spot"] is True
    closed = await act(client, "mediator1", case["id"], "close")
    assert closed.json()["state"] == "closed"

    # A 难事 is not settled before someone accepts it.
    hard = await make_case(client, "mediator1", level="hard")
    assert "resolve" not in (await detail(client, "mediator1", hard["id"]))["allowed_actions"]
    refused = await act(client, "mediator1", hard["id"], "resolve", agreement=AGREEMENT)
    assert (refused.status_code, refused.json()["code"]) == (409, "case.invalid_transition")


# --- capture time -----------------------------------------------------------------------------------


async def test_a_case_captured_offline_counts_when_it_was_captured(client):
    received = datetime(2027, 1, 1, 0, 10, tzinfo=SHANGHAI)
    captured = datetime(2026, 12, 31, 23, 50, tzinfo=SHANGHAI)
    headers = await auth(client, "mediator1")
    op = create_op(point=TIANYUAN_POINT)
    op["client_time"] = captured.isoformat()
    with clock.frozen(received):
        [result] = await push(client, headers, op)
    assert result["status"] == "applied"
    case = await detail(client, "mediator1", op["entity_id"])
    assert datetime.fromisoformat(case["reported_at"]) == captured
    assert datetime.fromisoformat(case["received_at"]) == received
    assert case["reported_at_source"] == "phone"
    assert case["number"].startswith("530524101-2026-")  # last year's, as it was taken last year


async def test_an_implausible_phone_clock_is_not_believed(client):
    now = datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    headers = await auth(client, "mediator1")
    cases = {}
    for label, offset in (("31 days ago", -timedelta(days=31)), ("10 min ahead", timedelta(minutes=10))):
        op = create_op()
        op["client_time"] = (now + offset).isoformat()
        with clock.frozen(now):
            await push(client, headers, op)
        cases[label] = await detail(client, "mediator1", op["entity_id"])
    slightly_ahead = case_body(captured_at=(now + timedelta(minutes=3)).isoformat())
    with clock.frozen(now):
        response = await client.post("/api/cases", json=slightly_ahead, headers=headers)
    cases["3 min ahead"] = response.json()
    for label, case in cases.items():
        assert datetime.fromisoformat(case["reported_at"]) == now, label
    assert [c["reported_at_source"] for c in cases.values()] == ["server", "server", "phone"]


# --- a create the creator cannot see -----------------------------------------------------------------


async def test_a_case_filed_for_another_township_is_answered_with_its_number_and_where_it_went(client):
    body = case_body(TIANYUAN_POINT)
    headers = await auth(client, "kasi")
    created = await client.post("/api/cases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["visible"] is False
    assert receipt["number"].startswith("530524101-")
    assert receipt["township"] == {"code": "530524101000", "name": "田园镇"}
    assert receipt["message"] == f"已登记，编号 {receipt['number']}。案发地不在您的辖区，已转交田园镇处理。"
    assert "parties" not in receipt and "title" not in receipt
    again = await client.post("/api/cases", json=body, headers=headers)
    assert again.status_code == 200 and again.json()["number"] == receipt["number"]
    assert (await detail(client, "tianyuan", body["id"]))["number"] == receipt["number"]


# --- the supervisor's area and toolset ---------------------------------------------------------------


async def test_a_supervisor_assigns_only_to_teams_of_their_area(client):
    case = await make_case(client, "tianyuan", point=TIANYUAN_POINT)
    kasi_teams = (await client.get("/api/teams", headers=await auth(client, "kasi"))).json()
    kasi_team = next(t for t in kasi_teams if t["township"] and t["township"]["code"] == "530524104000")
    refused = await act(client, "tianyuan", case["id"], "assign", team_id=kasi_team["id"])
    assert (refused.status_code, refused.json()["code"]) == (400, "people.unknown_team")
    assert (await detail(client, "tianyuan", case["id"]))["owner_team"] is None
    outside = await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator2"))
    assert outside.status_code == 404

    own = next(t for t in (await client.get("/api/teams", headers=await auth(client, "tianyuan"))).json())
    assert (await act(client, "tianyuan", case["id"], "assign", team_id=own["id"])).status_code == 200


async def test_conflict_handling_is_offered_only_on_a_case_with_a_conflict(client):
    case = await make_case(client, "mediator1")
    assert "clear_conflict" not in (await detail(client, "tianyuan", case["id"]))["allowed_actions"]
    refused = await act(client, "tianyuan", case["id"], "clear_conflict")
    assert (refused.status_code, refused.json()["code"]) == (409, "case.invalid_transition")


async def test_a_supervisor_refers_and_archives_a_closed_case(client):
    referred = await act(client, "tianyuan", (await make_case(client))["id"], "refer", target="legal_aid")
    assert referred.json()["state"] == "referred" and referred.json()["refer_target"] == "legal_aid"
    case = await make_case(client, "mediator1")
    for who, action, body in (("mediator1", "resolve", {"agreement": AGREEMENT}), ("mediator1", "close", {})):
        assert (await act(client, who, case["id"], action, **body)).status_code == 200
    assert "archive" in (await detail(client, "tianyuan", case["id"]))["allowed_actions"]
    assert "archive" not in (await detail(client, "mediator1", case["id"]))["allowed_actions"]
    archived = await act(client, "tianyuan", case["id"], "archive", reason="当事人已迁居外地，无法回访")
    assert archived.json()["state"] == "archived"


# --- search -----------------------------------------------------------------------------------------


async def search(client, username: str, q: str):
    return await client.get("/api/cases", params={"q": q}, headers=await auth(client, username))


def found(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["items"]}


async def test_search_by_number_and_name_exact_or_prefix_and_by_phone_in_full(client):
    parties = [{"name": "赵春花", "phone": "13987654321", "role": "applicant"}]
    case = await make_case(client, "mediator1", parties=parties)
    other = await make_case(client, "mediator1")
    number = case["number"]
    assert found(await search(client, "mediator1", number)) == {case["id"]}
    assert case["id"] in found(await search(client, "mediator1", number[:-2]))
    assert found(await search(client, "mediator1", "赵春花")) == {case["id"]}
    assert found(await search(client, "mediator1", "赵春")) == {case["id"]}
    assert found(await search(client, "mediator1", "13987654321")) == {case["id"]}
    assert found(await search(client, "mediator1", "139 8765 4321")) == {case["id"]}
    # Phones are stored encrypted: only a whole number can be looked up (by its keyed hash).
    assert found(await search(client, "mediator1", "1398765")) == set()
    assert other["id"] not in found(await search(client, "mediator1", "赵"))
    # The list masks parties as it always does.
    listed = (await search(client, "mediator1", "赵春花")).json()["items"][0]
    assert listed["parties"][0]["name"] == "赵**" and listed["parties"][0]["phone"] == "139****4321"


async def test_search_stays_inside_the_callers_scope(client):
    parties = [{"name": "钱多多", "phone": "13711112222", "role": "applicant"}]
    mine = await make_case(client, "mediator1", parties=parties)
    theirs = await make_case(client, "mediator2", point=KASI_POINT, parties=parties)
    assert found(await search(client, "mediator1", "13711112222")) == {mine["id"]}
    assert found(await search(client, "mediator2", "钱多多")) == {theirs["id"]}
    assert found(await search(client, "kasi", mine["number"])) == set()
    assert found(await search(client, "county", "13711112222")) == {mine["id"], theirs["id"]}


async def test_a_search_by_phone_or_id_number_is_audited_without_the_number(client):
    await make_case(client, "mediator1")  # 张建华 13812345678, ID 11010519491231002X
    assert len(found(await search(client, "tianyuan", "11010519491231002x"))) == 1
    assert len(found(await search(client, "tianyuan", "13812345678"))) == 1
    await search(client, "tianyuan", "张建华")  # a name search reads no phone or ID number
    audit = (
        await client.get("/api/audit", params={"limit": 20}, headers=await auth(client, "county"))
    ).json()
    searches = [a for a in audit if a["action"] == "case.search_personal"]
    assert [(a["username"], a["detail"]) for a in searches] == [
        ("tianyuan", {"kind": "digits", "results": 1}),
        ("tianyuan", {"kind": "digits", "results": 1}),
    ]
    assert "13812345678" not in str(audit) and "1101051949" not in str(audit)


async def test_a_search_too_short_or_odd_is_a_clear_400(client):
    for q in ("13", "%", "a_b"):
        response = await search(client, "mediator1", q)
        assert (response.status_code, response.json()["code"]) == (400, "case.invalid_search"), q
        assert (
            response.json()["message"] == "请输入案件编号（至少4位）、当事人姓名，或完整的电话号码、身份证号"
        )


async def test_the_cases_reported_in_a_period_are_listed_for_a_dashboard_tile(client):
    day = datetime(2027, 3, 10, tzinfo=SHANGHAI)
    with clock.frozen(day.replace(hour=9)):
        today = await make_case(client, "mediator1")
    with clock.frozen(day - timedelta(hours=1)):  # 23:00 the day before
        await make_case(client, "mediator1")
    params = {"reported_from": day.isoformat(), "reported_before": (day + timedelta(days=1)).isoformat()}
    listed = await client.get("/api/cases", params=params, headers=await auth(client, "tianyuan"))
    assert found(listed) == {today["id"]}


async def test_photos_taken_at_a_mediation_session_join_the_case(client):
    from tests.media.images import jpeg, sha

    headers = await auth(client, "mediator1")
    photo = jpeg()
    assert (await client.put(f"/api/media/{sha(photo)}", content=photo, headers=headers)).status_code == 201
    case = await make_case(client, "mediator1")
    noted = await act(client, "mediator1", case["id"], "note", text="双方到场", photos=[sha(photo)])
    assert noted.status_code == 200, noted.text
    assert [(p["sha256"], p["purpose"]) for p in noted.json()["photos"]] == [(sha(photo), "note")]
    assert noted.json()["events"][-1]["data"]["photos"] == [sha(photo)]
    bad = await act(client, "mediator1", case["id"], "note", text="x", photos=["not-a-hash"])
    assert (bad.status_code, bad.json()["code"]) == (400, "request.invalid")


async def test_a_phone_filing_for_another_township_is_told_the_number_and_where_it_went(client):
    op = create_op(point=TIANYUAN_POINT)
    [result] = await push(client, await auth(client, "kasi"), op)
    assert (result["status"], result["code"]) == ("applied", "case.created_elsewhere")
    number = (await detail(client, "tianyuan", op["entity_id"]))["number"]
    assert result["message"] == f"已登记，编号 {number}。案发地不在您的辖区，已转交田园镇处理。"
    # A resend (the first answer lost on the way) says it again: the phone may only ever see this one.
    [again] = await push(client, await auth(client, "kasi"), op)
    assert (again["status"], again["code"], again["message"]) == (
        "duplicate",
        "case.created_elsewhere",
        result["message"],
    )
