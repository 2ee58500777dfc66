"""人民调解案件统计: the statistics table a county sends the 司法局, for a year or a quarter.

The cases counted are those reported in the period (less rejected and merged ones, as every report's
cohort), by the national statistics category their county category maps to, with their outcome **as
of the period's end** (a table run again later says what it said then):
- 调解成功: an agreement was reached before the period ended (resolved_at; a reopened case loses it);
- 调解不成功: not that, and failed or referred (the legal route) before the period ended (such states
  have no timestamp of their own; updated_at is at or after the change, see queries._open_at);
- 正在调解: the rest.
Agreements (written or oral) and the amount involved count the successful ones; the prevention counts
(防止民转刑、防止群体性上访、防止群体性械斗) the cases closed before the period ended with that flag set.
Every figure is one SQL aggregate on both engines; the teams with no case are listed with the months
they filed a zero report (零上报) for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from piccolo.querystring import QueryString

from backend.cases.fields import GROUP_DISPUTE, REFERRERS, SOURCES
from backend.core import clock
from backend.core.errors import InvalidRequest
from backend.core.identity import AREA_READERS, CurrentUser
from backend.db import read_transaction
from backend.grids import county
from backend.people.tables import Team
from backend.reports import periods
from backend.reports.queries import EXCLUDED_IN, Filter, q, run
from backend.reports.schemas import Column, Period, Report, Section
from backend.reports.service import MAX_YEAR, MIN_YEAR, Area, ReportsForbidden, generated_at, report_area
from backend.reports.tables import ZeroReport

KIND = "statistics"
TITLE = "人民调解案件统计"
UNMAPPED = "未分类"
NO_SOURCE = "未登记来源"
NO_TEAM = "（无调解队）"


class InvalidYear(InvalidRequest):
    code = "report.invalid_year"
    message = f"年份应为 {MIN_YEAR} 至 {MAX_YEAR} 之间的整数"
    message_en = f"year must be an integer from {MIN_YEAR} to {MAX_YEAR}"


class InvalidQuarter(InvalidRequest):
    code = "report.invalid_quarter"
    message = "季度应为 1、2、3 或 4"
    message_en = "quarter must be 1, 2, 3 or 4"


def parse_period(year: str | None, quarter: str | None) -> tuple[periods.Span, str]:
    """The local dates of a year or one of its quarters (default: this year), and its label. Taken as
    text so a 20-digit year is a clear 400, not an overflow."""
    if year is None or year == "":
        y = periods.today().year
    else:
        if not (year.isascii() and year.isdigit() and len(year) == 4 and MIN_YEAR <= int(year) <= MAX_YEAR):
            raise InvalidYear(details={"year": year[:20]})
        y = int(year)
    if quarter is None or quarter == "":
        return periods.Span(date(y, 1, 1), date(y, 12, 31)), f"{y}年"
    if quarter not in ("1", "2", "3", "4"):
        raise InvalidQuarter(details={"quarter": quarter[:20]})
    span = periods.span_for("quarterly", date(y, 3 * int(quarter) - 2, 1))
    return span, f"{y}年第{quarter}季度"


def months_of(span: periods.Span) -> list[str]:
    """The months (YYYY-MM) a span covers."""
    out, y, m = [], span.start.year, span.start.month
    while date(y, m, 1) <= span.end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# --- the agreement's form and amount, each one SQL expression over case_agreement.


def agreement_form_sql() -> str:
    """'written', 'oral' or NULL (no agreement) for the row's case_agreement."""
    # Agreements from before the written/oral form (form '') were written and signed.
    return (
        "CASE WHEN case_agreement.id IS NULL THEN NULL "
        "WHEN case_agreement.form = 'oral' THEN 'oral' ELSE 'written' END"
    )


def agreement_amount_sql() -> str:
    """The amount involved (yuan) of the row's agreement, NULL when none is recorded."""
    return "case_agreement.amount_yuan"


# --- SQL --------------------------------------------------------------------------------------------

_GROUPS = {
    "category": f"COALESCE(case_category.national_category, '{UNMAPPED}')",
    "township": "dispute_case.township_code",
    "team": "dispute_case.owner_team",
}
# People involved: as recorded, else the parties' count (cases logged before the field existed).
_PEOPLE = (
    "COALESCE(dispute_case.people_involved, "
    '(SELECT COUNT(*) FROM case_party WHERE case_party."case" = dispute_case.id))'
)
_FROM = (
    "FROM dispute_case "
    "LEFT JOIN case_category ON case_category.code = dispute_case.category "
    'LEFT JOIN case_agreement ON case_agreement."case" = dispute_case.id '
)


def _cohort(span: periods.Span) -> QueryString:
    return q(
        f"dispute_case.reported_at >= {{}} AND dispute_case.reported_at < {{}} "
        f"AND dispute_case.state NOT IN {EXCLUDED_IN}",
        span.since,
        span.until,
    )


