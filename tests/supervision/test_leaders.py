"""领导包案: the county office or a township's 综治中心 attaches a leader (role leader) whose area covers
the case; the leader reads its area (not another township's), may only note and supervise, sees the
parties of its own cases, and hears of the case's important events.

Demo accounts: county_leader (刘建国, the county) and tianyuan_leader (周光荣, 田园镇)."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from backend.supervision.listeners import escalate
from tests.factories import KASI_POINT, act, auth, bearer, make_case, make_user, tokens_for
from tests.notify.support import close_case_at, inbox_items
from tests.supervision.test_orders import detail, kinds, mediating_case, supervise

SHANGHAI = clock.LOCAL_TZ
KASI = "530524104000"
ISSUED = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)


async def user_id(client, username: str) -> int:
    return (await tokens_for(client, username))["user"]["id"]


async def assign_leader(client, who: str, case_id: str, leader: int | None, **body):
    return await act(client, who, case_id, "assign_leader", user_id=leader, **body)


async def leader_in(client, scope_code: str) -> dict:
    """A new leader account (made by the county office) with its area at `scope_code`."""
    county = await tokens_for(client, "county")
    return await make_user(client, county, role="leader", scope_code=scope_code, display_name="测试领导")


async def test_a_supervisor_attaches_a_leader_and_the_case_and_the_leader_show_it(client):
    case = await mediating_case(client)
    leader = await user_id(client, "tianyuan_leader")
    attached = await assign_leader(client, "tianyuan", case["id"], leader, reason="群众反映强烈")
    assert attached.status_code == 200, attached.text
    assert attached.json()["leader"] == {"id": leader, "name": "周光荣"}
    [event] = [e for e in attached.json()["events"] if e["action"] == "assign_leader"]
    assert (event["before"], event["after"]) == ({"leader": None}, {"leader": leader})
    assert event["data"] == {
        "leader_id": leader,
        "leader_name": "周光荣",
        "previous": None,
        "reason": "群众反映强烈",
    }

    # The leader is told at once and finds it in its own list (leader=me); another leader does not.
    [note] = await inbox_items(client, "tianyuan_leader")
    assert (note["kind"], note["urgency"], note["url"]) == (
        "case_leader_assigned",
        "high",
        f"/cases/{case['id']}",
    )
    mine = await client.get(
        "/api/cases", params={"leader": "me"}, headers=await auth(client, "tianyuan_leader")
    )
    assert [c["id"] for c in mine.json()["items"]] == [case["id"]]
    assert mine.json()["items"][0]["leader"]["name"] == "周光荣"
    theirs = await client.get(
        "/api/cases", params={"leader": "me"}, headers=await auth(client, "county_leader")
    )
    assert theirs.json()["items"] == []
    bad = await client.get("/api/cases", params={"leader": "boss"}, headers=await auth(client, "tianyuan"))
    assert (bad.status_code, bad.json()["code"]) == (400, "case.invalid_leader_filter")


async def test_the_leader_is_replaced_and_cleared_each_an_event_and_each_told(client):
    case = await mediating_case(client)
    township, county = await user_id(client, "tianyuan_leader"), await user_id(client, "county_leader")
    assert (await assign_leader(client, "tianyuan", case["id"], township)).status_code == 200
    replaced = await assign_leader(client, "county", case["id"], county, reason="升级为县领导包案")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["leader"]["id"] == county
    assert kinds(await inbox_items(client, "tianyuan_leader")) == [
        "case_leader_released",
        "case_leader_assigned",
    ]
    assert kinds(await inbox_items(client, "county_leader")) == ["case_leader_assigned"]

    cleared = await assign_leader(client, "county", case["id"], None, reason="已化解")
    assert cleared.status_code == 200 and cleared.json()["leader"] is None
    steps = [(e["before"], e["after"]) for e in cleared.json()["events"] if e["action"] == "assign_leader"]
    assert steps == [
        ({"leader": None}, {"leader": township}),
        ({"leader": township}, {"leader": county}),
        ({"leader": county}, {"leader": None}),
    ]
    again = await assign_leader(client, "county", case["id"], None)
    assert (again.status_code, again.json()["code"]) == (409, "case.leader_unchanged")
    # The list of leaders to pick from: the county's first, then the township's.
    offered = await client.get(f"/api/cases/{case['id']}/leaders", headers=await auth(client, "tianyuan"))
    assert [(c["name"], c["level"], c["area"]) for c in offered.json()] == [
        ("刘建国", "county", "昌宁县"),
        ("周光荣", "township", "田园镇"),
    ]


async def test_only_an_active_leader_whose_area_covers_the_case_and_only_by_its_supervisors(client):
    case = await mediating_case(client)
    kasi_leader = await leader_in(client, KASI)

    def refused(response, status: int, code: str) -> bool:
        return (response.status_code, response.json()["code"]) == (status, code)

    # Not a leader (mediator1 is a mediator of the township).
    mediator = await user_id(client, "mediator1")
    assert refused(await assign_leader(client, "tianyuan", case["id"], mediator), 400, "case.not_a_leader")
    # 卡斯镇's leader: the county office is told it does not cover the case; 田园镇's supervisor is not
    # even told it exists (as for an id that does not exist).
    out = await assign_leader(client, "county", case["id"], kasi_leader["id"])
    assert refused(out, 400, "case.leader_out_of_area")
    hidden = await assign_leader(client, "tianyuan", case["id"], kasi_leader["id"])
    missing = await assign_leader(client, "tianyuan", case["id"], 987654)
    assert refused(hidden, 400, "case.unknown_leader") and refused(missing, 400, "case.unknown_leader")
    assert hidden.json()["message"] == missing.json()["message"]
    # A disabled leader is no longer one.
    county = await tokens_for(client, "county")
    gone = await leader_in(client, "530524101000")
    disabled = await client.post(f"/api/admin/users/{gone['id']}/disable", headers=bearer(county))
    assert disabled.status_code == 200, disabled.text
    assert refused(await assign_leader(client, "county", case["id"], gone["id"]), 400, "case.not_a_leader")
    # Another township's supervisor does not see the case; a team leader and a leader may not assign.
    leader = await user_id(client, "tianyuan_leader")
    assert refused(await assign_leader(client, "kasi", case["id"], leader), 404, "not_found")
    assert refused(await assign_leader(client, "leader1", case["id"], leader), 403, "auth.forbidden")
    assert refused(await assign_leader(client, "tianyuan_leader", case["id"], leader), 403, "auth.forbidden")
    for who in ("leader1", "tianyuan_leader"):
        offered = await client.get(f"/api/cases/{case['id']}/leaders", headers=await auth(client, who))
        assert offered.status_code == 403
    assert (await detail(client, "tianyuan", case["id"]))["leader"] is None  # nothing half-written


async def test_a_leader_reads_its_area_only_and_may_only_note_and_supervise(client):
    ours = await mediating_case(client)
    theirs = await make_case(client, "mediator2", point=KASI_POINT)
    for who, visible in (("tianyuan_leader", {ours["id"]}), ("county_leader", {ours["id"], theirs["id"]})):
        listed = await client.get("/api/cases", headers=await auth(client, who))
        assert {c["id"] for c in listed.json()["items"]} == visible
    other = await client.get(f"/api/cases/{theirs['id']}", headers=await auth(client, "tianyuan_leader"))
    assert (other.status_code, other.json()["code"]) == (404, "not_found")
    note = await act(client, "tianyuan_leader", theirs["id"], "note", text="了解情况")
    assert note.status_code == 404

    seen = await detail(client, "tianyuan_leader", ours["id"])
    assert set(seen["allowed_actions"]) == {"note", "supervise"}
    assert seen["personal_data"] == "masked"  # not in its charge
    for action, body in (
        ("accept", {}),
        ("assign", {"team_id": 1}),
        ("escalate", {"owner": "county", "reason": "升级"}),
        ("fail", {"reason": "未成"}),
        ("set_risk", {"risk": "red", "reason": "研判"}),
        ("extend_deadline", {"days": 5, "reason": "延长"}),
    ):
        refused = await act(client, "tianyuan_leader", ours["id"], action, **body)
        assert refused.status_code in (403, 409), (action, refused.text)
        if refused.status_code == 409:  # not applicable in this state: the role is checked after
            assert refused.json()["code"] == "case.invalid_transition"
    assert (await act(client, "tianyuan_leader", ours["id"], "note", text="已约谈双方")).status_code == 200

    # In its charge: the parties in full; the leader issues a 督办, acknowledges nothing, decides on
    # its own order's report.
    await assign_leader(client, "tianyuan", ours["id"], await user_id(client, "tianyuan_leader"))
    assert (await detail(client, "tianyuan_leader", ours["id"]))["personal_data"] == "full"
    with clock.frozen(ISSUED):
        ordered = await supervise(client, ours["id"], "tianyuan_leader")
        assert ordered.status_code == 200, ordered.text
        ack = await act(client, "tianyuan_leader", ours["id"], "acknowledge_supervision")
        assert ack.status_code == 403
        assert (await act(client, "leader1", ours["id"], "acknowledge_supervision")).status_code == 200
        assert (
            await act(client, "leader1", ours["id"], "report_supervision", text="已调解")
        ).status_code == 200
        accepted = await act(client, "tianyuan_leader", ours["id"], "accept_supervision")
        assert accepted.status_code == 200, accepted.text


async def test_a_leader_cannot_log_a_case(client):
    from tests.factories import case_body

    response = await client.post(
        "/api/cases", json=case_body(), headers=await auth(client, "tianyuan_leader")
    )
    assert (response.status_code, response.json()["code"]) == (403, "case.leader_cannot_log")


async def test_the_leader_hears_of_red_risk_supervision_and_its_red_closing_and_the_visits(client):
    with clock.frozen(ISSUED):
        case = await mediating_case(client)
        await assign_leader(client, "tianyuan", case["id"], await user_id(client, "tianyuan_leader"))
        raised = await act(client, "tianyuan", case["id"], "set_risk", risk="red", reason="当事人扬言上访")
        assert raised.status_code == 200, raised.text
        assert (await supervise(client, case["id"])).status_code == 200
    with clock.frozen(ISSUED + timedelta(hours=25)):
        await escalate()
    items = await inbox_items(client, "tianyuan_leader")
    assert kinds(items) == ["supervision_red", "supervision_issued", "case_risk_red", "case_leader_assigned"]
    assert items[2]["urgency"] == "high" and "当事人扬言上访" in items[2]["body"]

    # A case closed, and its return visit's result.
    closed = await close_case_at(client, datetime(2026, 11, 21, 10, 0, tzinfo=SHANGHAI))
    with clock.frozen(datetime(2026, 11, 21, 11, 0, tzinfo=SHANGHAI)):
        # (Attached after closing: the county leader hears of what happens next.)
        await assign_leader(client, "county", closed["id"], await user_id(client, "county_leader"))
        visit = closed["visits"][0]["id"]
        recorded = await client.post(
            f"/api/visits/{visit}/record",
            json={"method": "phone", "satisfaction": "unsatisfied", "notes": "对方未清理通道"},
            headers=await auth(client, "mediator1"),
        )
        assert recorded.status_code == 200, recorded.text
    [result, assigned] = await inbox_items(client, "county_leader")
    assert (result["kind"], result["urgency"], assigned["kind"]) == (
        "visit_result",
        "high",
        "case_leader_assigned",
    )
    assert "不满意" in result["body"]


async def test_the_leader_hears_when_its_case_is_closed_or_fails(client):
    case = await mediating_case(client)
    await assign_leader(client, "tianyuan", case["id"], await user_id(client, "tianyuan_leader"))
    failed = await act(client, "mediator1", case["id"], "fail", reason="双方分歧大")
    assert failed.status_code == 200, failed.text
    [note, _] = await inbox_items(client, "tianyuan_leader")
    assert (note["kind"], note["urgency"]) == ("case_failed", "high") and "双方分歧大" in note["body"]


async def test_a_leaders_map_can_show_only_the_cases_in_its_charge(client):
    from tests.map.test_countdown_markers import _markers

    leader = await user_id(client, "tianyuan_leader")
    mine = await mediating_case(client)
    other = await mediating_case(client)
    assert (await assign_leader(client, "tianyuan", mine["id"], leader)).status_code == 200
    everything = await _markers(client, "tianyuan_leader")
    assert everything[mine["id"]]["leader"] == leader and everything[other["id"]]["leader"] is None
    only_mine = await _markers(client, "tianyuan_leader", leader="me")
    assert mine["id"] in only_mine and other["id"] not in only_mine
    assert {m["leader"] for m in only_mine.values()} == {leader}
    # A supervisor in charge of nothing gets an empty map that way, not someone else's cases.
    assert await _markers(client, "tianyuan", leader="me") == {}
    bad = await client.get(
        "/api/map/cases", params={"leader": str(leader)}, headers=await auth(client, "tianyuan_leader")
    )
    assert (bad.status_code, bad.json()["code"]) == (400, "map.invalid_query")
    assert "只看我包案" in bad.json()["message"]
