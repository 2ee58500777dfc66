"""The lists inside the reports: cases (big ones, the screening's), late return visits and repeated
disputes. Rows name the case by number and title and the staff member responsible, never a party; a
repeated dispute shows its party only masked."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from piccolo.columns.combination import WhereRaw

from backend.cases import party_data
from backend.cases.categories import category_names
from backend.cases.tables import Case
from backend.core import clock
from backend.grids.service import region_names
from backend.reports import queries
from backend.reports.periods import Span
from backend.reports.schemas import Column, Section
from backend.reports.service import LEVEL_NAMES, STATE_NAMES, Area, local_iso, responsible
from backend.visits.tables import Visit

# Lists longer than this are cut (the summaries still count every case); a screening list of thousands
# is read by no one, and the cut is said in the section's note.
MAX_LIST_ROWS = 2000


# A group of places is joined transitively (a chain of neighbours), so it is labelled as such, not as
# "within 100 m" of one point.
NEARBY_KIND = "相邻地点"
NEARBY_LABEL = "相邻（彼此相距100米内相连）"


def column(key: str, label: str, type_: str = "text") -> Column:
    return Column(key=key, label=label, type=type_)  # type: ignore[arg-type]


# --- case lists ------------------------------------------------------------------------------------


def _case_query(area: Area, *conditions: Any):
    query = Case.select(
        Case.id,
        Case.number,
        Case.title,
        Case.category,
        Case.level,
        Case.state,
        Case.township_code,
        Case.reported_at,
        Case.deadline,
        Case.owner_level,
        Case.mediator.display_name,
        Case.owner_team.name,
    )
    flt = area.filter
    for condition in (flt.cases, Case.township_code == flt.township if flt.township else None, *conditions):
        if condition is not None:
            query = query.where(condition)
    return query


def _case_row(r: dict[str, Any], area: Area, categories: dict[str, str]) -> dict[str, Any]:
    return {
        "township": area.township_names.get(r["township_code"] or "", r["township_code"] or ""),
        "number": r["number"],
        "title": r["title"],
        "category": categories.get(r["category"], r["category"]),
        "level": LEVEL_NAMES.get(r["level"], r["level"]),
        "state": STATE_NAMES.get(r["state"], r["state"]),
        "reported_at": local_iso(r["reported_at"]),
        "responsible": responsible(r, "mediator.display_name", "owner_team.name", r["owner_level"]),
    }


CASE_COLUMNS = [
    column("township", "乡镇"),
    column("number", "案件编号"),
    column("title", "纠纷标题"),
    column("category", "类别"),
    column("level", "层级"),
    column("state", "状态"),
    column("reported_at", "登记时间", "datetime"),
    column("responsible", "责任人"),
]


async def case_list(
    area: Area,
    key: str,
    title: str,
    conditions: list[Any],
    extra: list[Column] | None = None,
    extras: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Section:
    """Cases in the area matching `conditions`, by township and date, with `extra` columns whose
    values `extras` derives from each row."""
    categories = await category_names()
    rows = await (
        _case_query(area, *conditions)
        .order_by(Case.township_code)
        .order_by(Case.reported_at)
        .limit(MAX_LIST_ROWS + 1)
        .run()
    )
    note = f"仅列出前 {MAX_LIST_ROWS} 件" if len(rows) > MAX_LIST_ROWS else None
    out = []
    for r in rows[:MAX_LIST_ROWS]:
        row = _case_row(r, area, categories)
        if extras:
            row.update(extras(r))
        out.append(row)
    return Section(key=key, title=title, columns=CASE_COLUMNS + (extra or []), rows=out, note=note)


async def repeated_groups(area: Area, span: Span) -> list[tuple[str, str, set[Any]]]:
    """(kind, subject, case ids) of the span's repeated disputes: the same party (ID number or phone)
    in two or more cases, or two or more cases chained by neighbours within 100 m (joined transitively:
    each case is within 100 m of another in its group, so the group as a whole may span more, and its
    label says so)."""
    by_key: dict[tuple[str, str], set[Any]] = defaultdict(set)
    for r in await queries.repeated_parties(area.filter, span):
        by_key[(r["kind"], r["key"])].add(r["id"])
    labels = {
        kind: await party_data.masked_by_hash(kind, [key for k, key in by_key if k == kind])
        for kind in ("id_number", "phone")
    }
    groups: list[tuple[str, str, set[Any]]] = []
    seen: list[set[Any]] = []
    # ID numbers first: a party found again by phone with the same cases is one row, not two.
    ordered = sorted(
        by_key.items(), key=lambda kv: (kv[0][0] != "id_number", labels[kv[0][0]][kv[0][1]], kv[0][1])
    )
    for (kind, key), ids in ordered:
        if ids in seen:
            continue
        seen.append(ids)
        groups.append(("同一当事人", f"当事人 {labels[kind][key]}", ids))
    parent: dict[Any, Any] = {}

    def root(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in await queries.nearby_pairs(area.filter, span):
        parent[root(a)] = root(b)
    places: dict[Any, set[Any]] = defaultdict(set)
    for x in list(parent):
        places[root(x)].add(x)
    groups.extend((NEARBY_KIND, NEARBY_LABEL, ids) for ids in places.values() if len(ids) >= 2)
    return groups


async def repeated_section(
    area: Area, span: Span, title: str, groups: list[tuple[str, str, set[Any]]] | None = None
) -> Section:
    if groups is None:
        groups = await repeated_groups(area, span)
    ids = sorted({i for _, _, g in groups for i in g}, key=str)
    info: dict[Any, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = [i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)) for i in ids[start : start + 500]]
        for r in await Case.select(Case.id, Case.number, Case.township_code, Case.grid_code).where(
            Case.id.is_in(chunk)
        ):
            info[str(r["id"])] = r
    grid_names = await region_names({r["grid_code"] for r in info.values() if r["grid_code"]})
    rows: list[dict[str, Any]] = []
    for kind, subject, group in groups:
        members = sorted((info[str(i)] for i in group if str(i) in info), key=lambda r: r["number"])
        if kind == NEARBY_KIND and members and members[0]["grid_code"]:
            subject = f"{grid_names.get(members[0]['grid_code'], members[0]['grid_code'])} {NEARBY_LABEL}"
        towns = dict.fromkeys(area.township_names.get(r["township_code"] or "", "") for r in members)
        rows.append(
            {
                "kind": kind,
                "subject": subject,
                "count": len(members),
                "cases": "、".join(r["number"] for r in members),
                "township": "、".join(t for t in towns if t),
            }
        )
    rows.sort(key=lambda r: (-r["count"], r["kind"], r["cases"]))
    columns = [
        column("kind", "类型"),
        column("subject", "当事人/地点"),
        column("count", "次数", "int"),
        column("cases", "案件编号"),
        column("township", "乡镇"),
    ]
    return Section(
        key="repeated",
        title=title,
        columns=columns,
        rows=rows,
        note=(
            "同一当事人（身份证号或电话相同）在本期出现2次及以上，或本期2件及以上案件地点相邻：每件与组内"
            "至少一件相距100米内，逐件相连成组（故组内首尾可相距100米以上）；当事人信息已脱敏"
        ),
    )


async def visits_overdue(area: Area, at: datetime) -> Section:
    """Return visits late at the instant `at` (due before its local date and not done by then, though
    perhaps done since), whoever now owns them: the visit's assignee (or team) is responsible."""
    at_date = at.astimezone(clock.LOCAL_TZ).date()
    query = Visit.select(
        Visit.due_date,
        Visit.case.number,
        Visit.case.title,
        Visit.case.township_code,
        Visit.case.owner_level,
        Visit.assignee.display_name,
        Visit.team.name,
    ).where(WhereRaw("{}", queries.visit_overdue_at(at)))
    if area.filter.visits is not None:
        query = query.where(area.filter.visits)
    if area.filter.township:
        query = query.where(Visit.case.township_code == area.filter.township)
    rows = await query.order_by(Visit.due_date).limit(MAX_LIST_ROWS + 1).run()
    out = [
        {
            "township": area.township_names.get(r["case.township_code"] or "", ""),
            "number": r["case.number"],
            "title": r["case.title"],
            "due_date": r["due_date"].isoformat(),
            "days_overdue": (at_date - r["due_date"]).days,
            "responsible": responsible(r, "assignee.display_name", "team.name", r["case.owner_level"]),
        }
        for r in rows[:MAX_LIST_ROWS]
    ]
    columns = [
        column("township", "乡镇"),
        column("number", "案件编号"),
        column("title", "纠纷标题"),
        column("due_date", "应回访日期", "date"),
        column("days_overdue", "逾期天数", "int"),
        column("responsible", "责任人"),
    ]
    note = f"仅列出前 {MAX_LIST_ROWS} 条" if len(rows) > MAX_LIST_ROWS else None
    return Section(key="visits_overdue", title="已办结案件回访逾期", columns=columns, rows=out, note=note)
