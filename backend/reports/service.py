"""Reports: who may see which area, and the dashboard. The four reports are built in builders.py.
Knows nothing of HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.cases.categories import category_names
from backend.cases.scope import scoped, visible_to
from backend.cases.tables import Case
from backend.core import clock
from backend.core.errors import AppError, Forbidden, InvalidRequest
from backend.core.identity import AREA_READERS, TEAM_ROLES, CurrentUser, Role
from backend.db import read_transaction
from backend.grids import county
from backend.grids.tables import Division
from backend.people.tables import Team
from backend.reports import periods, queries, schemas
from backend.supervision import service as supervision
from backend.visits import service as visits
from backend.visits.tables import Visit

MAX_DAYS = 3650


class TownshipNotFound(AppError):
    # 404, not 403: a supervisor must not learn which other codes exist.
    status_code = 404
    code = "report.township_not_found"
    message = "未找到该乡镇，或该乡镇不在您的管辖范围内"
    message_en = "No such township in your area"


class ReportsForbidden(Forbidden):
    code = "report.forbidden"
    message = "报表仅供调解队长、乡镇综治中心和县信联办查看"
    message_en = "Reports are for team leaders, township supervisors and the county office"


class UnknownReport(AppError):
    status_code = 404
    code = "report.unknown_kind"
    message = "没有这种报表（可选：日报告 daily、周分析 weekly、月排查 monthly、季调度 quarterly）"
    message_en = "Unknown report: daily, weekly, monthly or quarterly"


MIN_YEAR, MAX_YEAR = 2000, 2100


class InvalidDate(InvalidRequest):
    code = "report.invalid_date"
    message = f"日期格式应为 YYYY-MM-DD，年份在 {MIN_YEAR} 至 {MAX_YEAR} 之间"
    message_en = f"date must be YYYY-MM-DD, in the years {MIN_YEAR} to {MAX_YEAR}"


class InvalidDays(InvalidRequest):
    code = "report.invalid_days"
    message = f"天数应为 1 到 {MAX_DAYS} 之间的整数"
    message_en = f"days must be an integer from 1 to {MAX_DAYS}"


def parse_date(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidDate(details={"date": raw}) from None
    # A period must stay inside what dates and instants can hold (year 1 or 9999 overflow).
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidDate(details={"date": raw})
    return day


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidDays(details={"days": days})
    return days


# --- scope ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """What a report covers: the user's scoping conditions plus, optionally, one township."""

    filter: queries.Filter
    township: schemas.Area | None  # None: the whole county (or the user's own scope, on the dashboard)
    township_names: dict[str, str]  # every township the report may list, by code, in code order
    team: schemas.Area | None = None  # a team leader's report: the team's cases only


async def township_names() -> dict[str, str]:
    rows = await (
        Division.select(Division.code, Division.name)
        .where(Division.level == "township")
        .order_by(Division.code)
        .run()
    )
    return {r["code"]: r["name"] for r in rows}


async def report_area(user: CurrentUser, township: str | None) -> Area:
    """The four reports: township supervisors and leaders see their township, the county office and
    county leaders any or all, a team leader their team's cases (what `visible_to` gives them, as on
    their dashboard and map)."""
    if user.role == Role.team_leader and user.team_id is not None:
        return await _team_area(user, township)
    if user.role not in AREA_READERS:
        raise ReportsForbidden()
    if user.scope_level == "township":  # a township's supervisor or leader: the township's
        township = township or user.scope_code
    return await _area(user, township)


async def _area(user: CurrentUser, township: str | None) -> Area:
    names = await township_names()
    if township is not None:
        if township not in names or not user.in_area(township):
            raise TownshipNotFound(details={"township": township})
    flt = queries.Filter(cases=visible_to(user), visits=visits.visible_to(user), township=township)
    area = schemas.Area(code=township, name=names[township]) if township else None
    listed = {township: names[township]} if township else names
    return Area(filter=flt, township=area, township_names=listed)


