"""Who may see which report, and the same report as XLSX and as a printable HTML page."""

from __future__ import annotations

import io
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from backend.reports.rates import DEFINITIONS
from tests.reports import fixture
from tests.reports.support import fetch, report, section

pytestmark = pytest.mark.usefixtures("report_data")

KINDS = ("daily", "weekly", "monthly", "quarterly")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_township_supervisor_sees_only_the_township(client, kind):
    rep = await report(client, "tianyuan", kind, date="2024-05-15")
    assert rep["township"] == {"code": fixture.TIANYUAN, "name": "田园镇"}
    for sec in rep["sections"]:
        for r in sec["rows"]:
            if "township" in r:
                assert r["township"] in ("田园镇", ""), (sec["key"], r)
    # Asking for it by code is the same report.
    same = await report(client, "tianyuan", kind, date="2024-05-15", township=fixture.TIANYUAN)
    assert same["sections"] == rep["sections"]


@pytest.mark.parametrize("kind", KINDS)
async def test_another_township_is_not_found(client, kind):
    for code in (fixture.KASI, "999999999999"):
        response = await fetch(client, "tianyuan", kind, date="2024-05-15", township=code)
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "report.township_not_found" and "乡镇" in body["message"]
        assert "卡斯" not in response.text


async def test_the_county_may_pick_one_township(client):
    rep = await report(client, "county", "daily", date="2024-05-15", township=fixture.KASI)
    assert rep["township"]["name"] == "卡斯镇"
    assert [r["township"] for r in section(rep, "by_township")["rows"]] == ["卡斯镇"]


async def test_a_mediator_may_not_see_reports(client):
    response = await fetch(client, "mediator1", "daily")
    assert response.status_code == 403
    assert response.json()["code"] == "report.forbidden"


@pytest.mark.parametrize(
    ("kind", "params", "status", "code"),
    [
        ("yearly", {}, 404, "report.unknown_kind"),
        ("daily", {"date": "2024-13-01"}, 400, "report.invalid_date"),
        ("daily", {"format": "pdf"}, 400, "report.invalid_format"),
        ("monthly", {"days": 0}, 400, "report.invalid_days"),
    ],
)
async def test_bad_requests_have_stable_codes(client, kind, params, status, code):
    response = await fetch(client, "county", kind, **params)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["message"]


def _filename(response) -> str:
    disposition = response.headers["content-disposition"]
    return unquote(disposition.split("filename*=UTF-8''", 1)[1])


def _sheet_rows(ws) -> list[list]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _as_json(column: dict, value):
    if value == "—":
        return None
    if column["type"] == "percent":
        return round(value * 100, 2)
    return value


@pytest.mark.parametrize(
    ("user", "kind"), [("county", "quarterly"), ("county", "daily"), ("tianyuan", "monthly")]
)
async def test_xlsx_opens_and_its_totals_equal_the_json(client, user, kind):
    rep = await report(client, user, kind, date="2024-05-15")
    response = await fetch(client, user, kind, date="2024-05-15", format="xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    area = "昌宁县" if user == "county" else "田园镇"
    assert _filename(response) == f"{rep['title']}-{rep['period']['start']}-{area}.xlsx"
    assert 'filename="' in response.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(response.content))
    assert len(wb.worksheets) == 1 + len(rep["sections"])
    rates_sheet = wb.worksheets[0]
    assert rates_sheet.freeze_panes == "A2"
    for r, rate in zip(_sheet_rows(rates_sheet)[1:6], rep["rates"], strict=True):
        assert r[0] == rate["name"] and _as_json({"type": "percent"}, r[1]) == rate["value"]
        assert (r[2], r[3]) == (rate["numerator"], rate["denominator"])
    for ws, sec in zip(wb.worksheets[1:], rep["sections"], strict=True):
        rows = _sheet_rows(ws)
        assert rows[0][: len(sec["columns"])] == [c["label"] for c in sec["columns"]]
        assert ws.freeze_panes == "A2"
        for j, c in enumerate(sec["columns"], 1):
            if c["type"] == "percent" and sec["rows"]:
                assert ws.cell(row=2, column=j).number_format in ("0.00%", "General")
        if sec["totals"] is None:
            assert len([r for r in rows[1:] if r[0] is not None and not str(r[0]).startswith("说明")]) == len(
                sec["rows"]
            )
            continue
        totals = rows[len(sec["rows"]) + 1]
        for c, value in zip(sec["columns"], totals, strict=False):
            assert _as_json(c, value) == sec["totals"][c["key"]], (sec["key"], c["key"])
        # A chart of the table, and rates under 90% in red.
        assert ws._charts
        if any(c["type"] == "percent" for c in sec["columns"]):
            assert ws.conditional_formatting


async def test_xlsx_ranking_cells_are_percentages(client):
    response = await fetch(client, "tianyuan", "quarterly", date="2024-05-15", format="xlsx")
    ws = load_workbook(io.BytesIO(response.content)).worksheets[1]
    header = [c.value for c in ws[1]]
    closure = ws.cell(row=2, column=header.index("办结率") + 1)
    assert closure.number_format == "0.00%" and round(closure.value * 100, 2) == 95.37


async def test_html_is_a_printable_chinese_page_with_the_definitions(client):
    response = await fetch(client, "tianyuan", "quarterly", date="2024-05-15", format="html")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert _filename(response) == "季调度-2024-04-01-田园镇.html"
    page = response.text
    assert "<title>田园镇季调度 2024年第2季度</title>" in page
    assert "田园镇矛盾纠纷季调度" in page and "2024年第2季度" in page and "@page" in page
    for name, definition in DEFINITIONS.values():
        assert name in page and definition in page
    assert "95.37%" in page and "79.16%" in page and "乡镇排名" in page and "调解队排名" in page
    assert fixture.PARTY_ID not in page


async def test_html_daily_lists_the_big_case(client):
    response = await fetch(client, "county", "daily", date="2024-05-15", format="html")
    page = response.text
    assert "昌宁县矛盾纠纷日报告" in page and "大事案件" in page and "2024-05-15 23:30" in page


def test_the_readme_states_the_same_definitions():
    from backend.settings import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for key, (name, definition) in DEFINITIONS.items():
        assert f"| {name} | `{key}` | {definition} |" in readme
