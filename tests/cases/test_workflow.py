"""The county's method through the API: 小事拉家常、难事大家谈、大事法律扛."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.core import clock
from tests.factories import KASI_POINT, act, auth, bearer, case_body, login, make_case, make_user, tokens_for

AGREEMENT = {
    "facts": "张家翻修房屋期间将建材堆放在两家共用通道上。",
    "matters": "通道占用及清理时间。",
    "terms": "张家于三日内清理建材，今后施工期间保留一米宽通道；李家不再追究。",
    "performance": "2026年12月1日前履行完毕，由关庙社区调解队回访确认。",
}


async def test_small_matter_settled_by_the_village_team(client):
    case = await make_case(client, "mediator1")
    cid = case["id"]
    accepted = await act(client, "leader1", cid, "accept")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    # Logged by a team member: straight into mediation, with a 30-day deadline.
    assert body["state"] == "mediating"
    deadline = datetime.fromisoformat(body["deadline"])
    assert timedelta(days=29, hours=23) < deadline - datetime.now(UTC) <= timedelta(days=30)
    note = await act(
        client,
        "mediator1",
        cid,
        "note",
        text="在通道现场与双方拉家常，张家同意清理。",
        participants=["张建华", "李秀英"],
    )
    assert note.status_code == 200
    resolved = await act(client, "mediator1", cid, "resolve", agreement=AGREEMENT)
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["agreement"]["terms"] == AGREEMENT["terms"]
    closed = await act(client, "mediator1", cid, "close")
    assert closed.json()["state"] == "closed"
    events = closed.json()["events"]
    assert [e["action"] for e in events] == ["create", "accept", "note", "resolve", "close"]
    assert events[1]["before"]["state"] == "reported" and events[1]["after"]["state"] == "mediating"
    assert events[2]["data"]["participants"] == ["张建华", "李秀英"]
    assert all(e["actor"] for e in events)
    assert closed.json()["version"] == 5


async def test_hard_matter_escalated_to_the_township_and_resolved_with_an_agreement(client):
    case = await make_case(client, "mediator1", title="两村灌溉用水纠纷", category="agriculture")
    cid = case["id"]
    await act(client, "tianyuan", cid, "accept")
    escalated = await act(
        client,
        "tianyuan",
        cid,
        "escalate",
        owner="township",
        level="hard",
        reason="涉及两个村民小组，需乡镇组织联调",
    )
    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["owner_level"] == "township" and escalated.json()["level"] == "hard"
    await act(
        client,
        "tianyuan",
        cid,
        "note",
        text="乡镇综治中心组织水管站、两村干部联合调解。",
        participants=["水管站", "两村村委"],
    )
    resolved = await act(client, "tianyuan", cid, "resolve", agreement=AGREEMENT)
    assert resolved.json()["state"] == "resolved"
    page = await client.get(f"/api/cases/{cid}/agreement", headers=await auth(client, "tianyuan"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "人民调解协议书" in html and case["number"] in html
    assert "张建华" in html and "11010519491231002X" in html  # full names and ID on the paper itself
    assert AGREEMENT["terms"] in html and "@page" in html and "A4" in html


async def test_big_matter_goes_the_legal_route(client):
    case = await make_case(
        client,
        "mediator2",
        point=KASI_POINT,
        title="工程款拖欠，涉及三十余名农民工",
        category="labour",
        level="big",
    )
    cid = case["id"]
    await act(client, "kasi", cid, "accept")
    referred = await act(
        client, "kasi", cid, "refer", target="arbitration", reason="劳动报酬争议，引导申请劳动仲裁"
    )
    assert referred.json()["state"] == "referred" and referred.json()["refer_target"] == "arbitration"
    # The legal route ends mediation here: no resolve after a referral.
    late = await act(client, "kasi", cid, "resolve", agreement=AGREEMENT)
    assert late.status_code == 409 and late.json()["code"] == "case.invalid_transition"


async def test_illegal_transitions_are_409_and_forbidden_ones_403(client):
    case = await make_case(client, "mediator1")
    cid = case["id"]
    close = await act(client, "tianyuan", cid, "close")
    assert close.status_code == 409 and close.json()["code"] == "case.invalid_transition"
    # A mediator may not accept (a team leader or a supervisor does).
    assert (await act(client, "mediator1", cid, "accept")).status_code == 403
    # A township supervisor may not touch another township's case at all: it does not exist for them.
    assert (await act(client, "kasi", cid, "accept")).status_code == 404
    unknown = await client.post(
        f"/api/cases/{cid}/actions", json={"action": "teleport"}, headers=await auth(client, "county")
    )
    assert unknown.status_code == 400


async def test_reason_is_required_where_the_method_asks_for_one(client):
    case = await make_case(client, "mediator1")
    for action in ("reject", "escalate", "fail", "reopen"):
        response = await act(client, "tianyuan", case["id"], action)
        assert response.status_code == 400, action
        assert response.json()["code"] == "request.invalid"
    rejected = await act(
        client, "tianyuan", case["id"], "reject", reason="不属于矛盾纠纷，已告知当事人向住建部门反映"
    )
    assert rejected.json()["state"] == "rejected" and rejected.json()["reject_reason"].startswith("不属于")


async def test_deadline_extends_once(client):
    case = await make_case(client, "mediator1")
    accepted = (await act(client, "leader1", case["id"], "accept")).json()
    first = await act(
        client, "leader1", case["id"], "extend_deadline", days=30, reason="当事人外出务工，经双方同意延期"
    )
    assert first.status_code == 200
    assert datetime.fromisoformat(first.json()["deadline"]) - datetime.fromisoformat(
        accepted["deadline"]
    ) == timedelta(days=30)
    second = await act(client, "leader1", case["id"], "extend_deadline", days=10, reason="再延")
    assert second.status_code == 409


async def test_overdue_is_computed_from_now(client):
    case = await make_case(client, "mediator1")
    await act(client, "leader1", case["id"], "accept")
    headers = await auth(client, "tianyuan")
    now_ids = [
        c["id"]
        for c in (
            await client.get("/api/cases", params={"overdue": 1, "limit": 200}, headers=headers)
        ).json()["items"]
    ]
    assert case["id"] not in now_ids
    with clock.frozen(datetime.now(UTC) + timedelta(days=31)):
        later = (await client.get("/api/cases", params={"overdue": 1, "limit": 200}, headers=headers)).json()[
            "items"
        ]
        assert case["id"] in [c["id"] for c in later]
        assert next(c for c in later if c["id"] == case["id"])["overdue"] is True


async def test_assign_a_township_case_to_a_team_starts_mediation(client):
    # A grid worker has no team: the case goes to the township, which assigns a team.
    worker = await make_user(
        client, await tokens_for(client, "county"), role="grid_worker", scope_code="530524101001"
    )
    worker_tokens = await login(client, worker["username"], worker["password"])
    case = (await client.post("/api/cases", json=case_body(), headers=bearer(worker_tokens))).json()
    assert case["owner_level"] == "township" and case["owner_team"] is None
    accepted = (await act(client, "tianyuan", case["id"], "accept")).json()
    assert accepted["state"] == "accepted"
    me = (await client.get("/api/me", headers=await auth(client, "mediator1"))).json()
    assigned = await act(
        client, "tianyuan", case["id"], "assign", team_id=me["team"]["id"], mediator_id=me["id"]
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["state"] == "mediating"
    assert assigned.json()["mediator"]["name"] == "王德明"
    # The team now sees it.
    assert (
        await client.get(f"/api/cases/{case['id']}", headers=await auth(client, "mediator1"))
    ).status_code == 200
    # A mediator from another team cannot be assigned to this team.
    other = (await client.get("/api/me", headers=await auth(client, "mediator2"))).json()
    bad = await act(client, "tianyuan", case["id"], "assign", mediator_id=other["id"])
    assert bad.status_code == 400 and bad.json()["code"] == "case.mediator_not_in_team"


async def test_correct_location_keeps_the_original_in_the_events(client):
    case = await make_case(client, "mediator1")
    original = case["grid"]["code"]
    target = original[:12] + ("002" if not original.endswith("002") else "001")
    moved = await act(
        client, "tianyuan", case["id"], "correct_location", grid_code=target, reason="当事人住址在相邻网格"
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["grid"]["code"] == target
    event = moved.json()["events"][-1]
    assert event["action"] == "correct_location" and event["before"]["grid_code"] == original
    unknown = await act(
        client, "tianyuan", case["id"], "correct_location", grid_code="530524101001999", reason="x"
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "geo.unknown_grid"
    other_township = await act(
        client, "tianyuan", case["id"], "correct_location", grid_code="530524104201001", reason="x"
    )
    assert other_township.status_code == 403


async def test_reopen_after_close_returns_to_mediation(client):
    case = await make_case(client, "mediator1")
    await act(client, "leader1", case["id"], "accept")
    await act(client, "mediator1", case["id"], "resolve", agreement=AGREEMENT)
    await act(client, "mediator1", case["id"], "close")
    reopened = await act(client, "tianyuan", case["id"], "reopen", reason="回访发现纠纷复发")
    assert reopened.json()["state"] == "mediating"
    assert reopened.json()["events"][-1]["data"]["reason"] == "回访发现纠纷复发"
