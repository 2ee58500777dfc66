"""The four reports of the county's rhythm: 日报告 (daily), 周分析 (weekly), 月排查 (monthly screening),
季调度 (quarterly dispatch). Counts come from SQL (queries.py), lists from lists.py; here they are laid
out as sections."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from piccolo.columns.combination import WhereRaw

from backend.cases import supervision as orders
from backend.cases.agreement import awaiting_signature_at
from backend.cases.tables import Agreement, Case, Category
from backend.core import clock
from backend.core.identity import CurrentUser
from backend.db import read_transaction
from backend.grids import county
from backend.grids.service import region_names
from backend.people.tables import Team
from backend.reports import leaders, lists, periods, queries
from backend.reports.lists import column as _c
from backend.reports.periods import Span
from backend.reports.rates import DEFINITIONS, RateCounts
from backend.reports.schemas import Column, Report, Section
from backend.reports.service import (
    Area,
    UnknownReport,
    case_condition,
    generated_at,
    local_iso,
    report_area,
    township_names,
)
from backend.screenings import service as screenings
from backend.supervision import service as supervision

HOTSPOTS = 10
UNLOCATED = "未定位"


def _totals(columns: list[Column], rows: list[dict[str, Any]], label_key: str) -> dict[str, Any]:
    totals: dict[str, Any] = {c.key: None for c in columns}
    totals[label_key] = "合计"
    for c in columns:
        if c.type == "int" and c.key != "rank":
            totals[c.key] = sum(r.get(c.key) or 0 for r in rows)
    return totals


def _span_ref(span: Span) -> Any:
    """Snapshot figures (overdue, unresolved) are as of the period's end, or now if that is earlier."""
    return min(clock.now(), span.until)


async def build(
    user: CurrentUser, kind: str, day: date | None, township: str | None, days: int = 30
) -> Report:
    if kind not in periods.KINDS:
        raise UnknownReport(details={"kind": kind})
    area = await report_area(user, township)
    span = periods.span_for(kind, day or periods.today())
    today = periods.today()
    async with read_transaction():
        if kind == "quarterly":
            # The ranking counts by township anyway; the whole is their sum (one pass fewer).
            by_town = await queries.rate_rows(area.filter, span, today, "township")
            overall = queries.RateRow.total(by_town.values())
            sections = await _quarterly(area, span, overall, by_town)
            sections.append(await leaders.section(area, span))  # 领导包案
        else:
            overall = (await queries.rate_rows(area.filter, span, today)).get(None) or queries.RateRow()
            if kind == "daily":
                sections = await _daily(area, span)
            elif kind == "weekly":
                sections = await _weekly(area, span)
            else:
                sections = await _monthly(area, span, days)
        rates = overall.counts
    return Report(
        kind=kind,
        title=periods.TITLES[kind],
        period=periods.period(kind, span),
        township=area.township,
        generated_at=generated_at(),
        rates=rates.rates(),
        sections=sections,
        county=(await county.require()).name,
        team=area.team,
    )


# --- 日报告 ----------------------------------------------------------------------------------------


async def _daily(area: Area, span: Span) -> list[Section]:
    counts = await queries.daily_counts(area.filter, span, _span_ref(span))
    columns = [
        _c("township", "乡镇"),
        _c("new", "新增", "int"),
        _c("accepted", "受理", "int"),
        _c("closed", "办结", "int"),
        _c("overdue", "逾期", "int"),
        _c("big", "大事", "int"),
    ]
    zero = dict.fromkeys(("new", "accepted", "closed", "overdue", "big"), 0)
    rows = [{"township": name, **counts.get(code, zero)} for code, name in area.township_names.items()]
    by_township = Section(
        key="by_township",
        title="分乡镇统计",
        columns=columns,
        rows=rows,
        totals=_totals(columns, rows, "township"),
        note="新增、受理、办结按当日发生计；逾期为日终（或此刻）仍在办理且已超过期限的件数",
    )
    big = await lists.case_list(
        area,
        "big_cases",
        "大事案件",
        [
            Case.level == "big",
            Case.reported_at >= span.since,
            Case.reported_at < span.until,
            Case.state != "merged",
        ],
    )
    return [by_township, big]


# --- 周分析 ----------------------------------------------------------------------------------------


def _change_rows(label_key: str, labels: dict[str, str], counts: dict[str, dict[str, int]]) -> list[dict]:
    rows = []
    for code, name in labels.items():
        c = counts.get(code, {"new": 0, "previous": 0})
        rows.append(
            {label_key: name, "new": c["new"], "previous": c["previous"], "change": c["new"] - c["previous"]}
        )
    return rows


