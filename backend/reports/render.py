"""A report as a printable Chinese A4 page or an XLSX download, and the file name it goes by."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from backend.reports import xlsx
from backend.reports.schemas import Column, Report

FORMATS = ("json", "html", "xlsx")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NUMERALS = "零一二三四五六七八九十"

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}%"


def _cell(column: Column, value: Any) -> Markup:
    if column.type == "percent":
        low = value is not None and value < 90
        return Markup('<td class="n{}">{}</td>').format(" low" if low else "", pct(value))
    if column.type in ("int", "number"):
        text = "—" if value is None else (f"{value:.2f}" if column.type == "number" else str(value))
        return Markup('<td class="n">{}</td>').format(text)
    if column.type == "datetime" and value:
        return Markup("<td>{}</td>").format(value[:16].replace("T", " "))
    return Markup("<td>{}</td>").format("" if value is None else value)


def _numeral(n: int) -> str:
    return _NUMERALS[n] if n <= 10 else f"十{_NUMERALS[n - 10]}"


def area_name(report: Report) -> str:
    return xlsx.area_name(report, report.county)


def html(report: Report) -> str:
    # Section numbers follow 一、主要指标 when there are rates, so the first section is 二.
    first = 1 if report.rates else 0
    numerals = {i: _numeral(i + first) for i in range(1, len(report.sections) + 1)}
    area = area_name(report)
    # The statistics table (人民调解案件统计) is named as the 司法局 names it; the rhythm's reports as
    # the county's 矛盾纠纷 reports.
    heading = f"{area}{report.title}" if report.kind == "statistics" else f"{area}矛盾纠纷{report.title}"
    return _templates.get_template("report.html.j2").render(
        report=report, area=area, heading=heading, pct=pct, cell=_cell, numerals=numerals, escape=escape
    )


def filename(report: Report, fmt: str) -> str:
    """e.g. 日报告-2026-11-26-田园镇.xlsx"""
    return f"{report.title}-{report.period.start}-{area_name(report)}.{fmt}"


def ascii_filename(report: Report, fmt: str) -> str:
    """The fallback for clients that ignore filename*, e.g. daily-2026-11-26-{township code}.xlsx"""
    area = f"team{report.team.code}" if report.team else report.township.code if report.township else "county"
    return f"{report.kind}-{report.period.start}-{area}.{fmt}"


def content_disposition(report: Report, fmt: str, inline: bool = False) -> str:
    """RFC 6266 with an RFC 5987 filename* for the Chinese name, and an ASCII fallback."""
    kind = "inline" if inline else "attachment"
    name = quote(filename(report, fmt), safe="")
    return f"{kind}; filename=\"{ascii_filename(report, fmt)}\"; filename*=UTF-8''{name}"


def xlsx_bytes(report: Report) -> bytes:
    return xlsx.workbook(report)
