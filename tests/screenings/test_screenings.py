"""月排查 screening rounds: a team reports each village it screened this month (a zero report when it
found nothing), from the phone's outbox too; a lead becomes a case; the monthly report counts coverage."""

from __future__ import annotations

import uuid
from datetime import datetime

from backend.core import clock
from backend.grids.tables import Division
from backend.people.tables import Team, TeamVillage
from tests.factories import auth, bearer, case_body, login, make_case, make_user, tokens_for
from tests.sync.helpers import create_op, op, push

SHANGHAI = clock.LOCAL_TZ
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
MEDIATOR1_VILLAGE = "530524101001"  # mediator1 and leader1's team serves it
KASI_VILLAGE = "530524104201"  # mediator2's team, another township
TIANYUAN = "530524101000"


def report(village: str = MEDIATOR1_VILLAGE, month: str = "2026-11", **fields) -> dict:
    body = {
        "id": str(uuid.uuid4()),
        "village_code": village,
        "month": month,
        "households_visited": 30,
        "found": [{"summary": "两户因宅基地滴水檐起争执", "category": "forest_land"}],
        "location": {"lon": 99.614962, "lat": 24.825632, "accuracy_m": 10.0},
    }
    body.update(fields)
    return body


async def post(client, username: str | dict, body: dict):
    """Report as a demo account (by name) or with a signed-in session's headers."""
    headers = username if isinstance(username, dict) else await auth(client, username)
    return await client.post("/api/screenings", json=body, headers=headers)


async def test_a_team_reports_a_village_and_a_replay_does_not_double(client):
    body = report(visited_at="2026-11-14T09:30:00+08:00")
    with clock.frozen(NOW):
        first = await post(client, "mediator1", body)
        again = await post(client, "mediator1", body)
        listed = (await client.get("/api/screenings", headers=await auth(client, "leader1"))).json()
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.json() == first.json()
    saved = first.json()
    assert (saved["village_code"], saved["month"], saved["households_visited"]) == (
        MEDIATOR1_VILLAGE,
        "2026-11",
        30,
    )
    assert saved["reported_by"] == "王德明" and saved["village_name"]
    assert [lead["summary"] for lead in saved["found"]] == ["两户因宅基地滴水檐起争执"]
    assert datetime.fromisoformat(saved["visited_at"]) == datetime(2026, 11, 14, 9, 30, tzinfo=SHANGHAI)
    assert listed["month"] == "2026-11" and [s["id"] for s in listed["items"]] == [body["id"]]
    changed = await post(client, "mediator1", {**body, "households_visited": 31})
    assert changed.status_code == 409 and changed.json()["code"] == "screening.already_recorded"


async def test_a_zero_report_says_nothing_was_found(client):
    with clock.frozen(NOW):
        saved = await post(client, "leader1", report(found=[], households_visited=12))
    assert saved.status_code == 201
    assert saved.json()["found"] == [] and saved.json()["households_visited"] == 12


async def test_a_lead_becomes_a_case_and_the_report_records_it(client):
    body = report(found=[{"summary": "邻里用水纠纷", "category": "neighbour"}, {"summary": "土地边界"}])
    with clock.frozen(NOW):
        await post(client, "mediator1", body)
        case = await make_case(client, "mediator1", title="邻里用水纠纷")
        body["found"][0]["case_id"] = case["id"]
        linked = await post(client, "mediator1", body)
        twice = await post(client, "mediator1", body)
        other = await make_case(client, "mediator1", title="另一件")
        body["found"][0]["case_id"] = other["id"]
        moved = await post(client, "mediator1", body)
    assert linked.status_code == 200
    assert [lead["case_id"] for lead in linked.json()["found"]] == [case["id"], None]
    assert twice.json() == linked.json()
    assert moved.status_code == 409 and moved.json()["code"] == "screening.already_recorded"


async def test_bad_reports_are_refused_with_their_reason_and_nothing_is_written(client):
    kasi_case = await make_case(client, "mediator2", **{k: v for k, v in case_body().items() if k == "title"})
    lead = {"summary": "线索"}
    cases = [
        ("mediator1", report(month="2026-12"), 400, "screening.future_month"),
        ("mediator1", report(month="2026-13"), 400, "screening.invalid_month"),
        ("mediator1", report(month="11/2026"), 400, "screening.invalid_month"),
        ("mediator1", report(village=KASI_VILLAGE), 404, "screening.village_not_found"),
        ("mediator1", report(village="999999999999"), 404, "screening.village_not_found"),
        ("mediator1", report(households_visited=-1), 400, "screening.invalid_households"),
        ("mediator1", report(households_visited=10**30), 400, "request.number_out_of_range"),
        ("mediator1", report(found=[{"summary": "宅基地\u0000纠纷"}]), 400, "text.control_characters"),
        ("mediator1", report(found=[lead] * 51), 400, "screening.too_many_leads"),
        ("mediator1", report(found=[{"summary": " \u200b "}]), 400, "screening.blank_summary"),
        (
            "mediator1",
            report(found=[{"summary": "x", "category": "nope"}]),
            400,
            "screening.unknown_category",
        ),
        (
            "mediator1",
            report(found=[{"summary": "x", "case_id": kasi_case["id"]}]),
            404,
            "screening.case_not_found",
        ),
        ("tianyuan", report(), 403, "screening.forbidden"),
        ("county", report(), 403, "screening.forbidden"),
    ]
    with clock.frozen(NOW):
        for username, body, status, code in cases:
            response = await post(client, username, body)
            assert (response.status_code, response.json()["code"]) == (status, code), (code, response.text)
            assert response.json()["message"], code
        listed = (await client.get("/api/screenings", headers=await auth(client, "county"))).json()
    assert listed["items"] == []