def _sum_when(condition: QueryString, alias: str, value: str = "1") -> QueryString:
    return q(f"SUM(CASE WHEN {{}} THEN {value} ELSE 0 END) AS {alias}", condition)


async def _counts(flt: Filter, span: periods.Span, group: str) -> dict[Any, dict[str, Any]]:
    until = span.until
    success = q("dispute_case.resolved_at IS NOT NULL AND dispute_case.resolved_at < {}", until)
    failed = q(
        "NOT ({}) AND dispute_case.state IN ('failed', 'referred') AND dispute_case.updated_at < {}",
        success,
        until,
    )
    form = agreement_form_sql()

    def closed_with(flag: str) -> QueryString:
        return q(
            "dispute_case.closed_at IS NOT NULL AND dispute_case.closed_at < {} "
            f"AND dispute_case.{flag} = {{}}",
            until,
            True,
        )

    figures = [
        _sum_when(success, "success"),
        _sum_when(failed, "failed"),
        _sum_when(q(f"{{}} AND {form} = 'written'", success), "written"),
        _sum_when(q(f"{{}} AND {form} = 'oral'", success), "oral"),
        _sum_when(success, "amount", f"COALESCE({agreement_amount_sql()}, 0)"),
        q(f"SUM({_PEOPLE}) AS people"),
        _sum_when(q(f"{_PEOPLE} >= {GROUP_DISPUTE}"), "group_disputes"),
        _sum_when(closed_with("prevented_criminal"), "criminal"),
        _sum_when(closed_with("prevented_group_petition"), "petition"),
        _sum_when(closed_with("prevented_group_fight"), "fight"),
    ]
    rows = await run(
        q(
            f"SELECT {_GROUPS[group]} AS g, COUNT(*) AS cases, "
            + ", ".join(["{}"] * len(figures))
            + f" {_FROM}WHERE {{}} AND {{}} GROUP BY {_GROUPS[group]}",
            *figures,
            flt.case_where(),
            _cohort(span),
        )
    )
    out = {}
    for r in rows:
        counts: dict[str, Any] = {k: int(r[k] or 0) for k in FIGURES if k not in ("in_progress", "amount")}
        counts["in_progress"] = counts["cases"] - counts["success"] - counts["failed"]
        counts["amount"] = float(r["amount"] or 0)
        out[r["g"]] = counts
    return out


async def _sources(flt: Filter, span: periods.Span) -> dict[tuple[str | None, str | None], int]:
    rows = await run(
        q(
            "SELECT dispute_case.source AS source, dispute_case.referred_by AS referrer, COUNT(*) AS n "
            "FROM dispute_case WHERE {} AND {} "
            "GROUP BY dispute_case.source, dispute_case.referred_by",
            flt.case_where(),
            _cohort(span),
        )
    )
    return {(r["source"], r["referrer"]): int(r["n"]) for r in rows}


# --- layout -----------------------------------------------------------------------------------------

# The figures of every table row, in the 司法局 table's order.
FIGURES = {
    "cases": "受理件数",
    "success": "调解成功",
    "failed": "调解不成功",
    "in_progress": "正在调解",
    "written": "书面协议",
    "oral": "口头协议",
    "amount": "涉及金额（元）",
    "people": "涉及人数",
    "group_disputes": "群体性纠纷",
    "criminal": "防止民转刑",
    "petition": "防止群体性上访",
    "fight": "防止群体性械斗",
}


def _figure_columns() -> list[Column]:
    return [Column(key=k, label=v, type="number" if k == "amount" else "int") for k, v in FIGURES.items()]


def _zero() -> dict[str, Any]:
    return {k: 0.0 if k == "amount" else 0 for k in FIGURES}


