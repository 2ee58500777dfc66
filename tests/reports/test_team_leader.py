"""A team leader's reports: the four reports over the team's cases only.

The fixture's team owns every 田园镇 case of the fixture; here a second 田园镇 team (the demo's 关庙社区
team, leader1's) gets three closed cases of its own in the same quarter, so the township holds both
teams' cases and each leader must see exactly their own."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from backend.core import clock
from tests.factories import auth, bearer, login, make_user, tokens_for
from tests.reports import fixture
from tests.reports.support import rates, section
from tests.reports.test_figures import Q2_TIANYUAN_RATES

KINDS = ("daily", "weekly", "monthly", "quarterly")
DAY = date(2024, 5, 15)  # the other team's cases are logged that day too
OTHER_TITLE = "另一调解队的纠纷"


async def _other_team_cases(client) -> list[uuid.UUID]:
    """Three closed 田园镇 cases of leader1's team, logged at 09:00 on DAY and closed two days later."""
    from backend.cases.tables import Case

    team_id = (await tokens_for(client, "leader1"))["user"]["team"]["id"]
    at = fixture.local(DAY, 9)
    ids = [uuid.uuid4() for _ in range(3)]
    await Case.insert(
        *[
            Case(
                id=case_id,
                number=f"530524101-2024-T{fixture.TAG}{n}",
                category="neighbour",
                title=f"{OTHER_TITLE}{n}",
                description="另一调解队",
                level="small",
                state="closed",
                lon=99.61,
                lat=24.82,
                accuracy_m=10.0,
                location_source="gps",
                township_code=fixture.TIANYUAN,
                village_code=fixture.TIANYUAN_VILLAGE,
                locate_status="inside",
                owner_level="team",
                owner_team=team_id,
                created_device="report-test",
                occurred_at=at,
                reported_at=at,
                accepted_at=at,
                deadline=fixture.local(DAY, 9).replace(month=6),
                resolved_at=fixture.local(date(2024, 5, 17), 9),
                closed_at=fixture.local(date(2024, 5, 17), 10),
                create_hash=uuid.uuid4().hex,
                updated_at=at,
            )
            for n, case_id in enumerate(ids)
        ]
    ).run()
    return ids


@pytest.fixture
async def leaders(client, report_data) -> dict[str, str]:
    """The fixture team's new leader (username) and the other team's cases."""
    await _other_team_cases(client)
    county = await login(client, "county")
    leader = await make_user(
        client,
        county,
        role="team_leader",
        scope_code=fixture.TIANYUAN_VILLAGE,
        team_id=report_data["team_id"],
    )
    return {
        "fixture": bearer(await login(client, leader["username"], leader["password"])),
        "other": await auth(client, "leader1"),
        "tianyuan": await auth(client, "tianyuan"),
    }


async def fetch(client, headers: dict[str, str], kind: str, **params: Any):
    with clock.frozen(fixture.REPORT_NOW):
        return await client.get(f"/api/reports/{kind}", params=params, headers=headers)


