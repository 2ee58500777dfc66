"""Report periods: local (Asia/Shanghai) dates, turned into UTC instants once, here.

Timestamps are stored in UTC; a local day starts at 16:00 UTC the day before. Comparing the stored
instants with the period's UTC bounds works the same on both engines (SQLite stores UTC ISO text, which
sorts like time), where grouping by a date computed in SQL would need per-engine time-zone functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from backend.core import clock
from backend.reports.schemas import Period

KINDS = ("daily", "weekly", "monthly", "quarterly")
TITLES = {"daily": "日报告", "weekly": "周分析", "monthly": "月排查", "quarterly": "季调度"}


def utc_start(day: date) -> datetime:
    """The instant a local day begins."""
    return datetime.combine(day, time(0), tzinfo=clock.LOCAL_TZ).astimezone(UTC)


def today() -> date:
    return clock.local_now().date()


@dataclass(frozen=True)
class Span:
    """Local dates start..end inclusive, and the UTC instants [since, until)."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return utc_start(self.start)

    @property
    def until(self) -> datetime:
        return utc_start(self.end + timedelta(days=1))

    def previous(self) -> Span:
        """The span of the same length just before (week over week)."""
        length = self.end - self.start + timedelta(days=1)
        return Span(self.start - length, self.start - timedelta(days=1))


def span_for(kind: str, day: date) -> Span:
    """The local day, ISO week (Mon–Sun), calendar month or calendar quarter containing `day`."""
    if kind == "daily":
        return Span(day, day)
    if kind == "weekly":
        monday = day - timedelta(days=day.weekday())
        return Span(monday, monday + timedelta(days=6))
    if kind == "monthly":
        return Span(day.replace(day=1), _month_end(day.year, day.month))
    first_month = 3 * ((day.month - 1) // 3) + 1
    return Span(date(day.year, first_month, 1), _month_end(day.year, first_month + 2))


def _month_end(year: int, month: int) -> date:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return following - timedelta(days=1)


def label(kind: str, span: Span) -> str:
    s, e = span.start, span.end
    if kind == "daily":
        return f"{s.year}年{s.month}月{s.day}日"
    if kind == "weekly":
        iso = s.isocalendar()
        return f"{iso.year}年第{iso.week}周（{s.month}月{s.day}日—{e.month}月{e.day}日）"
    if kind == "monthly":
        return f"{s.year}年{s.month}月"
    return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"


def period(kind: str, span: Span) -> Period:
    return Period(start=span.start.isoformat(), end=span.end.isoformat(), label=label(kind, span))


def last_twelve_months(day: date) -> Span:
    """The dashboard's window: the 12 months ending on `day` (29 February falls back a day)."""
    try:
        year_ago = day.replace(year=day.year - 1)
    except ValueError:
        year_ago = day.replace(year=day.year - 1, day=28)
    return Span(year_ago + timedelta(days=1), day)


def weeks_back(day: date, n: int) -> list[Span]:
    """The last n ISO weeks, oldest first, the last one containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return [
        Span(monday - timedelta(weeks=k), monday - timedelta(weeks=k) + timedelta(days=6))
        for k in range(n - 1, -1, -1)
    ]
