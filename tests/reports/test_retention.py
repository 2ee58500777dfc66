"""Retention on the report fixture: anonymising the parties and texts of old archived cases changes no
figure of any report (only the titles listed, which become 已匿名化), and a second run finds nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import auth
from tests.reports import fixture
from tests.reports.support import report

pytestmark = pytest.mark.usefixtures("report_data")

# Five years after every fixture case was archived (they were in 2023 and 2024).
LATER = datetime(2030, 6, 1, tzinfo=UTC)
REPORTS = (
    ("daily", "2024-05-15"),
    ("weekly", "2024-05-15"),
    ("monthly", "2024-05-15"),
    ("quarterly", "2024-05-15"),
)


def figures(rep: dict[str, Any]) -> dict[str, Any]:
    """The report without the case titles its lists show (text, which retention replaces)."""
    out = dict(rep)
    out.pop("generated_at", None)
    out["sections"] = [
        {**s, "rows": [{k: v for k, v in r.items() if k != "title"} for r in s["rows"]]}
        for s in rep["sections"]
    ]
    return out


async def all_reports(client) -> dict[str, Any]:
    return {kind: figures(await report(client, "county", kind, date=day)) for kind, day in REPORTS}


async def test_anonymising_old_archived_cases_changes_no_figure(client):
    from backend.cases.tables import Case
    from backend.ops import retention

    archived = {c.id for c in fixture.CASES + fixture.EXTRA_CASES if c.state == "archived"}
    assert archived, "the fixture has archived cases"
    before = await all_reports(client)
    titles = {r["id"]: r["title"] for r in await Case.select(Case.id, Case.title).run()}

    planned = await retention.run(5, dry_run=True, now=LATER)
    assert set(planned.cases) == archived
    assert {r["id"]: r["title"] for r in await Case.select(Case.id, Case.title).run()} == titles

    done = await retention.run(5, now=LATER)
    assert set(done.cases) == archived
    assert await all_reports(client) == before
    after = {r["id"]: r["title"] for r in await Case.select(Case.id, Case.title).run()}
    assert {i for i, t in after.items() if t != titles[i]} == archived
    assert {after[i] for i in archived} == {retention.REDACTED}

    assert (await retention.run(5, now=LATER)).cases == []
    audit = (
        await client.get("/api/audit", params={"limit": 500}, headers=await auth(client, "county"))
    ).json()
    assert sum(a["action"] == "case.anonymise" for a in audit) == len(archived)
    assert [a["detail"] for a in audit if a["action"] == "retention.run"] == [
        {"cases": len(archived), "years": 5}
    ]


async def test_a_case_archived_less_long_ago_is_kept():
    from backend.ops import retention

    # 2024-06-30 + 5 years: the quarter's archived cases are not due yet on 2029-01-01.
    assert (await retention.run(5, dry_run=True, now=datetime(2029, 1, 1, tzinfo=UTC))).cases == []
    assert (await retention.run(0, now=LATER)).cases == []  # 0: retention off