async def report(client, headers: dict[str, str], kind: str, **params: Any) -> dict[str, Any]:
    response = await fetch(client, headers, kind, **params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_leaders_quarter_counts_the_teams_cases_only(client, leaders):
    # The township holds both teams' cases: 238 of the fixture's team and 3 of leader1's.
    township = await report(client, leaders["tianyuan"], "quarterly", date="2024-05-15")
    assert section(township, "townships")["rows"][0]["cases"] == 238 + 3

    mine = await report(client, leaders["fixture"], "quarterly", date="2024-05-15")
    assert mine["team"]["name"].startswith("报表测试红色调解队") and mine["township"] is None
    assert rates(mine) == Q2_TIANYUAN_RATES
    towns = section(mine, "townships")
    assert [(r["township"], r["cases"], r["closed"]) for r in towns["rows"]] == [("田园镇", 238, 227)]
    assert [(r["team"], r["cases"]) for r in section(mine, "teams")["rows"]] == [(mine["team"]["name"], 238)]

    other = await report(client, leaders["other"], "quarterly", date="2024-05-15")
    assert other["team"]["name"] == "关庙社区红色调解队"
    assert rates(other)["closure"] == (100.0, 3, 3)
    assert rates(other)["visit"] == (None, 0, 0)  # the fixture's 120 visits are the other team's
    assert [(r["township"], r["cases"]) for r in section(other, "townships")["rows"]] == [("田园镇", 3)]
    assert [(r["team"], r["cases"]) for r in section(other, "teams")["rows"]] == [("关庙社区红色调解队", 3)]


async def test_a_leaders_day_and_lists_never_show_another_teams_cases(client, leaders):
    fixture_new = sum(
        1
        for c in fixture.CASES
        if c.township == fixture.TIANYUAN
        and c.state != "merged"
        and c.reported_at.astimezone(fixture.SH).date() == DAY
    )
    mine = await report(client, leaders["fixture"], "daily", date=DAY.isoformat())
    other = await report(client, leaders["other"], "daily", date=DAY.isoformat())
    township = await report(client, leaders["tianyuan"], "daily", date=DAY.isoformat())
    assert section(mine, "by_township")["rows"][0]["new"] == fixture_new
    assert section(other, "by_township")["rows"][0]["new"] == 3
    assert section(township, "by_township")["rows"][0]["new"] == fixture_new + 3
    # The fixture's 大事 of that evening is the fixture team's alone.
    assert len(section(mine, "big_cases")["rows"]) == 1 and section(other, "big_cases")["rows"] == []
    for kind in KINDS:
        for who, foreign in ((leaders["fixture"], OTHER_TITLE), (leaders["other"], "报表测试")):
            response = await fetch(client, who, kind, date=DAY.isoformat())
            assert response.status_code == 200, (who, kind, response.text)
            assert foreign not in response.text, (who, kind)
            assert "卡斯" not in response.text, (who, kind)
    # 月排查: the fixture's eight long-unresolved cases are listed for its team, and for nobody else.
    mine = await report(client, leaders["fixture"], "monthly", date="2024-06-15")
    other = await report(client, leaders["other"], "monthly", date="2024-06-15")
    assert len(section(mine, "unresolved")["rows"]) == 8
    assert (
        section(other, "unresolved")["rows"] == [] and section(other, "summary")["totals"]["unresolved"] == 0
    )


async def test_a_leader_may_name_only_the_teams_township(client, leaders):
    whole = await report(client, leaders["other"], "weekly", date=DAY.isoformat())
    named = await report(client, leaders["other"], "weekly", date=DAY.isoformat(), township=fixture.TIANYUAN)
    assert named["sections"] == whole["sections"]
    assert named["township"] == {"code": fixture.TIANYUAN, "name": "田园镇"}
    for code in (fixture.KASI, "999999999999"):
        response = await fetch(client, leaders["other"], "weekly", township=code)
        assert response.status_code == 404
        assert response.json()["code"] == "report.township_not_found"


async def test_a_leaders_workbook_and_page_are_named_for_the_team(client, leaders):
    response = await fetch(client, leaders["other"], "daily", date=DAY.isoformat(), format="xlsx")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    team_id = (await tokens_for(client, "leader1"))["user"]["team"]["id"]
    assert f'filename="daily-2024-05-15-team{team_id}.xlsx"' in disposition
    page = await fetch(client, leaders["other"], "daily", date=DAY.isoformat(), format="html")
    assert "<h1>关庙社区红色调解队矛盾纠纷日报告</h1>" in page.text and "报表测试" not in page.text


async def test_a_plain_mediator_still_may_not_see_reports(client, report_data):
    headers = bearer(await login(client, report_data["username"], report_data["password"]))
    response = await client.get("/api/reports/daily", headers=headers)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "report.forbidden" and "调解队长" in body["message"]
