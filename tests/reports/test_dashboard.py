"""GET /api/reports/dashboard: counts, rates and trend in the caller's own scope.

The fixture's mediator sees exactly the fixture's 田园镇 cases (their team owns them, and the test's
database holds no other cases), so every figure is known; the clock is fixed at noon on 30 June 2024."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from backend.core import clock
from tests.factories import auth, bearer, login
from tests.reports import fixture
from tests.reports.support import local_date

NOW = fixture.DASHBOARD_NOW
TODAY = NOW.date()


async def _dashboard(client, headers, **params):
    with clock.frozen(NOW):
        return await client.get("/api/reports/dashboard", params=params, headers=headers)


@pytest.fixture
async def mediator(client, report_data):
    return bearer(await login(client, report_data["username"], report_data["password"]))


async def test_dashboard_of_a_team(client, mediator, report_data):
    response = await _dashboard(client, mediator)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"]["level"] == "team" and body["scope"]["name"].startswith("报表测试红色调解队")
    mine = [c for c in fixture.CASES if c.township == fixture.TIANYUAN and c.state != "merged"]
    assert body["counts"] == {
        "new": sum(local_date(c) == TODAY for c in mine),
        "accepted": 0,
        "mediating": 4,
        "resolved": 3,
        "closed": 227,
        "overdue": 4,
        "visits_due": 20,
        "visits_done": 0,
    }
    assert body["counts"]["new"] == 2
    rates = {r["key"]: (r["value"], r["numerator"], r["denominator"]) for r in body["rates"]}
    assert rates == {
        "closure": (95.37, 227, 238),
        "resolution": (96.63, 230, 238),
        "visit": (79.16, 95, 120),
        "satisfaction": (94.44, 85, 90),
        "face_to_face": (67.0, 67, 100),
    }
    assert all(r["definition"] and r["name"] for r in body["rates"])

    trend = body["trend"]
    assert len(trend) == 12 and trend[-1]["week_start"] == "2024-06-24"
    assert [t["week_start"] for t in trend] == [
        (date(2024, 6, 24) - timedelta(weeks=11 - k)).isoformat() for k in range(12)
    ]
    for point in trend:
        start = date.fromisoformat(point["week_start"])
        end = start + timedelta(days=6)
        assert point["new"] == sum(start <= local_date(c) <= end for c in mine)
        assert point["closed"] == sum(
            c.closed_at is not None and start <= c.closed_at.astimezone(fixture.SH).date() <= end
            for c in mine
        )
    assert sum(t["new"] for t in trend) > 100

    expected = Counter(c.category for c in fixture.cohort(fixture.TIANYUAN))
    assert {c["code"]: c["count"] for c in body["categories"]} == dict(expected)
    assert body["categories"][0] == {"code": "neighbour", "name": "邻里纠纷", "count": expected["neighbour"]}


async def test_every_role_gets_a_dashboard_in_its_scope(client):
    for user, level in (("county", "county"), ("tianyuan", "township"), ("mediator1", "team")):
        response = await _dashboard(client, await auth(client, user))
        assert response.status_code == 200, response.text
        assert response.json()["scope"]["level"] == level
    county = (await _dashboard(client, await auth(client, "county"), township=fixture.KASI)).json()
    assert county["scope"] == {"level": "township", "code": fixture.KASI, "name": "卡斯镇"}


async def test_dashboard_of_another_township_is_not_found(client, mediator):
    for headers in (await auth(client, "tianyuan"), mediator):
        response = await _dashboard(client, headers, township=fixture.KASI)
        assert response.status_code == 404
        assert response.json()["code"] == "report.township_not_found"
