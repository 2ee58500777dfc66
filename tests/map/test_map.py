"""The supervisors' map API: markers, choropleth cells, a cell's figures, live changes, teams."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.cases.tables import Case
from backend.core import clock
from tests.factories import KASI_POINT, TIANYUAN_POINT, act, auth, bearer, login, make_case
from tests.live import lines_after_revoking, next_event, served
from tests.sync.helpers import action_op, create_op, push, update_op

TIANYUAN = "530524101000"
KASI = "530524104000"


def _rows(page: dict) -> list[dict]:
    return [dict(zip(page["fields"], row, strict=True)) for row in page["rows"]]


async def _markers(client, username: str, **params) -> dict:
    response = await client.get(
        "/api/map/cases", params={"limit": 50000, **params}, headers=await auth(client, username)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _cells(client, username: str, **params) -> dict:
    response = await client.get("/api/map/cells", params=params, headers=await auth(client, username))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_township_supervisor_sees_only_their_townships_markers(client):
    mine = await make_case(client, "mediator1", title="地图-田园")
    other = await make_case(client, "mediator2", point=KASI_POINT, title="地图-卡斯")

    seen = _rows(await _markers(client, "tianyuan"))
    ids = {r["id"] for r in seen}
    assert mine["id"] in ids and other["id"] not in ids
    assert ids == {mine["id"]}
    townships = {
        r["township_code"]
        for r in await Case.select(Case.township_code).where(Case.id.is_in(list(ids))).run()
    }
    assert townships == {TIANYUAN}

    county = {r["id"] for r in _rows(await _markers(client, "county"))}
    assert county == {mine["id"], other["id"]}


async def test_a_team_leaders_map_shows_the_teams_cases_only(client):
    """A leader sees on the map what their case list shows: their team's cases (leader1 leads 关庙社区's
    team), not the rest of the township's, nor another township's; cells count the same cases."""
    team_case = await make_case(client, "mediator1", title="地图-本队")
    township_case = await make_case(client, "tianyuan", title="地图-乡镇")  # owned by the township
    await make_case(client, "mediator2", point=KASI_POINT, title="地图-卡斯")
    assert {r["id"] for r in _rows(await _markers(client, "leader1"))} == {team_case["id"]}
    assert {r["id"] for r in _rows(await _markers(client, "tianyuan"))} == {
        team_case["id"],
        township_case["id"],
    }
    # Both 田园镇 cases lie in 关庙社区: the leader's cell counts the team's one.
    village = team_case["village"]["code"]
    assert township_case["village"]["code"] == village
    cells = (await _cells(client, "leader1", level="village"))["cells"]
    assert [(c["code"], c["value"]) for c in cells] == [(village, 1)]
    summary = await client.get(f"/api/map/cells/{village}", headers=await auth(client, "leader1"))
    assert summary.json()["total"] == 1
    other = await client.get(f"/api/map/cells/{KASI}", headers=await auth(client, "leader1"))
    assert other.status_code == 404 and other.json()["code"] == "map.cell_not_found"
    config = (await client.get("/api/map/config", headers=await auth(client, "leader1"))).json()
    assert config["township"] == TIANYUAN


async def test_filters_narrow_the_markers(client):
    land = await make_case(client, "mediator1", category="land_compensation", level="big", title="征地")
    neighbour = await make_case(client, "mediator1", category="neighbour", title="邻里")

    everything = _rows(await _markers(client, "tianyuan"))
    assert {r["id"] for r in everything} == {land["id"], neighbour["id"]}
    by_category = _rows(await _markers(client, "tianyuan", category="land_compensation"))
    assert land["id"] in {r["id"] for r in by_category}
    assert all(r["category"] == "land_compensation" for r in by_category)
    assert len(by_category) < len(everything)
    assert [r["id"] for r in by_category] == [land["id"]]

    big_land = _rows(await _markers(client, "tianyuan", category="land_compensation", level="big"))
    assert {r["level"] for r in big_land} == {"big"} and land["id"] in {r["id"] for r in big_land}
    assert [r["id"] for r in big_land] == [land["id"]]
    small = _rows(await _markers(client, "tianyuan", level="small"))
    assert [r["id"] for r in small] == [neighbour["id"]]

    tomorrow = (clock.local_now().date() + timedelta(days=1)).isoformat()
    assert _rows(await _markers(client, "tianyuan", **{"from": tomorrow})) == []
    today = clock.local_now().date().isoformat()
    assert {r["id"] for r in _rows(await _markers(client, "tianyuan", **{"from": today}))} == {
        land["id"],
        neighbour["id"],
    }


async def test_the_marker_limit_says_it_truncated(client):
    await make_case(client, "mediator1")
    await make_case(client, "mediator1")
    page = await _markers(client, "tianyuan", limit=1)
    assert len(page["rows"]) == 1 and page["truncated"] is True and page["total"] == 2


async def test_overdue_and_conflict_filters(client):
    case = await make_case(client, "mediator1", title="逾期")
    assert (await act(client, "tianyuan", case["id"], "accept")).status_code == 200  # the 30 days start
    fresh = await make_case(client, "mediator1", title="刚登记")  # not accepted: no deadline running
    later = datetime.now(UTC) + timedelta(days=45)  # past the 30-day mediation limit
    with clock.frozen(later):
        overdue = _rows(await _markers(client, "tianyuan", overdue=1))
        assert case["id"] in {r["id"] for r in overdue}
        assert all(r["overdue"] == 1 for r in overdue)
        assert [r["id"] for r in overdue] == [case["id"]]
    now_overdue = {r["id"] for r in _rows(await _markers(client, "tianyuan", overdue=1))}
    assert case["id"] not in now_overdue
    assert now_overdue == set()

    # Two phones change the same field offline: the case is flagged as a conflict.
    leader, mediator = await auth(client, "leader1"), await auth(client, "mediator1")
    create = create_op(title="冲突")
    cid = create["entity_id"]
    base = (await push(client, leader, create, action_op(cid, "accept")))[-1]["server_version"]
    await push(client, leader, update_op(cid, base, title="甲手机的标题"))
    [clash] = await push(client, mediator, update_op(cid, base, title="乙手机的标题"))
    assert clash["status"] == "conflict"
    conflicts = _rows(await _markers(client, "tianyuan", conflict=1))
    assert all(r["conflict"] == 1 for r in conflicts)
    assert [r["id"] for r in conflicts] == [cid]
    assert fresh["id"] not in {r["id"] for r in conflicts}


async def test_cells_count_open_cases_per_village_in_scope(client):
    case = await make_case(client, "mediator1")
    await make_case(client, "mediator2", point=KASI_POINT)  # another township: not a cell here
    after = await _cells(client, "tianyuan", level="village")
    values = {c["code"]: c["value"] for c in after["cells"]}
    village = case["village"]["code"]
    assert values[village] == 1
    # Only 田园镇's villages (13 of them), zero counts included.
    assert all(code[:9] == TIANYUAN[:9] for code in values)
    assert len(values) == 13
    assert {k: v for k, v in values.items() if k != village} == {k: 0 for k in values if k != village}
    assert after["max"] == max(values.values()) == 1


async def test_the_county_sees_all_13_townships_and_new_cases_by_period(client):
    townships = (await _cells(client, "county", level="township", metric="new"))["cells"]
    assert len(townships) == 13
    assert {c["value"] for c in townships} == {0}
    await make_case(client, "mediator2", point=KASI_POINT)
    after = {
        c["code"]: c["value"]
        for c in (await _cells(client, "county", level="township", metric="new"))["cells"]
    }
    assert after[KASI] == 1
    assert {code: n for code, n in after.items() if code != KASI} == {
        c["code"]: 0 for c in townships if c["code"] != KASI
    }
    # A period before any case: every township still listed, all zero, the period echoed.
    past = await _cells(
        client, "county", level="township", metric="new", **{"from": "2019-06-01", "to": "2019-06-30"}
    )
    assert len(past["cells"]) == 13 and past["max"] == 0
    assert (past["from"], past["to"]) == ("2019-06-01", "2019-06-30")


async def test_a_cell_summary_counts_by_state_and_hides_other_townships(client):
    case = await make_case(client, "mediator1")
    grid = case["grid"]["code"]
    headers = await auth(client, "tianyuan")
    before = (await client.get(f"/api/map/cells/{grid}", headers=headers)).json()
    assert (await act(client, "tianyuan", case["id"], "reject", reason="不属于调解范围")).status_code == 200
    summary = (await client.get(f"/api/map/cells/{grid}", headers=headers)).json()
    assert summary["level"] == "grid" and summary["total"] == before["total"]
    assert summary["total"] == sum(summary["by_state"].values())
    assert summary["by_state"]["rejected"] == before["by_state"]["rejected"] + 1
    assert summary["open"] == before["open"] - 1
    # The cell's rates over the last 12 months: a rejected case is not in the closure rate's cohort,
    # an accepted one is.
    closure = {r["key"]: r for r in summary["rates"]}["closure"]
    assert [r["key"] for r in summary["rates"]] == [
        "closure",
        "resolution",
        "visit",
        "satisfaction",
        "face_to_face",
    ]
    accepted = await make_case(client, "mediator1", point=(case["lon"], case["lat"]))
    assert accepted["grid"]["code"] == grid
    after = (await client.get(f"/api/map/cells/{grid}", headers=headers)).json()
    assert {r["key"]: r for r in after["rates"]}["closure"]["denominator"] == closure["denominator"] + 1

    elsewhere = await client.get(f"/api/map/cells/{KASI}", headers=headers)
    assert elsewhere.status_code == 404 and elsewhere.json()["code"] == "map.cell_not_found"


async def test_bad_map_queries_get_clear_errors(client):
    headers = await auth(client, "tianyuan")
    for path, params in (
        ("/api/map/cells", {"metric": "popularity"}),
        ("/api/map/cells", {"level": "province"}),
        ("/api/map/cases", {"from": "2026-13-01"}),
        ("/api/map/cases", {"state": "lost"}),
    ):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 400, (path, params)
        body = response.json()
        assert body["code"] == "map.invalid_query" and body["message"]
    bad_box = await client.get("/api/map/cases", params={"bbox": "99,24,98,25"}, headers=headers)
    assert bad_box.status_code == 400 and bad_box.json()["code"] == "geo.invalid_bbox"


async def test_map_config_defaults_to_no_tiles_and_the_users_township(client):
    county = (await client.get("/api/map/config", headers=await auth(client, "county"))).json()
    tianyuan = (await client.get("/api/map/config", headers=await auth(client, "tianyuan"))).json()
    assert county["tiles"] == "none" and county["township"] is None
    assert tianyuan["township"] == TIANYUAN
    inner, outer = tianyuan["bounds"], county["bounds"]
    assert outer[0] <= inner[0] < inner[2] <= outer[2] and outer[1] <= inner[1] < inner[3] <= outer[3]
    lon, lat = TIANYUAN_POINT
    assert inner[0] <= lon <= inner[2] and inner[1] <= lat <= inner[3]


async def test_teams_are_those_the_user_may_assign_to(client):
    tianyuan = (await client.get("/api/teams", headers=await auth(client, "tianyuan"))).json()
    assert tianyuan and all(t["township"] is None or t["township"]["code"] == TIANYUAN for t in tianyuan)
    assert any(t["township"] is None for t in tianyuan)  # the county legal-service team
    assert any(m["user_id"] for t in tianyuan for m in t["members"])  # mediators with accounts

    mediator = await login(client, "mediator1")
    own = (await client.get("/api/teams", headers=bearer(mediator))).json()
    assert [t["id"] for t in own] == [mediator["user"]["team"]["id"]]

    county = (await client.get("/api/teams", headers=await auth(client, "county"))).json()
    assert len(county) == 125
    other = await client.get("/api/teams", params={"township": KASI}, headers=await auth(client, "tianyuan"))
    assert other.status_code == 404 and other.json()["code"] == "scope.not_found"


@pytest.mark.server  # an in-process uvicorn server (tests/live.served)
async def test_new_cases_in_scope_arrive_live(client):
    supervisor = await login(client, "tianyuan")
    async with served() as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream("GET", "/api/map/events", headers=bearer(supervisor)) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert (await asyncio.wait_for(next_event(lines), 5))["event"] == "ready"
            await make_case(client, "mediator2", point=KASI_POINT)  # another township: not told
            # Logged by the supervisor: owned by the township, not a team.
            case = await make_case(client, "tianyuan", title="实时")
            event = await asyncio.wait_for(next_event(lines), 10)
            assert event["event"] == "case"
            data = json.loads(event["data"])
            assert data["action"] == "create" and data["row"][0] == case["id"]
            assert event["id"] == str(data["id"])

            # Moved to another township by the county: the marker is told to go.
            kasi_grid = (await make_case(client, "mediator2", point=KASI_POINT))["grid"]["code"]
            moved = await act(
                client, "county", case["id"], "correct_location", grid_code=kasi_grid, reason="定位有误"
            )
            assert moved.status_code == 200, moved.text
            gone = await asyncio.wait_for(next_event(lines), 10)
            assert gone["event"] == "gone" and json.loads(gone["data"])["case"] == case["id"]
            last_id = gone["id"]

        # Offline for a while: a reconnect with Last-Event-ID gets what it missed.
        missed = await make_case(client, "mediator1", title="断线期间")
        headers = {**bearer(supervisor), "Last-Event-ID": last_id}
        async with http.stream("GET", "/api/map/events", headers=headers) as response:
            lines = response.aiter_lines()
            assert (await asyncio.wait_for(next_event(lines), 5))["event"] == "ready"
            event = await asyncio.wait_for(next_event(lines), 10)
    assert json.loads(event["data"])["row"][0] == missed["id"]


@pytest.mark.server  # an in-process uvicorn server (tests/live.served)
async def test_a_revoked_device_stops_hearing_the_map(client, monkeypatch):
    assert await lines_after_revoking(client, monkeypatch, "/api/map/events", "tianyuan") == []


async def test_the_maps_bulk_json_is_gzipped_and_nothing_else(client):
    headers = {**await auth(client, "county"), "Accept-Encoding": "gzip"}
    for _ in range(20):  # enough rows to pass the 2 KB threshold
        await make_case(client, "mediator1")
    markers = await client.get("/api/map/cases", params={"limit": 50000}, headers=headers)
    assert markers.headers.get("content-encoding") == "gzip" and markers.json()["rows"]
    cells = await client.get("/api/map/cells", params={"level": "grid"}, headers=headers)
    assert cells.headers.get("content-encoding") == "gzip"
    # Everything else is left alone (big, but not the map's bulk JSON).
    grids = await client.get("/api/grids", params={"level": "grid"}, headers=headers)
    assert grids.status_code == 200 and len(grids.content) > 2048
    assert "content-encoding" not in grids.headers


@pytest.mark.parametrize(
    ("tiles", "key", "expected"),
    [
        ("tianditu", "k-123", ("tianditu", "k-123")),
        ("tianditu", "", ("none", None)),
        ("osm", "", ("osm", None)),
    ],
)
async def test_base_tiles_come_from_settings(database, monkeypatch, tiles, key, expected):
    from backend.app import create_app
    from backend.settings import load_settings

    monkeypatch.setenv("FENGQIAO_MAP_TILES", tiles)
    monkeypatch.setenv("FENGQIAO_TIANDITU_KEY", key)
    app = create_app(load_settings(), manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as own:
        config = (await own.get("/api/map/config", headers=bearer(await login(own, "tianyuan")))).json()
    assert (config["tiles"], config["tianditu_key"]) == expected
