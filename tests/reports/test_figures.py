"""Report figures against the hand-built fixture (tests/reports/fixture.py), whose answers are known."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from tests.reports import fixture
from tests.reports.support import local_date, rates, report, reported_between, row, section

pytestmark = pytest.mark.usefixtures("report_data")

TIANYUAN, KASI = fixture.TIANYUAN, fixture.KASI
# The headline figures of the quarter, written out by hand (truncated, never rounded: 95/120 = 79.1666…).
Q2_TIANYUAN_RATES = {
    "closure": (95.37, 227, 238),
    "resolution": (96.63, 230, 238),
    "visit": (79.16, 95, 120),
    "satisfaction": (94.44, 85, 90),
    "face_to_face": (67.0, 67, 100),
}


async def test_quarterly_rates_of_a_township(client):
    rep = await report(client, "tianyuan", "quarterly", date="2024-05-15")
    assert rep["kind"] == "quarterly" and rep["title"] == "季调度"
    assert rep["period"] == {"start": "2024-04-01", "end": "2024-06-30", "label": "2024年第2季度"}
    assert rep["township"] == {"code": TIANYUAN, "name": "田园镇"}
    assert rates(rep) == Q2_TIANYUAN_RATES
    towns = section(rep, "townships")
    assert [r["township"] for r in towns["rows"]] == ["田园镇"]
    tianyuan = towns["rows"][0]
    assert (tianyuan["rank"], tianyuan["cases"], tianyuan["closed"]) == (1, 238, 227)
    assert {k: tianyuan[k] for k in Q2_TIANYUAN_RATES} == {k: v[0] for k, v in Q2_TIANYUAN_RATES.items()}
    assert tianyuan["avg_days"] == 5.0
    teams = section(rep, "teams")
    (team,) = teams["rows"]
    assert team["team"].startswith("报表测试红色调解队") and team["cases"] == 238 and team["closure"] == 95.37


async def test_county_quarterly_ranks_all_13_townships(client):
    rep = await report(client, "county", "quarterly", date="2024-06-30")
    assert rep["township"] is None
    towns = section(rep, "townships")
    assert len(towns["rows"]) == 13
    assert len({r["township"] for r in towns["rows"]}) == 13
    assert [(r["rank"], r["township"], r["cases"]) for r in towns["rows"][:2]] == [
        (1, "卡斯镇", 10),
        (2, "田园镇", 238),
    ]
    kasi = row(towns, "township", "卡斯镇")
    assert (kasi["closure"], kasi["avg_days"], kasi["visit"]) == (100.0, 3.0, None)
    # Townships without a case that quarter are listed, unranked, with no rates ("—").
    idle = towns["rows"][2:]
    assert all(r["rank"] is None and r["cases"] == 0 and r["closure"] is None for r in idle)
    assert towns["totals"]["cases"] == 248 and towns["totals"]["closed"] == 237
    assert rates(rep)["closure"] == (95.56, 237, 248)
    # 卡斯镇's cases have no team: they are ranked as one row of their own.
    teams = section(rep, "teams")
    assert sorted(r["cases"] for r in teams["rows"]) == [10, 238]


async def test_daily_counts_by_local_day_around_midnight(client):
    late, early = fixture.CASES[0], fixture.CASES[1]
    # 23:30 and 00:30 in Changning are 15:30 and 16:30 on the same UTC day: only local days split them.
    assert late.reported_at.date() == early.reported_at.date() == date(2024, 5, 15)
    numbers = {}
    for day, case in ((date(2024, 5, 15), late), (date(2024, 5, 16), early)):
        rep = await report(client, "tianyuan", "daily", date=day.isoformat())
        assert rep["period"]["label"] == f"2024年5月{day.day}日"
        counts = section(rep, "by_township")["rows"]
        assert len(counts) == 1
        expected_closed = sum(
            1
            for c in fixture.CASES
            if c.township == TIANYUAN and c.closed_at and c.closed_at.astimezone(fixture.SH).date() == day
        )
        assert counts[0] == {
            "township": "田园镇",
            "new": 1,
            "accepted": 1,
            "closed": expected_closed,
            "overdue": 4,
            "big": 1 if case is late else 0,
        }
        big = section(rep, "big_cases")["rows"]
        numbers[day] = [r["number"] for r in big]
        assert rep["rates"][0]["denominator"] == 1
    assert len(numbers[date(2024, 5, 15)]) == 1 and numbers[date(2024, 5, 16)] == []
    (big_row,) = section(await report(client, "tianyuan", "daily", date="2024-05-15"), "big_cases")["rows"]
    assert big_row["reported_at"] == "2024-05-15T23:30+08:00"
    assert big_row["level"] == "大事" and big_row["state"] == "已办结"
    assert big_row["responsible"].startswith("报表调解员（报表测试红色调解队")


async def test_county_daily_lists_every_township(client):
    rep = await report(client, "county", "daily", date="2024-05-15")
    counts = section(rep, "by_township")
    assert len(counts["rows"]) == 13
    assert row(counts, "township", "卡斯镇")["big"] == 1
    assert counts["totals"]["new"] == 2 and counts["totals"]["big"] == 2
    assert sorted(r["township"] for r in section(rep, "big_cases")["rows"]) == ["卡斯镇", "田园镇"]


async def test_weekly_week_over_week_hotspots_and_repeats(client, report_data):
    rep = await report(client, "tianyuan", "weekly", date="2024-05-15")
    assert rep["period"]["start"] == "2024-05-13" and rep["period"]["end"] == "2024-05-19"
    this_week = reported_between(TIANYUAN, date(2024, 5, 13), date(2024, 5, 19))
    last_week = reported_between(TIANYUAN, date(2024, 5, 6), date(2024, 5, 12))
    names = {"neighbour": "邻里纠纷", "forest_land": "山林土地", "marriage_family": "婚姻家庭"}
    by_category = section(rep, "by_category")
    for code, name in names.items():
        r = row(by_category, "category", name)
        new = sum(c.category == code for c in this_week)
        previous = sum(c.category == code for c in last_week)
        assert (r["new"], r["previous"], r["change"]) == (new, previous, new - previous)
    assert by_category["totals"]["new"] == len(this_week) == 18
    assert by_category["totals"]["previous"] == len(last_week) == 21
    town = section(rep, "by_township")["rows"]
    assert town == [
        {
            "township": "田园镇",
            "new": 18,
            "previous": 21,
            "change": -3,
            "closed": town[0]["closed"],
            "overdue": 4,
        }
    ]
    closed_this_week = sum(
        1
        for c in fixture.CASES
        if c.township == TIANYUAN
        and c.closed_at
        and date(2024, 5, 13) <= c.closed_at.astimezone(fixture.SH).date() <= date(2024, 5, 19)
    )
    assert town[0]["closed"] == closed_this_week
    (hot,) = section(rep, "hotspots")["rows"]  # the fixture puts a township's cases in one grid
    assert hot["rank"] == 1 and hot["new"] == 18 and hot["township"] == "田园镇" and hot["grid"]

    repeated = section(rep, "repeated")["rows"]
    kinds = Counter(r["kind"] for r in repeated)
    assert kinds == {"同一当事人": 1, "相邻地点": 1}
    party = row(section(rep, "repeated"), "kind", "同一当事人")
    assert party["count"] == 2 and "110105********002X" in party["subject"]
    place = row(section(rep, "repeated"), "kind", "相邻地点")
    assert place["count"] == 2 and place["subject"].endswith("相邻（彼此相距100米内相连）")
    week_cases = [c for c in this_week if c.state in fixture.CLOSED]
    assert set(place["cases"].split("、")) == {report_data["numbers"][c.id] for c in week_cases[2:4]}
    assert set(party["cases"].split("、")) == {report_data["numbers"][c.id] for c in week_cases[:2]}


async def test_weekly_reports_never_show_party_data(client):
    for user in ("tianyuan", "county"):
        rep = await report(client, user, "weekly", date="2024-05-15")
        text = str(rep)
        assert fixture.PARTY_ID not in text and "张建华" not in text


async def test_monthly_screening(client):
    rep = await report(client, "tianyuan", "monthly", date="2024-05-31")
    assert rep["period"] == {"start": "2024-05-01", "end": "2024-05-31", "label": "2024年5月"}
    (summary,) = section(rep, "summary")["rows"]
    # 8 cases reported on 10 April still unresolved at the end of May (4 mediating and overdue, one of
    # them with a sync conflict); 2+2 cases in repeated disputes; 8 visits due in May still pending.
    assert summary == {
        "township": "田园镇",
        "unresolved": 8,
        "overdue": 4,
        "conflicts": 1,
        "repeated": 4,
        "visits_overdue": 8,
    }
    assert section(rep, "summary")["totals"]["unresolved"] == 8
    unresolved = section(rep, "unresolved")["rows"]
    assert len(unresolved) == 8
    assert Counter(r["state"] for r in unresolved) == {"调解中": 4, "已登记": 4}
    assert all(r["days_open"] == (date(2024, 6, 1) - date(2024, 4, 10)).days - 1 for r in unresolved)
    overdue = section(rep, "overdue")["rows"]
    assert len(overdue) == 4 and all(r["responsible"].startswith("报表调解员") for r in overdue)
    assert len(section(rep, "conflicts")["rows"]) == 1
    visits = section(rep, "visits_overdue")["rows"]
    assert len(visits) == 8 and all(r["due_date"] < "2024-06-01" for r in visits)
    assert all(r["responsible"].startswith("报表调解员") for r in visits)
    # Older than 60 days at the end of May means reported before 2 April: none of them.
    longer = await report(client, "tianyuan", "monthly", date="2024-05-31", days=60)
    assert section(longer, "summary")["rows"][0]["unresolved"] == 0
    assert section(longer, "unresolved")["rows"] == []


async def test_monthly_of_june_counts_the_visits_overdue_by_its_end(client):
    rep = await report(client, "tianyuan", "monthly", date="2024-06-15")
    # All 20 pending Q2 visits are late by 1 July; the July ones are not yet due.
    assert section(rep, "summary")["rows"][0]["visits_overdue"] == 20
    assert rep["rates"][2]["denominator"] == sum(
        1 for v in fixture.VISITS if v.state != "cancelled" and date(2024, 6, 1) <= v.due <= date(2024, 6, 30)
    )


def test_fixture_is_what_the_figures_say():
    cohort = fixture.cohort(TIANYUAN)
    assert len(cohort) == 238 and sum(c.state in fixture.CLOSED for c in cohort) == 227
    assert all(local_date(c) not in fixture.BOUNDARY_DAYS for c in fixture.CASES[2:227])
    assert min(local_date(c) for c in cohort) == date(2024, 4, 1)
    assert max(local_date(c) for c in cohort) <= date(2024, 4, 1) + timedelta(days=90)
