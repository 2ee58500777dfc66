"""人民调解案件统计 against the hand-built fixture (statistics_fixture.py), the zero reports (零上报), who
may see which area, bad input, and the XLSX and HTML renderings of the same figures."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from backend.core import clock
from backend.people.tables import Team, User
from tests.factories import auth
from tests.reports import statistics_fixture as fx


@pytest.fixture
async def teams(database) -> dict[str, int]:
    """leader1's team (关庙社区), another 田园镇 team and a 卡斯镇 team; the fixture's cases written."""
    leader = await User.select(User.team).where(User.username == "leader1").first().run()
    tianyuan = await Team.select(Team.id).where(Team.township_code == fx.TIANYUAN).order_by(Team.id).run()
    kasi = await Team.select(Team.id).where(Team.township_code == fx.KASI).order_by(Team.id).first().run()
    other = next(t["id"] for t in tianyuan if t["id"] != leader["team"])
    ids = {"tianyuan": leader["team"], "tianyuan_other": other, "kasi": kasi["id"]}
    await fx.insert(ids)
    return ids


async def fetch(client, username: str, **params: Any):
    with clock.frozen(fx.NOW):
        return await client.get(
            "/api/reports/statistics", params=params, headers=await auth(client, username)
        )


async def statistics(client, username: str, **params: Any) -> dict[str, Any]:
    response = await fetch(client, username, **params)
    assert response.status_code == 200, response.text
    return response.json()


def section(rep: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in rep["sections"] if s["key"] == key)


def figures_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in fx.FIGURE_KEYS}


def row(sec: dict[str, Any], column: str, value: Any) -> dict[str, Any]:
    return next(r for r in sec["rows"] if r[column] == value)


async def zero_report(client, username: str, team_id: int, month: Any):
    with clock.frozen(fx.NOW):
        return await client.post(
            f"/api/teams/{team_id}/zero-reports", json={"month": month}, headers=await auth(client, username)
        )


async def test_a_township_quarter_as_of_its_end(client, teams):
    rep = await statistics(client, "tianyuan", year="2025", quarter="1")
    assert rep["title"] == "人民调解案件统计" and rep["period"]["label"] == "2025年第1季度"
    assert rep["township"] == {"code": fx.TIANYUAN, "name": "田园镇"}
    by_category = section(rep, "by_category")
    assert figures_of(by_category["totals"]) == fx.TIANYUAN_Q1
    # National categories: 邻里纠纷 S1 S2 S8, 山林土地 S3, 家庭纠纷 S4.
    assert figures_of(row(by_category, "category", "邻里纠纷")) == fx.figures(
        cases=3, success=1, in_progress=2, written=1, people=11, group_disputes=1, criminal=1
    )
    assert row(by_category, "category", "山林土地")["failed"] == 1
    assert row(by_category, "category", "家庭纠纷")["people"] == 3
    sources = {r["source"]: r["count"] for r in section(rep, "by_source")["rows"]}
    assert sources == {
        "排查发现": 1,
        "当事人申请": 1,
        "主动调解": 0,
        "委托移送·法院": 1,
        "委托移送·公安": 1,
        "委托移送·信访": 0,
        "委托移送·12345": 0,
        "委托移送·其他": 0,
        "委托移送·未注明": 0,
        "未登记来源": 1,
    }
    assert section(rep, "by_source")["totals"]["count"] == 5
    assert [r["township"] for r in section(rep, "by_township")["rows"]] == ["田园镇"]
    by_team = section(rep, "by_team")
    assert figures_of(by_team["totals"]) == fx.TIANYUAN_Q1
    assert row(by_team, "team", "（无调解队）")["cases"] == 1  # S4
    assert all(r["township"] in ("田园镇", "") for r in by_team["rows"])


async def test_the_year_counts_what_happened_after_the_quarter(client, teams):
    rep = await statistics(client, "tianyuan", year="2025")
    assert rep["period"]["label"] == "2025年"
    assert figures_of(section(rep, "by_category")["totals"]) == fx.TIANYUAN_2025


async def test_the_county_sees_every_township_and_may_pick_one(client, teams):
    rep = await statistics(client, "county", year="2025", quarter="1")
    by_township = section(rep, "by_township")
    assert figures_of(row(by_township, "township", "田园镇")) == fx.TIANYUAN_Q1
    assert figures_of(row(by_township, "township", "卡斯镇")) == fx.KASI_Q1
    total = {k: fx.TIANYUAN_Q1[k] + fx.KASI_Q1[k] for k in fx.FIGURE_KEYS}
    assert figures_of(by_township["totals"]) == total
    assert figures_of(section(rep, "by_category")["totals"]) == total
    assert figures_of(section(rep, "by_team")["totals"]) == total
    one = await statistics(client, "county", year="2025", quarter="1", township=fx.KASI)
    assert figures_of(section(one, "by_category")["totals"]) == fx.KASI_Q1


async def test_zero_reports_are_filed_once_and_listed(client, teams):
    other = teams["tianyuan_other"]
    leader1_team = teams["tianyuan"]
    # leader1's team had cases in February: no zero report for it.
    has_cases = await zero_report(client, "leader1", leader1_team, "2025-02")
    assert has_cases.status_code == 409 and has_cases.json()["code"] == "report.zero_month_has_cases"
    filed = await zero_report(client, "leader1", leader1_team, "2025-04")
    assert filed.status_code == 201, filed.text
    assert filed.json()["month"] == "2025-04"
    again = await zero_report(client, "leader1", leader1_team, "2025-04")
    assert again.status_code == 200 and again.json() == filed.json()
    # The township files for a team of its own that had nothing in January and February.
    for month in ("2025-01", "2025-02"):
        assert (await zero_report(client, "tianyuan", other, month)).status_code == 201
    rep = await statistics(client, "tianyuan", year="2025", quarter="1")
    zero = section(rep, "zero_reports")["rows"]
    names = {r["team"] for r in zero}
    leader_team_name = (await Team.select(Team.name).where(Team.id == leader1_team).first().run())["name"]
    assert leader_team_name not in names  # it had cases
    other_name = (await Team.select(Team.name).where(Team.id == other).first().run())["name"]
    listed = row(section(rep, "zero_reports"), "team", other_name)
    assert (listed["filed"], listed["missing"], listed["status"]) == ("1月、2月", "3月", "未报告")
    tianyuan_teams = await Team.count().where((Team.township_code == fx.TIANYUAN) & (Team.active == True))  # noqa: E712
    assert len(zero) == tianyuan_teams - 1


@pytest.mark.parametrize(
    ("username", "team", "month", "status", "code"),
    [
        ("leader1", "tianyuan", "2025-13", 400, "report.invalid_month"),
        ("leader1", "tianyuan", "99999999999999999999", 400, "report.invalid_month"),
        ("leader1", "tianyuan", "2025-5", 400, "report.invalid_month"),
        ("leader1", "tianyuan", "2025-05", 400, "report.zero_month_future"),
        ("leader1", "tianyuan_other", "2025-01", 404, "people.team_not_found"),
        ("tianyuan", "kasi", "2025-01", 404, "people.team_not_found"),
        ("mediator1", "tianyuan", "2025-01", 403, "report.zero_forbidden"),
        ("county", None, "2025-01", 404, "people.team_not_found"),
    ],
)
async def test_zero_report_refusals(client, teams, username, team, month, status, code):
    team_id = teams[team] if team else 99_999_999
    response = await zero_report(client, username, team_id, month)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json()["message"])
    rep = await statistics(client, "county", year="2025")
    assert all(r["filed"] == "—" for r in section(rep, "zero_reports")["rows"])


async def test_a_zero_report_with_a_non_string_month_or_a_huge_team_id_is_a_400(client, teams):
    response = await zero_report(client, "leader1", teams["tianyuan"], 202501)
    assert response.status_code == 400
    for team_id in (2**31, 0):
        response = await zero_report(client, "county", team_id, "2025-01")
        assert response.status_code == 400, (team_id, response.text)
    # Past what the router reads as an integer, no route matches: a plain 404, never a 500.
    response = await zero_report(client, "county", 99999999999999999999, "2025-01")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("username", "params", "status", "code"),
    [
        ("tianyuan", {"year": "2025", "quarter": "5"}, 400, "report.invalid_quarter"),
        ("tianyuan", {"year": "99999999999999999999"}, 400, "report.invalid_year"),
        ("tianyuan", {"year": "1999"}, 400, "report.invalid_year"),
        ("tianyuan", {"year": "2025", "format": "pdf"}, 400, "report.invalid_format"),
        ("tianyuan", {"year": "2025", "township": fx.KASI}, 404, "report.township_not_found"),
        ("county", {"year": "2025", "township": "999999999999"}, 404, "report.township_not_found"),
        ("mediator1", {"year": "2025"}, 403, "report.forbidden"),
        ("leader1", {"year": "2025"}, 403, "report.forbidden"),
    ],
)
async def test_statistics_refusals(client, teams, username, params, status, code):
    response = await fetch(client, username, **params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    assert "卡斯" not in response.text


async def test_the_workbook_has_the_same_totals_as_the_json(client, teams):
    rep = await statistics(client, "county", year="2025", quarter="1")
    response = await fetch(client, "county", year="2025", quarter="1", format="xlsx")
    assert response.status_code == 200
    assert (
        "人民调解案件统计" in response.headers["content-disposition"]
        or "filename*" in response.headers["content-disposition"]
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[0] == "说明"
    for sec in rep["sections"]:
        sheet = book[sec["title"]]
        header = [c.value for c in sheet[1]]
        assert header == [c["label"] for c in sec["columns"]]
        assert sheet.freeze_panes == "A2"
        if sec["totals"] is None:
            assert sheet.max_row == len(sec["rows"]) + 1 + (2 if sec["note"] else 0)
            continue
        totals = [c.value for c in sheet[len(sec["rows"]) + 2]]
        assert totals[0] == "合计"
        for column, value in zip(sec["columns"], totals, strict=True):
            if column["type"] in ("int", "number"):
                assert value == sec["totals"][column["key"]], (sec["key"], column["key"])


async def test_the_printable_page_shows_the_table(client, teams):
    response = await fetch(client, "tianyuan", year="2025", quarter="1", format="html")
    assert response.status_code == 200
    page = response.text
    assert "<h1>田园镇人民调解案件统计</h1>" in page
    assert "主要指标" not in page
    assert "一、按纠纷类别" in page and "五、零上报" in page
    assert "防止民转刑" in page and "委托移送·法院" in page