async def test_who_sees_which_reports(client):
    with clock.frozen(NOW):
        mine = (await post(client, "mediator1", report())).json()
        kasi = (await post(client, "mediator2", report(village=KASI_VILLAGE))).json()
        seen = {}
        for username in ("mediator1", "leader1", "mediator2", "tianyuan", "kasi", "county"):
            page = (await client.get("/api/screenings", headers=await auth(client, username))).json()
            seen[username] = {s["id"] for s in page["items"]}
        one = await client.get(f"/api/screenings/{mine['id']}", headers=await auth(client, "kasi"))
        bad_month = await client.get("/api/screenings?month=2027-01", headers=await auth(client, "county"))
    assert seen == {
        "mediator1": {mine["id"]},
        "leader1": {mine["id"]},
        "mediator2": {kasi["id"]},
        "tianyuan": {mine["id"]},
        "kasi": {kasi["id"]},
        "county": {mine["id"], kasi["id"]},
    }
    assert one.status_code == 404
    assert (bad_month.status_code, bad_month.json()["code"]) == (400, "screening.future_month")


async def test_a_screening_saved_offline_arrives_through_sync_once(client):
    headers = await auth(client, "mediator1")
    body = report(found=[])
    screening_id = body.pop("id")
    record = op("screening.record", screening_id, body, client_time="2026-11-14T16:00:00+08:00")
    with clock.frozen(NOW):
        [first] = await push(client, headers, record)
        [again] = await push(client, headers, record)
        # The phone queued the report twice (a new operation, the same report and time).
        [copy] = await push(client, headers, {**record, "op_id": str(uuid.uuid4())})
        page = (await client.get("/api/screenings", headers=headers)).json()
    assert (first["status"], first["code"]) == ("applied", "screening.recorded")
    assert (again["status"], again["original_status"]) == ("duplicate", "applied")
    assert (copy["status"], copy["code"]) == ("duplicate", "screening.exists")
    assert [s["id"] for s in page["items"]] == [screening_id]
    assert datetime.fromisoformat(page["items"][0]["visited_at"]) == datetime(
        2026, 11, 14, 16, 0, tzinfo=SHANGHAI
    )
    [bad] = await push(
        client, headers, op("screening.record", str(uuid.uuid4()), {**body, "households_visited": -3})
    )
    assert (bad["status"], bad["code"]) == ("rejected", "screening.invalid_households")


async def test_a_lead_made_a_case_offline_links_after_the_case_arrives(client):
    """The phone files the screening, turns its lead into a case and links it, all offline; one push.
    The phone's copies carry the same visited_at (the link is the same report with the case named)."""
    headers = await auth(client, "mediator1")
    body = report(visited_at="2026-11-24T15:00:00+08:00")
    screening_id = body.pop("id")
    case = create_op(title="两户因宅基地滴水檐起争执")
    linked = {**body, "found": [{**body["found"][0], "case_id": case["entity_id"]}]}
    with clock.frozen(NOW):
        results = await push(
            client,
            headers,
            op("screening.record", screening_id, body),
            case,
            op("screening.record", screening_id, linked),
        )
        saved = (await client.get(f"/api/screenings/{screening_id}", headers=headers)).json()
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", "screening.recorded"),
        ("applied", "case.created"),
        ("applied", "screening.linked"),
    ]
    assert saved["found"][0]["case_id"] == case["entity_id"]


# --- coverage in the monthly report: a hand-built township ------------------------------------------


async def _fixture(client) -> dict:
    """田园镇 reduced to three active teams: A (mediator1's) serves v1 and v3, B serves v2 (a new
    mediator), C serves v4 and reports nothing. Returns the village codes and B's headers."""
    villages = [
        r["code"]
        for r in await Division.select(Division.code)
        .where((Division.parent_code == TIANYUAN) & (Division.level == "village"))
        .order_by(Division.code)
        .run()
    ]
    v1 = MEDIATOR1_VILLAGE
    v2, v3, v4 = [v for v in villages if v != v1][:3]
    team_of = {
        r["village_code"]: r["team"]
        for r in await TeamVillage.select(TeamVillage.team, TeamVillage.village_code)
        .where(TeamVillage.village_code.is_in([v1, v2, v4]))
        .run()
    }
    keep = [team_of[v1], team_of[v2], team_of[v4]]
    await (
        Team.update({Team.active: False}).where((Team.township_code == TIANYUAN) & Team.id.not_in(keep)).run()
    )
    await TeamVillage.insert(TeamVillage(team=team_of[v1], village_code=v3)).run()
    admin = await tokens_for(client, "county")
    b = await make_user(client, admin, role="mediator", scope_code=v2, team_id=team_of[v2])
    b_headers = bearer(await login(client, b["username"], b["password"]))
    return {"v1": v1, "v2": v2, "v3": v3, "v4": v4, "b": b_headers}


