"""Helpers of the report tests: fetch a report with the clock fixed, and find things in it."""

from __future__ import annotations

from datetime import date
from typing import Any

from backend.core import clock
from tests.factories import auth
from tests.reports import fixture


async def fetch(client, username: str, kind: str, now=fixture.REPORT_NOW, **params: Any):
    with clock.frozen(now):
        return await client.get(f"/api/reports/{kind}", params=params, headers=await auth(client, username))


async def report(client, username: str, kind: str, **params: Any) -> dict[str, Any]:
    response = await fetch(client, username, kind, **params)
    assert response.status_code == 200, response.text
    return response.json()


def rates(rep: dict[str, Any]) -> dict[str, tuple[float | None, int, int]]:
    return {r["key"]: (r["value"], r["numerator"], r["denominator"]) for r in rep["rates"]}


def section(rep: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in rep["sections"] if s["key"] == key)


def row(sec: dict[str, Any], column: str, value: Any) -> dict[str, Any]:
    return next(r for r in sec["rows"] if r[column] == value)


def local_date(c: fixture.CaseSpec) -> date:
    return c.reported_at.astimezone(fixture.SH).date()


def reported_between(
    township: str, start: date, end: date, *, merged: bool = False
) -> list[fixture.CaseSpec]:
    """New cases as the reports count them: reported in [start, end], merged ones left out."""
    return [
        c
        for c in fixture.CASES
        if c.township == township and start <= local_date(c) <= end and (merged or c.state != "merged")
    ]
