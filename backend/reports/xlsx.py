"""A report as an Excel workbook (xlsxwriter): a sheet for the rates and one per section, Chinese
headers, the header row frozen, widths fitted to the text, percentages as real percent cells, rates
under 90% in red, a totals row, and a bar chart on each table that has totals.

xlsxwriter rather than openpyxl: it writes a 6,000-row screening list about three times as fast.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from backend.reports.schemas import Column, Report, Section

# Below this a rate is flagged red (the county's target for its headline rates).
RATE_TARGET = 0.9
NONE = "—"
NUMBER_FORMATS = {
    "percent": "0.00%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "number": "0.00",
    "int": "0",
}
NUMERIC = ("percent", "number", "int")


# Column widths are fitted to the header, the totals and this many rows (a long list's columns are as
# wide as its first rows: measuring every cell of a 6,000-row list cost more than writing it).
WIDTH_SAMPLE = 200


def _width(value: Any) -> int:
    # CJK characters take two columns in Excel's default fonts.
    text = str(value) if value is not None else ""
    if text.isascii():
        return len(text)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet_title(title: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", "", title)[:28] or "表"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:26]}{n}", n + 1
    used.add(name)
    return name


class _Formats:
    """xlsxwriter wants each combination of styles as one Format, made once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.wb = wb
        self.cache: dict[tuple[str, bool], Format] = {}
        self.header = wb.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "align": "center", "valign": "vcenter", "text_wrap": True}
        )
        self.bold = wb.add_format({"bold": True})
        self.red = wb.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE"})

    def cell(self, type_: str, totals: bool) -> Format | None:
        key = (type_, totals)
        if key not in self.cache:
            props: dict[str, Any] = {}
            if type_ in NUMBER_FORMATS:
                props["num_format"] = NUMBER_FORMATS[type_]
            if type_ in NUMERIC:
                props["align"] = "right"
            if totals:
                props.update({"bold": True, "bg_color": "#F2F2F2", "top": 1})
            self.cache[key] = self.wb.add_format(props) if props else None
        return self.cache[key]


def _write(ws: Worksheet, i: int, j: int, column: Column, value: Any, fmt: Format | None) -> None:
    if value is None:
        if column.type in NUMERIC:
            ws.write_string(i, j, NONE, fmt)
        else:
            ws.write_blank(i, j, None, fmt)
    elif column.type == "percent":
        ws.write_number(i, j, value / 100, fmt)
    elif column.type in ("int", "number"):
        ws.write_number(i, j, value, fmt)
    elif column.type == "datetime":
        # Excel has no time zones: the local (Asia/Shanghai) wall time, as printed in the HTML.
        ws.write_datetime(i, j, datetime.fromisoformat(value).replace(tzinfo=None), fmt)
    elif column.type == "date":
        ws.write_datetime(i, j, datetime.combine(date.fromisoformat(value), datetime.min.time()), fmt)
    else:
        # Always a string: a title typed as "=HYPERLINK(...)" must not become a formula.
        ws.write_string(i, j, str(value), fmt)


def _write_table(
    ws: Worksheet,
    formats: _Formats,
    columns: list[Column],
    rows: list[dict[str, Any]],
    totals: dict[str, Any] | None,
) -> int:
    """Header in row 1 (frozen), the rows, then the totals row; returns the number of data rows."""
    widths = [_width(c.label) for c in columns]
    for j, c in enumerate(columns):
        ws.write_string(0, j, c.label, formats.header)
    body = rows + ([totals] if totals else [])
    for i, row in enumerate(body, 1):
        is_totals = totals is not None and i == len(body)
        for j, c in enumerate(columns):
            value = row.get(c.key)
            _write(ws, i, j, c, value, formats.cell(c.type, is_totals))
            if i <= WIDTH_SAMPLE or is_totals:
                widths[j] = max(widths[j], _width(value) + (2 if c.type == "percent" else 0))
    for j, w in enumerate(widths):
        ws.set_column(j, j, min(max(w + 2, 8), 60))
    ws.freeze_panes(1, 0)
    for j, c in enumerate(columns):
        if c.type == "percent" and body:
            ws.conditional_format(
                1,
                j,
                len(body),
                j,
                {"type": "cell", "criteria": "<", "value": RATE_TARGET, "format": formats.red},
            )
    return len(rows)


def _chart(wb: xlsxwriter.Workbook, ws: Worksheet, section: Section, n_rows: int) -> None:
    """A bar chart of the table's first rate (or else its first count) by its label column."""
    numeric = [c for c in section.columns if c.type == "percent"] or [
        c for c in section.columns if c.type == "int" and c.key != "rank"
    ]
    labels = [j for j, c in enumerate(section.columns) if c.type == "text"]
    if not numeric or not labels or n_rows < 1:
        return
    value_col = section.columns.index(numeric[0])
    chart = wb.add_chart({"type": "bar"})  # horizontal bars: long Chinese names stay readable
    chart.add_series(
        {
            "name": numeric[0].label,
            "categories": [ws.name, 1, labels[0], n_rows, labels[0]],
            "values": [ws.name, 1, value_col, n_rows, value_col],
            "fill": {"color": "#4472C4"},
        }
    )
    chart.set_title({"name": f"{section.title}：{numeric[0].label}", "name_font": {"size": 11}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"reverse": True})  # the first row on top, as in the table
    if numeric[0].type == "percent":
        chart.set_x_axis({"num_format": "0%"})
    ws.insert_chart(1, len(section.columns) + 1, chart, {"y_scale": max(1.0, (n_rows * 18 + 60) / 288)})


def area_name(report: Report, whole: str) -> str:
    """What the report covers, for titles and file names: a team (in a township), a township, or `whole`."""
    if report.team is not None:
        return f"{report.team.name}（{report.township.name}）" if report.township else report.team.name
    return report.township.name if report.township else whole


def workbook(report: Report) -> bytes:
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    formats = _Formats(wb)
    used: set[str] = set()
    # A report without rates (the statistics table) opens on a sheet that only says what it is.
    ws = wb.add_worksheet(_sheet_title("指标" if report.rates else "说明", used))
    rate_columns = [
        Column(key="name", label="指标"),
        Column(key="value", label="数值", type="percent"),
        Column(key="numerator", label="分子", type="int"),
        Column(key="denominator", label="分母", type="int"),
        Column(key="definition", label="口径"),
    ]
    rate_rows = [
        {
            "name": r.name,
            "value": r.value,
            "numerator": r.numerator,
            "denominator": r.denominator,
            "definition": r.definition,
        }
        for r in report.rates
    ]
    n = _write_table(ws, formats, rate_columns, rate_rows, None) if report.rates else -2
    area = area_name(report, f"{report.county}（全县）")
    info = [
        ("报表", report.title),
        ("期间", report.period.label),
        ("范围", area),
        ("生成时间", report.generated_at.replace("T", " ")[:16]),
    ]
    for k, (label, value) in enumerate(info, n + 2):
        ws.write_string(k, 0, label, formats.bold)
        ws.write_string(k, 1, value)
    for section in report.sections:
        ws = wb.add_worksheet(_sheet_title(section.title, used))
        n = _write_table(ws, formats, section.columns, section.rows, section.totals)
        if section.totals is not None:
            _chart(wb, ws, section, n)
        if section.note:
            ws.write_string(n + (3 if section.totals else 2), 0, f"说明：{section.note}")
    wb.close()
    return buffer.getvalue()