async def test_the_monthly_report_counts_screening_coverage(client):
    f = await _fixture(client)
    lead = {"summary": "线索"}
    with clock.frozen(datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)):  # last month: not counted
        await post(client, f["b"], report(village=f["v2"], month="2026-10", found=[lead]))
    with clock.frozen(NOW):
        case = await make_case(client, "mediator1")
        await post(
            client, "mediator1", report(village=f["v1"], found=[{**lead, "case_id": case["id"]}, lead])
        )
        await post(client, "mediator1", report(village=f["v1"], found=[lead]))  # v1 again: one village
        await post(client, "leader1", report(village=f["v3"], found=[]))  # zero report
        await post(client, f["b"], report(village=f["v2"], found=[lead]))
        await post(client, "mediator2", report(village=KASI_VILLAGE, found=[lead, lead]))
        tianyuan = (
            await client.get("/api/reports/monthly?date=2026-11-20", headers=await auth(client, "tianyuan"))
        ).json()
        county = (
            await client.get("/api/reports/monthly?date=2026-11-20", headers=await auth(client, "county"))
        ).json()
        leader = (
            await client.get("/api/reports/monthly?date=2026-11-20", headers=await auth(client, "leader1"))
        ).json()
    sections = {s["key"]: s for s in tianyuan["sections"]}
    [town] = sections["screening_coverage"]["rows"]
    assert town == {"township": "田园镇", "served": 4, "screened": 3, "leads": 4, "cases": 1}
    teams = {r["team"]: r for r in sections["screening_teams"]["rows"]}
    assert sorted(
        (r["served"], r["screened"], r["reports"], r["leads"], r["cases"]) for r in teams.values()
    ) == [
        (1, 0, 0, 0, 0),
        (1, 1, 1, 1, 0),
        (2, 2, 3, 3, 1),
    ]
    assert [r["served"] for r in sections["screening_missing"]["rows"]] == [1]
    assert sections["screening_missing"]["rows"][0]["township"] == "田园镇"
    county_towns = {
        r["township"]: r for r in {s["key"]: s for s in county["sections"]}["screening_coverage"]["rows"]
    }
    assert county_towns["田园镇"] == town
    assert (county_towns["卡斯镇"]["screened"], county_towns["卡斯镇"]["leads"]) == (1, 2)
    # leader1's report: team A alone, under 田园镇; no other team and nothing of 卡斯镇.
    own = {s["key"]: s for s in leader["sections"]}
    [team_a] = own["screening_teams"]["rows"]
    assert (team_a["served"], team_a["screened"], team_a["reports"], team_a["leads"], team_a["cases"]) == (
        2,
        2,
        3,
        3,
        1,
    )
    assert own["screening_coverage"]["rows"] == [
        {"township": "田园镇", "served": 2, "screened": 2, "leads": 3, "cases": 1}
    ]
    assert own["screening_missing"]["rows"] == []


async def test_the_map_layer_shows_which_served_villages_were_screened(client):
    f = await _fixture(client)
    with clock.frozen(NOW):
        await post(
            client, "mediator1", report(village=f["v1"], found=[{"summary": "线索"}, {"summary": "另一条"}])
        )
        await post(client, "leader1", report(village=f["v3"], found=[]))
        layers = {}
        for username in ("tianyuan", "mediator1", "kasi"):
            response = await client.get("/api/map/screenings", headers=await auth(client, username))
            layers[username] = {v["village_code"]: v for v in response.json()["villages"]}
        last_month = (
            await client.get("/api/map/screenings?month=2026-10", headers=await auth(client, "tianyuan"))
        ).json()
        future = await client.get("/api/map/screenings?month=2026-12", headers=await auth(client, "tianyuan"))
    town = layers["tianyuan"]
    assert {c: (v["status"], v["screenings"], v["leads"]) for c, v in town.items()} == {
        f["v1"]: ("screened", 1, 2),
        f["v2"]: ("not_screened", 0, 0),
        f["v3"]: ("screened", 1, 0),
        f["v4"]: ("not_screened", 0, 0),
    }
    assert set(layers["mediator1"]) == {f["v1"], f["v3"]}  # the team's own villages
    assert not set(layers["kasi"]) & set(town)
    assert last_month["month"] == "2026-10" and {v["status"] for v in last_month["villages"]} == {
        "not_screened"
    }
    assert (future.status_code, future.json()["code"]) == (400, "screening.future_month")