async def _weekly(area: Area, span: Span) -> list[Section]:
    previous = span.previous()
    flt = area.filter
    by_cat = await queries.new_by(flt, "category", span, previous)
    cats = (
        await Category.select(Category.code, Category.name, Category.active)
        .order_by(Category.sort_order)
        .run()
    )
    labels = {c["code"]: c["name"] for c in cats if c["active"] or c["code"] in by_cat}
    labels.update({code: code for code in by_cat if code not in labels})
    cat_columns = [
        _c("category", "类别"),
        _c("new", "本周新增", "int"),
        _c("previous", "上周新增", "int"),
        _c("change", "增减", "int"),
    ]
    cat_rows = _change_rows("category", labels, by_cat)
    by_town = await queries.new_by(flt, "township", span, previous)
    extra = await queries.closed_and_overdue_by_township(flt, span, _span_ref(span))
    town_columns = [
        _c("township", "乡镇"),
        _c("new", "本周新增", "int"),
        _c("previous", "上周新增", "int"),
        _c("change", "增减", "int"),
        _c("closed", "本周办结", "int"),
        _c("overdue", "逾期", "int"),
    ]
    town_rows = _change_rows("township", area.township_names, by_town)
    for row, code in zip(town_rows, area.township_names, strict=True):
        row.update(extra.get(code, {"closed": 0, "overdue": 0}))
    return [
        Section(
            key="by_category",
            title="分类别对比（周环比）",
            columns=cat_columns,
            rows=cat_rows,
            totals=_totals(cat_columns, cat_rows, "category"),
        ),
        Section(
            key="by_township",
            title="分乡镇对比（周环比）",
            columns=town_columns,
            rows=town_rows,
            totals=_totals(town_columns, town_rows, "township"),
        ),
        await _hotspots(area, span),
        await lists.repeated_section(area, span, "本周重复纠纷"),
    ]


async def _hotspots(area: Area, span: Span) -> Section:
    rows = await queries.hotspot_grids(area.filter, span, HOTSPOTS)
    names = await region_names({r["grid"] for r in rows} | {r["village"] for r in rows if r["village"]})
    columns = [
        _c("rank", "排名", "int"),
        _c("grid", "网格"),
        _c("village", "村（社区）"),
        _c("township", "乡镇"),
        _c("new", "新增", "int"),
    ]
    out = [
        {
            "rank": i,
            "grid": names.get(r["grid"], r["grid"]),
            "village": names.get(r["village"] or "", r["village"] or ""),
            "township": area.township_names.get(r["township"] or "", r["township"] or ""),
            "new": int(r["new"]),
        }
        for i, r in enumerate(rows, 1)
    ]
    return Section(key="hotspots", title=f"热点网格（新增前 {HOTSPOTS} 位）", columns=columns, rows=out)


# --- 月排查 ----------------------------------------------------------------------------------------


async def _monthly(area: Area, span: Span, days: int) -> list[Section]:
    at = _span_ref(span)
    older_than = at - timedelta(days=days)
    flt = area.filter
    counts = await queries.screening_counts(flt, at, older_than)
    groups = await lists.repeated_groups(area, span)
    repeated_ids = {str(i) for _, _, g in groups for i in g}
    repeated_by_town: dict[str, int] = defaultdict(int)
    if repeated_ids:
        for chunk_start in range(0, len(repeated_ids), 500):
            chunk = [uuid.UUID(i) for i in sorted(repeated_ids)[chunk_start : chunk_start + 500]]
            for r in await Case.select(Case.township_code).where(Case.id.is_in(chunk)):
                repeated_by_town[r["township_code"] or ""] += 1
    keys = ("unresolved", "overdue", "conflicts", "repeated", "visits_overdue")
    columns = [
        _c("township", "乡镇"),
        _c("unresolved", f"超{days}天未化解", "int"),
        _c("overdue", "逾期未结", "int"),
        _c("conflicts", "当前冲突", "int"),
        _c("repeated", "重复纠纷（件）", "int"),
        _c("visits_overdue", "回访逾期", "int"),
    ]
    rows = []
    for code, name in area.township_names.items():
        c = counts.get(code, {})
        row: dict[str, Any] = {"township": name, **{k: int(c.get(k, 0)) for k in keys}}
        row["repeated"] = repeated_by_town.get(code, 0)
        rows.append(row)
    summary = Section(
        key="summary",
        title="分乡镇排查汇总",
        columns=columns,
        rows=rows,
        totals=_totals(columns, rows, "township"),
        note=(
            f"截至{at.astimezone(clock.LOCAL_TZ):%Y年%m月%d日 %H:%M}"
            "（未化解、逾期、回访逾期按当时的办理记录计）；"
            "当前冲突为生成本表时仍待处理的数据冲突（冲突无记录时间，无法回溯）"
        ),
    )
    unresolved = await lists.case_list(
        area,
        "unresolved",
        f"超过{days}天未化解",
        [WhereRaw("{}", queries.unresolved_at(at, older_than))],
        [_c("days_open", "已登记天数", "int")],
        lambda r: {"days_open": (at - r["reported_at"]).days},
    )
    overdue = await lists.case_list(
        area,
        "overdue",
        "逾期未结",
        [WhereRaw("{}", queries.overdue_at(at)), Case.reported_at < at],
        [_c("deadline", "办理期限", "datetime"), _c("days_overdue", "逾期天数", "int")],
        lambda r: {"deadline": local_iso(r["deadline"]), "days_overdue": (at - r["deadline"]).days},
    )
    conflicts = await lists.case_list(
        area,
        "conflicts",
        "当前数据冲突（生成时仍待处理）",
        [Case.conflict.eq(True), Case.state.not_in(["merged", "archived"]), Case.reported_at < at],
    )
    # A written agreement takes effect when signed (人民调解法 art. 29): one still unsigned is followed up.
    unsigned = await lists.case_list(
        area,
        "awaiting_signature",
        "调解协议待签字",
        [
            Case.id.is_in(Agreement.select(Agreement.case).where(awaiting_signature_at(at))),
            Case.state != "merged",
        ],
    )
    return [
        summary,
        unresolved,
        overdue,
        conflicts,
        unsigned,
        await lists.repeated_section(area, span, "本月重复纠纷", groups),
        await lists.visits_overdue(area, at),
        await _supervision_section(area, span),
        *await _screening_sections(area, span),
    ]