async def _team_area(user: CurrentUser, township: str | None) -> Area:
    """A team leader's report: the team's cases, listed under the team's township and any other township
    one of its cases lies in (a member may log a case across the boundary), so the rows add up to the
    totals. Another township (or one with none of the team's cases) is "not found", like elsewhere."""
    team = await Team.select(Team.name, Team.township_code).where(Team.id == user.team_id).first().run()
    cases = visible_to(user)
    located = await scoped(Case.select(Case.township_code), user).distinct().run()
    codes = {r["township_code"] for r in located if r["township_code"]}
    if team and team["township_code"]:
        codes.add(team["township_code"])
    names = {code: name for code, name in (await township_names()).items() if code in codes}
    if township is not None and township not in names:
        raise TownshipNotFound(details={"township": township})
    listed = {township: names[township]} if township else names
    return Area(
        # Visits of the team's cases only (not also those assigned to the leader on another team's case).
        filter=queries.Filter(
            cases=cases, visits=Visit.case.is_in(scoped(Case.select(Case.id), user)), township=township
        ),
        township=schemas.Area(code=township, name=names[township]) if township else None,
        township_names=listed,
        team=schemas.Area(code=str(user.team_id), name=team["name"] if team else ""),
    )


# --- the dashboard --------------------------------------------------------------------------------


async def _dashboard_scope(user: CurrentUser, area: Area) -> schemas.Scope:
    if area.township is not None:
        return schemas.Scope(level="township", code=area.township.code, name=area.township.name)
    if user.role == Role.county_admin:
        return schemas.Scope(level="county", code=None, name=(await county.require()).name)
    if user.role in TEAM_ROLES and user.team_id is not None:
        team = await Team.select(Team.name).where(Team.id == user.team_id).first().run()
        return schemas.Scope(level="team", code=str(user.team_id), name=team["name"] if team else "")
    division = await Division.select(Division.name).where(Division.code == user.scope_code).first().run()
    return schemas.Scope(
        level=user.scope_level, code=user.scope_code, name=division["name"] if division else user.scope_code
    )


async def dashboard(user: CurrentUser, township: str | None = None) -> schemas.Dashboard:
    """Any role, in their own scope: today's new cases, cases by state, visits, the five rates over
    the last 12 months, a 12-week trend and the categories."""
    area = await _area(user, township)
    now = clock.now()
    today = periods.today()
    day = periods.Span(today, today)
    year = periods.last_twelve_months(today)
    weeks = periods.weeks_back(today, 12)
    flt = area.filter
    async with read_transaction():
        counts = await queries.state_counts(flt, now, day)
        counts.update(await queries.visit_counts(flt, day))
        rates = await queries.rate_counts(flt, year, today)
        trend = await queries.weekly_trend(flt, weeks)
        by_category = await queries.category_counts(flt, year)
        names = await category_names()
        scope = await _dashboard_scope(user, area)
        supervision_counts = await supervision.counts(case_condition(flt))
    return schemas.Dashboard(
        scope=scope,
        counts=schemas.Counts(**counts),
        rates=rates.rates(),
        trend=[
            schemas.TrendPoint(week_start=w.start.isoformat(), **t) for w, t in zip(weeks, trend, strict=True)
        ],
        categories=[
            schemas.CategoryCount(code=code, name=names.get(code, code), count=n)
            for code, n in sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        supervision=supervision_counts,
    )


def case_condition(flt: queries.Filter) -> Any:
    """The filter's cases as one Case condition (None: all of them)."""
    condition = flt.cases
    if flt.township:
        township = Case.township_code == flt.township
        condition = township if condition is None else condition & township
    return condition


# --- helpers shared by the builders ----------------------------------------------------------------

STATE_NAMES = {
    "reported": "已登记",
    "accepted": "已受理",
    "rejected": "不予受理",
    "referred": "已移交",
    "mediating": "调解中",
    "resolved": "已化解",
    "failed": "调解未成",
    "closed": "已办结",
    "reopened": "重新调解",
    "archived": "已归档",
    "merged": "已合并",
}
LEVEL_NAMES = {"small": "小事", "hard": "难事", "big": "大事"}
OWNER_NAMES = {"township": "乡镇综治中心", "county": "县信联办"}


def responsible(row: dict[str, Any], mediator_key: str, team_key: str, owner_level: str | None) -> str:
    """The staff member answerable for a case: its mediator (and team), else the team, else the office
    that owns it. Never a party."""
    mediator, team = row.get(mediator_key), row.get(team_key)
    if mediator and team:
        return f"{mediator}（{team}）"
    return mediator or team or OWNER_NAMES.get(owner_level or "", "")


def local_iso(at: datetime | None) -> str | None:
    return at.astimezone(clock.LOCAL_TZ).isoformat(timespec="minutes") if at else None


def generated_at() -> str:
    return clock.local_now().isoformat(timespec="seconds")
