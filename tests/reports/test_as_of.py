"""Figures as of a past instant, 回访率 on the due day, chains of neighbouring places, cases located
outside every township, and dates out of range: against the fixture's 2023 Q1 set (fixture.EXTRA_CASES)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from piccolo.querystring import QueryString

from backend.db import DB, engine_name
from tests.reports import fixture
from tests.reports.support import fetch, rates, report, row, section

pytestmark = pytest.mark.usefixtures("report_data")

KASI = fixture.KASI
D = fixture.OVERDUE_DAY


def _noon(day) -> datetime:
    return datetime.combine(day, time(12), tzinfo=fixture.SH)


async def _kasi(client, kind: str, day, now: datetime, **params) -> dict:
    return await report(client, "county", kind, now=now, date=day.isoformat(), township=KASI, **params)


async def test_a_past_daily_report_counts_a_case_overdue_then_and_closed_since(client):
    # Overdue all of day D, closed on D+1; the report of D is run again on D+2.
    assert fixture.LATE_CLOSED.deadline < fixture.local(D, 0) < fixture.local(D + timedelta(days=1), 0)
    assert fixture.LATE_CLOSED.closed_at.astimezone(fixture.SH).date() == D + timedelta(days=1)
    rep = await _kasi(client, "daily", D, _noon(D + timedelta(days=2)))
    assert row(section(rep, "by_township"), "township", "卡斯镇")["overdue"] == 1
    # The day after it closed, it is no longer overdue.
    later = await _kasi(client, "daily", D + timedelta(days=2), _noon(D + timedelta(days=2)))
    assert row(section(later, "by_township"), "township", "卡斯镇")["overdue"] == 0


async def test_a_past_weekly_report_counts_it_too(client):
    # The week of 20–26 February ends before the case was closed.
    rep = await _kasi(client, "weekly", D - timedelta(days=6), _noon(D + timedelta(days=2)))
    assert rep["period"]["end"] == "2023-02-26"
    assert row(section(rep, "by_township"), "township", "卡斯镇")["overdue"] == 1


async def test_a_past_monthly_screening_is_as_of_the_month_end(client, report_data):
    # February's screening, run on 5 March: at the end of February the case was unresolved (reported
    # 1 Feb, more than 20 days before) and overdue, and the visit due 15 Feb was not done (done 2 March).
    rep = await _kasi(client, "monthly", D, _noon(D + timedelta(days=5)), days=20)
    summary = row(section(rep, "summary"), "township", "卡斯镇")
    assert (summary["unresolved"], summary["overdue"], summary["visits_overdue"]) == (1, 1, 1)
    number = report_data["numbers"][fixture.LATE_CLOSED.id]
    assert [r["number"] for r in section(rep, "unresolved")["rows"]] == [number]
    assert [r["number"] for r in section(rep, "overdue")["rows"]] == [number]
    (visit,) = section(rep, "visits_overdue")["rows"]
    assert visit["number"] == report_data["numbers"][fixture.VISITED_LATE.id]
    assert visit["due_date"] == "2023-02-15" and visit["days_overdue"] == 14
    # Conflicts have no timestamp: the column says they are as they stand now.
    labels = {c["key"]: c["label"] for c in section(rep, "summary")["columns"]}
    assert labels["conflicts"] == "当前冲突"
    # March's screening (as of now, 5 March): closed and visited, nothing is left.
    march = await _kasi(client, "monthly", D + timedelta(days=5), _noon(D + timedelta(days=5)), days=20)
    summary = row(section(march, "summary"), "township", "卡斯镇")
    assert (summary["unresolved"], summary["overdue"], summary["visits_overdue"]) == (0, 0, 0)


async def test_a_visit_due_today_and_pending_is_not_yet_missed(client):
    # Two visits due on VISIT_DAY: one done that morning (on time), one still pending at noon.
    day = fixture.VISIT_DAY
    rep = await _kasi(client, "daily", day, _noon(day))
    assert rates(rep)["visit"] == (100.0, 1, 1)
    # The next day the pending one is late.
    rep = await _kasi(client, "daily", day, _noon(day + timedelta(days=1)))
    assert rates(rep)["visit"] == (50.0, 1, 2)


async def test_neighbouring_places_are_labelled_as_a_chain(client, report_data):
    rep = await _kasi(
        client, "weekly", fixture.CHAIN[0].reported_at.astimezone(fixture.SH).date(), _noon(fixture.VISIT_DAY)
    )
    repeated = section(rep, "repeated")
    place = row(repeated, "kind", "相邻地点")
    # Three cases, each within 100 m of the next, the ends 160 m apart: one group, labelled as a chain.
    assert place["count"] == 3
    assert set(place["cases"].split("、")) == {report_data["numbers"][c.id] for c in fixture.CHAIN}
    assert place["subject"].endswith("相邻（彼此相距100米内相连）") and "100米范围内" not in str(rep)
    # Two of them share a phone: found through the week's own parties, masked.
    party = row(repeated, "kind", "同一当事人")
    assert party["count"] == 2 and "13912345678" not in party["subject"] and "5678" in party["subject"]


async def test_quarterly_rows_add_up_to_the_total_with_unlocated_cases(client):
    rep = await report(client, "county", "quarterly", now=_noon(fixture.VISIT_DAY), date="2023-02-01")
    towns = section(rep, "townships")
    unlocated = row(towns, "township", "未定位")
    assert unlocated["cases"] == 1 and unlocated["rank"] is None and towns["rows"][-1] is unlocated
    assert row(towns, "township", "卡斯镇")["cases"] == 5
    for key in ("cases", "closed"):
        assert sum(r[key] for r in towns["rows"]) == towns["totals"][key] == 6
    # One township asked for: no such row.
    one = await _kasi(client, "quarterly", fixture.VISIT_DAY, _noon(fixture.VISIT_DAY))
    assert [r["township"] for r in section(one, "townships")["rows"]] == ["卡斯镇"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly", "quarterly"])
async def test_dates_out_of_range_are_a_400(client, kind, day):
    response = await fetch(client, "county", kind, date=day)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "report.invalid_date"


@pytest.mark.parametrize("day", ["2000-01-01", "2100-12-31"])
async def test_dates_at_the_ends_of_the_range_are_reports(client, day):
    for kind in ("daily", "weekly", "monthly", "quarterly"):
        response = await fetch(client, "county", kind, date=day)
        assert response.status_code == 200, response.text


async def test_the_html_footer_says_what_is_and_is_not_listed(client):
    response = await fetch(client, "county", "daily", date="2024-05-15", format="html")
    page = response.text
    assert "不含当事人个人信息" not in page
    assert "不列出当事人的姓名、电话和身份证号" in page and "纠纷标题为工作人员登记时所填原文" in page


async def test_cases_are_indexed_by_the_time_they_were_reported(database):
    if engine_name() == "postgresql":
        rows = await DB.run_querystring(
            QueryString("SELECT indexdef AS sql FROM pg_indexes WHERE indexname = 'dispute_case_reported_at'")
        )
    else:
        rows = await DB.run_querystring(
            QueryString(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'dispute_case_reported_at'"
            )
        )
    assert len(rows) == 1 and "reported_at" in rows[0]["sql"]
