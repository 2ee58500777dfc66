"""The reports' JSON shapes (shared contract of issue 8): every report is a title, a period, rates and
generic sections, so the HTML page, the XLSX workbook and the PWA render any of them the same way."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from backend.supervision.schemas import SupervisionCounts

ColumnType = Literal["text", "int", "percent", "date", "datetime", "number"]


class Rate(msgspec.Struct):
    key: str
    name: str
    value: float | None  # percent, truncated to 2 decimals; None when the denominator is 0
    numerator: int
    denominator: int
    definition: str


class Column(msgspec.Struct):
    key: str
    label: str
    type: ColumnType = "text"


class Section(msgspec.Struct):
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    note: str | None = None  # how the section was made (shown under its title)


class Period(msgspec.Struct):
    start: str
    end: str
    label: str


class Area(msgspec.Struct):
    code: str
    name: str


class Report(msgspec.Struct):
    kind: str
    title: str
    period: Period
    township: Area | None
    generated_at: str
    rates: list[Rate]
    sections: list[Section]
    county: str = ""  # the county's name, for the whole-county title and file name
    team: Area | None = None  # a team leader's report: only that team's cases (code: the team's id)


class Scope(msgspec.Struct):
    level: str  # county | township | village | team | own
    code: str | None
    name: str


class Counts(msgspec.Struct):
    new: int
    accepted: int
    mediating: int
    resolved: int
    closed: int
    overdue: int
    visits_due: int
    visits_done: int


class TrendPoint(msgspec.Struct):
    week_start: str
    new: int
    closed: int


class CategoryCount(msgspec.Struct):
    code: str
    name: str
    count: int


class Dashboard(msgspec.Struct):
    scope: Scope
    counts: Counts
    rates: list[Rate]
    trend: list[TrendPoint]
    categories: list[CategoryCount]
    supervision: SupervisionCounts | None = None  # 督办 orders open, red and awaiting acceptance
