"""零上报: a team leader says the team had no dispute in a month, so the statistics can tell a team that
had nothing from one that did not report. Filing the same month again is the same report."""

from __future__ import annotations

import re
import sqlite3
from datetime import date
from typing import Any

import asyncpg
import msgspec

from backend.cases.tables import Case
from backend.core import clock
from backend.core.errors import AppError, Forbidden, InvalidRequest
from backend.core.identity import CurrentUser, Role
from backend.db import write_transaction
from backend.people.tables import Team
from backend.people.teams import TeamNotFound, team_in_reach
from backend.reports.periods import Span, span_for
from backend.reports.rates import EXCLUDED_STATES
from backend.reports.service import MAX_YEAR, MIN_YEAR
from backend.reports.tables import ZeroReport

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ZeroReportIn(msgspec.Struct, forbid_unknown_fields=True):
    month: str  # YYYY-MM, local calendar


class ZeroReportView(msgspec.Struct):
    team_id: int
    team: str
    month: str
    filed_by: int | None
    filed_at: str


class InvalidMonth(InvalidRequest):
    code = "report.invalid_month"
    message = f"月份格式应为 YYYY-MM，年份在 {MIN_YEAR} 至 {MAX_YEAR} 之间"
    message_en = f"month must be YYYY-MM, in the years {MIN_YEAR} to {MAX_YEAR}"


class FutureMonth(InvalidRequest):
    code = "report.zero_month_future"
    message = "不能为尚未开始的月份零上报"
    message_en = "A zero report is for a month that has begun"


class MonthHasCases(AppError):
    status_code = 409
    code = "report.zero_month_has_cases"
    message = "本队该月已有受理的纠纷，不能零上报"
    message_en = "The team has cases in that month: no zero report"


class ZeroReportForbidden(Forbidden):
    code = "report.zero_forbidden"
    message = "零上报由调解队长（或乡镇综治中心、县信联办）填报"
    message_en = "Zero reports are filed by team leaders (or supervisors)"


def parse_month(raw: str) -> date:
    match = _MONTH.match(raw)
    if not match or not MIN_YEAR <= int(match[1]) <= MAX_YEAR or not 1 <= int(match[2]) <= 12:
        raise InvalidMonth(details={"month": raw[:20]})
    return date(int(match[1]), int(match[2]), 1)


async def _team(user: CurrentUser, team_id: int) -> dict[str, Any]:
    """The team, if the caller may file for it: its own leader, its township's supervisors, the county."""
    if user.role not in (Role.team_leader, Role.township_supervisor, Role.county_admin):
        raise ZeroReportForbidden()
    row = await Team.select(Team.id, Team.name, Team.township_code).where(Team.id == team_id).first().run()
    if row is None:
        raise TeamNotFound()
    mine = user.role == Role.team_leader and user.team_id == team_id
    if not (mine or team_in_reach(user, row["township_code"])):
        raise TeamNotFound()  # another team is as unknown as none
    return row


async def file_zero_report(
    user: CurrentUser, team_id: int, data: ZeroReportIn
) -> tuple[ZeroReportView, bool]:
    """File (or find, when filed before) the team's zero report for a month; True when new."""
    first = parse_month(data.month)
    month = first.strftime("%Y-%m")
    if month > clock.local_now().strftime("%Y-%m"):
        raise FutureMonth(details={"month": month})
    team = await _team(user, team_id)
    try:
        return await _file(user, team, month, span_for("monthly", first))
    except (asyncpg.exceptions.UniqueViolationError, sqlite3.IntegrityError):
        # The same month filed at the same moment by another request: that one is this report.
        row = await _existing(team_id, month)
        if row is None:
            raise
        return _view(row, team), False


async def _file(
    user: CurrentUser, team: dict[str, Any], month: str, span: Span
) -> tuple[ZeroReportView, bool]:
    team_id = team["id"]
    async with write_transaction():
        existing = await _existing(team_id, month)
        if existing is not None:
            return _view(existing, team), False
        has_cases = (
            await Case.exists()
            .where(
                (Case.owner_team == team_id)
                & (Case.reported_at >= span.since)
                & (Case.reported_at < span.until)
                & Case.state.not_in(list(EXCLUDED_STATES))
            )
            .run()
        )
        if has_cases:
            raise MonthHasCases(details={"month": month})
        await ZeroReport.insert(
            ZeroReport(team=team_id, month=month, filed_by=user.id, filed_at=clock.now())
        ).run()
        row = await _existing(team_id, month)
        assert row is not None  # inserted above, in this transaction
    return _view(row, team), True


async def _existing(team_id: int, month: str) -> dict[str, Any] | None:
    return (
        await ZeroReport.select()
        .where((ZeroReport.team == team_id) & (ZeroReport.month == month))
        .first()
        .run()
    )


def _view(row: dict[str, Any], team: dict[str, Any]) -> ZeroReportView:
    return ZeroReportView(
        team_id=team["id"],
        team=team["name"],
        month=row["month"],
        filed_by=row["filed_by"],
        filed_at=row["filed_at"].astimezone(clock.LOCAL_TZ).isoformat(timespec="seconds"),
    )