async def _screening_sections(area: Area, span: Span) -> list[Section]:
    """Screening coverage of the month: per township and per team, and the teams that did not report."""
    month = f"{span.start.year:04d}-{span.start.month:02d}"
    code = area.township.code if area.township else None
    teams = await screenings.team_coverage(month, code)
    if area.team is not None:
        # A team leader's report: the team's own screening, under its township; no other team's.
        teams = [t for t in teams if str(t["team_id"]) == area.team.code]
        towns = {
            t["township"]: {k: t[k] for k in ("served", "screened", "leads", "cases")}
            for t in teams
            if t["township"]
        }
    else:
        towns = await screenings.township_coverage(month, code)
    figures = [
        _c("served", "服务村（社区）", "int"),
        _c("screened", "已排查村（社区）", "int"),
        _c("leads", "发现线索", "int"),
        _c("cases", "转为案件", "int"),
    ]
    town_columns = [_c("township", "乡镇"), *figures]
    town_rows = [
        {
            "township": name,
            **{k: towns.get(c, {}).get(k, 0) for k in ("served", "screened", "leads", "cases")},
        }
        for c, name in area.township_names.items()
        if c in towns
    ]
    team_columns = [_c("team", "调解队"), _c("township", "乡镇"), *figures, _c("reports", "排查报告", "int")]
    team_rows = [
        {
            "team": t["name"],
            "township": area.township_names.get(t["township"] or "", ""),
            **{k: t[k] for k in ("served", "screened", "leads", "cases", "reports")},
        }
        for t in teams
    ]
    silent = [r for r in team_rows if r["reports"] == 0]
    return [
        Section(
            key="screening_coverage",
            title="分乡镇排查覆盖",
            columns=town_columns,
            rows=town_rows,
            totals=_totals(town_columns, town_rows, "township"),
            note=f"{month} 各调解队上报的排查（含“未发现矛盾纠纷”的零报告）；已排查 = 服务村中本月有报告的",
        ),
        Section(
            key="screening_teams",
            title="各调解队排查情况",
            columns=team_columns,
            rows=team_rows,
            totals=_totals(team_columns, team_rows, "team"),
        ),
        Section(
            key="screening_missing",
            title="本月未上报排查的调解队",
            columns=[_c("team", "调解队"), _c("township", "乡镇"), _c("served", "服务村（社区）", "int")],
            rows=[{k: r[k] for k in ("team", "township", "served")} for r in silent],
        ),
    ]