def _totals(label_key: str, rows: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict:
    totals: dict[str, Any] = {label_key: "合计", **(extra or {})}
    for k in FIGURES:
        totals[k] = sum(r[k] for r in rows)
    return totals


@dataclass(frozen=True)
class TeamRef:
    id: int
    name: str
    township_code: str | None


async def _teams(area: Area) -> list[TeamRef]:
    """The active teams a table covers: the township's own, or every team for the whole county."""
    query = Team.select(Team.id, Team.name, Team.township_code).where(Team.active == True)  # noqa: E712
    if area.township is not None:
        query = query.where(Team.township_code == area.township.code)
    rows = await query.order_by(Team.township_code).order_by(Team.name).run()
    return [TeamRef(r["id"], r["name"], r["township_code"]) for r in rows]


async def _zero_reports(team_ids: list[int], months: list[str]) -> dict[int, list[str]]:
    if not team_ids:
        return {}
    rows = (
        await ZeroReport.select(ZeroReport.team, ZeroReport.month)
        .where(ZeroReport.team.is_in(team_ids) & ZeroReport.month.is_in(months))
        .order_by(ZeroReport.month)
        .run()
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r["team"], []).append(r["month"])
    return out


def _month_label(month: str) -> str:
    return f"{int(month[5:])}月"


async def build(user: CurrentUser, year: str | None, quarter: str | None, township: str | None) -> Report:
    """The statistics table for the user's area (township supervisors their township, the county
    office any township or all). It is the committees' return to the 司法局, listing every team of the
    area and who filed 零上报: not a team leader's (they read the four reports of their own team)."""
    if user.role not in AREA_READERS:  # the area's leaders read it too
        raise ReportsForbidden()
    span, label = parse_period(year, quarter)
    area = await report_area(user, township)
    flt = area.filter
    months = months_of(span)
    # A zero report is due for every month of the period that has begun.
    this_month = clock.local_now().strftime("%Y-%m")
    due_months = [m for m in months if m <= this_month]
    async with read_transaction():
        by_category = await _counts(flt, span, "category")
        by_township = await _counts(flt, span, "township")
        by_team = await _counts(flt, span, "team")
        sources = await _sources(flt, span)
        teams = await _teams(area)
        zero = await _zero_reports([t.id for t in teams], months)
    names = area.township_names
    figure_columns = _figure_columns()

    category_rows = [{"category": k, **v} for k, v in sorted(by_category.items(), key=lambda kv: str(kv[0]))]
    township_rows = [{"township": name, **by_township.get(code, _zero())} for code, name in names.items()]
    if None in by_township:  # cases placed in no township (outside every grid) count too
        township_rows.append({"township": "未定位", **by_township[None]})
    team_names = {t.id: t for t in teams}
    team_rows = [
        {
            "team": t.name,
            "township": names.get(t.township_code or "", "县级"),
            **by_team.get(t.id, _zero()),
        }
        for t in teams
    ]
    # Cases owned by a team now inactive or outside the list (or by no team) still count in the totals.
    for key, counts in by_team.items():
        if key not in team_names:
            team_rows.append({"team": NO_TEAM if key is None else "其他调解队", "township": "", **counts})

    def by_source(code: str | None) -> int:
        return sum(n for (s, _), n in sources.items() if s == code)

    source_rows = []
    for code, name in SOURCES.items():
        if code == "referral":
            for ref, ref_name in [*REFERRERS.items(), (None, "未注明")]:
                source_rows.append({"source": f"{name}·{ref_name}", "count": sources.get((code, ref), 0)})
        else:
            source_rows.append({"source": name, "count": by_source(code)})
    source_rows.append({"source": NO_SOURCE, "count": by_source(None)})

    zero_rows = []
    for t in teams:
        if t.id in by_team:
            continue
        filed = zero.get(t.id, [])
        missing = [m for m in due_months if m not in filed]
        zero_rows.append(
            {
                "team": t.name,
                "township": names.get(t.township_code or "", "县级"),
                "filed": "、".join(_month_label(m) for m in filed) or "—",
                "missing": "、".join(_month_label(m) for m in missing) or "—",
                "status": "已零上报" if not missing else "未报告",
            }
        )

    sections = [
        Section(
            key="by_category",
            title="按纠纷类别",
            columns=[Column(key="category", label="纠纷类别"), *figure_columns],
            rows=category_rows,
            totals=_totals("category", category_rows),
            note="受理件数为期内登记的纠纷（不含不予受理、已合并）；调解结果、协议和防止件数截至期末。",
        ),
        Section(
            key="by_source",
            title="按纠纷来源",
            columns=[Column(key="source", label="来源"), Column(key="count", label="件数", type="int")],
            rows=source_rows,
            totals={"source": "合计", "count": sum(r["count"] for r in source_rows)},
        ),
        Section(
            key="by_township",
            title="按乡镇",
            columns=[Column(key="township", label="乡镇"), *figure_columns],
            rows=township_rows,
            totals=_totals("township", township_rows),
        ),
        Section(
            key="by_team",
            title="按调解队",
            columns=[
                Column(key="team", label="调解队"),
                Column(key="township", label="乡镇"),
                *figure_columns,
            ],
            rows=team_rows,
            totals=_totals("team", team_rows, {"township": ""}),
        ),
        Section(
            key="zero_reports",
            title="零上报",
            columns=[
                Column(key="team", label="调解队"),
                Column(key="township", label="乡镇"),
                Column(key="filed", label="已零上报月份"),
                Column(key="missing", label="未报告月份"),
                Column(key="status", label="状态"),
            ],
            rows=zero_rows,
            note="期内没有受理案件的调解队，须由队长按月零上报。",
        ),
    ]
    return Report(
        kind=KIND,
        title=TITLE,
        period=Period(start=span.start.isoformat(), end=span.end.isoformat(), label=label),
        township=area.township,
        generated_at=generated_at(),
        rates=[],
        sections=sections,
        county=(await county.require()).name,
    )
