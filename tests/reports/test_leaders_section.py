"""季调度's 领导包案 section against a small fixture counted by hand: per leader, the cases of the report's
area in its charge, by state now, and the overdue ones (those still in mediation past their deadline).

The fixture (made here; the report fixture's cases have no leader, so they do not show):
  A 田园镇, in mediation since 11-20, deadline 12-20        leader 周光荣 (tianyuan_leader)
  B 田园镇, in mediation since 10-01, deadline 10-31: overdue  leader 周光荣
  C 田园镇, closed 11-21                                    leader 刘建国 (county_leader)
  D 卡斯镇, reported, not yet accepted                       leader 刘建国
  E 田园镇, in mediation, no leader                          (not listed)
The report is asked for on 2026-11-23 (Q4 2026)."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from tests.factories import KASI_POINT, act, auth, make_case, tokens_for
from tests.notify.support import close_case_at
from tests.reports.support import report, section

SH = clock.LOCAL_TZ
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
COLUMNS = [
    "leader",
    "leader_area",
    "cases",
    "reported",
    "mediating",
    "resolved",
    "closed",
    "other",
    "overdue",
]


async def _mediating(client, at: datetime) -> dict:
    with clock.frozen(at):
        case = await make_case(client, "mediator1", occurred_at=at.isoformat())
        assert (await act(client, "leader1", case["id"], "accept")).status_code == 200
    return case


async def _charge(client, who: str, case_id: str, leader: str) -> None:
    leader_id = (await tokens_for(client, leader))["user"]["id"]
    with clock.frozen(NOW):
        response = await act(client, who, case_id, "assign_leader", user_id=leader_id)
    assert response.status_code == 200, response.text


async def _fixture(client) -> dict[str, dict]:
    a = await _mediating(client, datetime(2026, 11, 20, 9, 0, tzinfo=SH))
    b = await _mediating(client, datetime(2026, 10, 1, 9, 0, tzinfo=SH))
    c = await close_case_at(client, datetime(2026, 11, 21, 10, 0, tzinfo=SH))
    with clock.frozen(NOW):
        d = await make_case(client, "mediator2", point=KASI_POINT)
    await _mediating(client, datetime(2026, 11, 22, 9, 0, tzinfo=SH))  # E: no leader
    await _charge(client, "tianyuan", a["id"], "tianyuan_leader")
    await _charge(client, "tianyuan", b["id"], "tianyuan_leader")
    await _charge(client, "county", c["id"], "county_leader")
    await _charge(client, "county", d["id"], "county_leader")
    return {"a": a, "b": b, "c": c, "d": d}


def _rows(rep: dict) -> list[list]:
    return [[r[k] for k in COLUMNS] for r in section(rep, "leaders")["rows"]]


async def test_the_quarterly_lists_each_leaders_cases_by_state_with_the_overdue_ones(client):
    cases = await _fixture(client)
    county = await report(client, "county", "quarterly", now=NOW, date="2026-11-23")
    leaders = section(county, "leaders")
    assert leaders["title"] == "领导包案"
    # 周光荣 first: one overdue.
    assert _rows(county) == [
        ["周光荣", "田园镇", 2, 0, 2, 0, 0, 0, 1],
        ["刘建国", "县领导", 2, 1, 0, 0, 1, 0, 0],
    ]
    assert [r["overdue_cases"] for r in leaders["rows"]] == [cases["b"]["number"], ""]
    totals = leaders["totals"]
    assert [totals[k] for k in COLUMNS] == ["合计", None, 4, 1, 2, 0, 1, 0, 1]

    # 田园镇's supervisor and its leader: the township's cases only (the county leader's 卡斯镇 case is
    # not theirs to see); 卡斯镇's supervisor: that one alone.
    for who in ("tianyuan", "tianyuan_leader"):
        township = await report(client, who, "quarterly", now=NOW, date="2026-11-23")
        assert _rows(township) == [
            ["周光荣", "田园镇", 2, 0, 2, 0, 0, 0, 1],
            ["刘建国", "县领导", 1, 0, 0, 0, 1, 0, 0],
        ]
    kasi = await report(client, "kasi", "quarterly", now=NOW, date="2026-11-23")
    assert _rows(kasi) == [["刘建国", "县领导", 1, 1, 0, 0, 0, 0, 0]]


async def test_a_past_quarter_lists_only_the_cases_reported_by_its_end(client):
    await _fixture(client)
    q3 = await report(client, "county", "quarterly", now=NOW, date="2026-09-15")
    assert _rows(q3) == []  # every fixture case was reported on or after 1 October
    html = await client.get(
        "/api/reports/quarterly",
        params={"date": "2026-11-23", "format": "html"},
        headers=await auth(client, "county"),
    )
    assert html.status_code == 200 and "领导包案" in html.text and "周光荣" in html.text