async def _supervision_section(area: Area, span: Span) -> Section:
    """The month's 督办 orders: those issued in the month and those still open at its end, each with
    its state then (not now), red first."""
    items = await supervision.period_items(case_condition(area.filter), span.since, span.until)
    return Section(
        key="supervision",
        title="本月督办",
        columns=[
            _c("number", "案件编号"),
            _c("title", "案件"),
            _c("township", "乡镇"),
            _c("team", "调解队"),
            _c("issued_at", "下达日期"),
            _c("issued_by", "督办人"),
            _c("instruction", "督办要求"),
            _c("due_date", "办理期限"),
            _c("status", "状态"),
            _c("red", "红色预警"),
        ],
        rows=[
            {
                "number": i.case.number,
                "title": i.case.title,
                "township": i.case.township.name if i.case.township else "",
                "team": i.case.owner_team.name if i.case.owner_team else "",
                "issued_at": i.order.issued_at.astimezone(clock.LOCAL_TZ).date().isoformat(),
                "issued_by": i.order.issued_by or "",
                "instruction": i.order.instruction,
                "due_date": i.order.due_date.isoformat(),
                "status": orders.STATUS_NAMES.get(i.order.status, i.order.status),
                "red": orders.RED_NAMES.get(i.order.red or "", ""),
            }
            for i in items
        ],
        note="本月下达的督办和月末仍在办的督办，状态为月末（本月未过完时为生成时）的状态，红色预警在前",
    )


# --- 季调度 ----------------------------------------------------------------------------------------

RATE_KEYS = tuple(DEFINITIONS)


def _ranking_columns(label: tuple[str, str]) -> list[Column]:
    return [
        _c("rank", "排名", "int"),
        _c(*label),
        _c("cases", "登记件数", "int"),
        _c("closed", "办结件数", "int"),
        *[_c(key, DEFINITIONS[key][0], "percent") for key in RATE_KEYS],
        _c("avg_days", "平均办结天数", "number"),
    ]


def _ranking_row(label_key: str, label: str, row: queries.RateRow | None) -> dict[str, Any]:
    counts = row.counts if row else RateCounts()
    return {
        "rank": None,
        label_key: label,
        "cases": counts.cases,
        "closed": counts.closed,
        **counts.values(),
        "avg_days": row.average_days_to_close if row else None,
    }


def _rank(rows: list[dict[str, Any]], label_key: str) -> list[dict[str, Any]]:
    """By 办结率, then 化解率, then 满意率; areas with no case that quarter are listed last, unranked."""

    def key(r: dict[str, Any]) -> tuple:
        return (
            r["closure"] is None,
            -(r["closure"] or 0),
            -(r["resolution"] or 0),
            -(r["satisfaction"] or 0),
            r[label_key],
        )

    rows.sort(key=key)
    for i, r in enumerate(rows, 1):
        r["rank"] = i if r["closure"] is not None else None
    return rows


async def _quarterly(
    area: Area, span: Span, overall: queries.RateRow, by_town: dict[Any, queries.RateRow]
) -> list[Section]:
    today = periods.today()
    by_team = await queries.rate_rows(area.filter, span, today, "team")
    totals_values = {k: v for k, v in _ranking_row("", "", overall).items() if k not in ("rank", "")}
    town_rows = _rank(
        [_ranking_row("township", name, by_town.get(code)) for code, name in area.township_names.items()],
        "township",
    )
    team_ids = [t for t in by_team if t is not None]
    teams = (
        {
            r["id"]: r
            for r in await Team.select(Team.id, Team.name, Team.township_code).where(Team.id.is_in(team_ids))
        }
        if team_ids
        else {}
    )
    unlocated = by_town.get(None)
    if unlocated is not None and any(vars(unlocated.counts).values()):
        # Cases located outside every township count in the whole; listed, unranked, so the rows add up.
        town_rows.append(_ranking_row("township", UNLOCATED, unlocated))
    names = await township_names()
    team_rows = []
    for team_id, row in by_team.items():
        team = teams.get(team_id)
        label = team["name"] if team else "未指派调解队（乡镇/县直办）"
        r = _ranking_row("team", label, row)
        r["team_township"] = names.get(team["township_code"] or "", "县直") if team else ""
        team_rows.append(r)
    _rank(team_rows, "team")
    town_columns = _ranking_columns(("township", "乡镇"))
    team_columns = _ranking_columns(("team", "调解队"))
    team_columns.insert(2, _c("team_township", "所属乡镇"))
    return [
        Section(
            key="townships",
            title="乡镇排名",
            columns=town_columns,
            rows=town_rows,
            totals={"rank": None, "township": "合计", **totals_values},
            note=(
                "按办结率排序，办结率相同按化解率、满意率；本季度无登记案件的乡镇列于末尾不排名；"
                "“未定位”为定位在各乡镇之外的案件，计入合计，不参与排名"
            ),
        ),
        Section(
            key="teams",
            title="调解队排名",
            columns=team_columns,
            rows=team_rows,
            totals={"rank": None, "team": "合计", "team_township": None, **totals_values},
            note="按案件所属调解队统计，排序规则同上",
        ),
    ]
