"""季调度's 领导包案 section: per leader in charge, the cases of the report's area in its charge and where
they stand, so the quarterly meeting can ask each leader about the overdue ones."""

from __future__ import annotations

from typing import Any

from backend.cases.tables import Case
from backend.cases.workflow import is_overdue
from backend.core import clock
from backend.people.service import division_names
from backend.reports.lists import column as _c
from backend.reports.periods import Span
from backend.reports.schemas import Section
from backend.reports.service import Area, case_condition

# The states, grouped as the meeting reads them (every state but merged falls in one group).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "reported": ("待受理", ("reported",)),
    "mediating": ("调解中", ("accepted", "mediating", "reopened")),
    "resolved": ("已化解", ("resolved",)),
    "closed": ("已办结", ("closed", "archived")),
    "other": ("未成/移交/不受理", ("failed", "referred", "rejected")),
}
MAX_LISTED = 20  # overdue case numbers listed in a row (the count has them all)


async def section(area: Area, span: Span) -> Section:
    """One row per leader with cases in charge: the cases of the area reported by the end of the period
    that have a leader now (包案 is the case's current state, not a history), by state now, and the
    ones overdue now with their numbers."""
    query = Case.select(
        Case.number,
        Case.state,
        Case.deadline,
        Case.leader,
        Case.leader.display_name.as_alias("leader_name"),
        Case.leader.scope_level.as_alias("leader_level"),
        Case.leader.scope_code.as_alias("leader_area"),
    ).where(Case.leader.is_not_null() & (Case.state != "merged") & (Case.reported_at < span.until))
    condition = case_condition(area.filter)
    if condition is not None:
        query = query.where(condition)
    cases = await query.order_by(Case.number).run()
    now = clock.now()
    areas = await division_names({c["leader_area"] for c in cases if c["leader_level"] != "county"})
    by_leader: dict[int, dict[str, Any]] = {}
    for c in cases:
        row = by_leader.get(c["leader"])
        if row is None:
            row = by_leader[c["leader"]] = {
                "leader": c["leader_name"],
                "leader_area": "县领导"
                if c["leader_level"] == "county"
                else areas.get(c["leader_area"], c["leader_area"]),
                "cases": 0,
                **dict.fromkeys(GROUPS, 0),
                "overdue": 0,
                "overdue_cases": [],
            }
        row["cases"] += 1
        row[next(key for key, (_, states) in GROUPS.items() if c["state"] in states)] += 1
        if is_overdue(c, now):
            row["overdue"] += 1
            row["overdue_cases"].append(c["number"])
    rows = sorted(by_leader.values(), key=lambda r: (-r["overdue"], -r["cases"], r["leader"]))
    for r in rows:
        listed = r["overdue_cases"][:MAX_LISTED]
        r["overdue_cases"] = "、".join(listed) + ("等" if len(r["overdue_cases"]) > MAX_LISTED else "")
    columns = [
        _c("leader", "包案领导"),
        _c("leader_area", "领导层级"),
        _c("cases", "包案件数", "int"),
        *[_c(key, label, "int") for key, (label, _) in GROUPS.items()],
        _c("overdue", "逾期", "int"),
        _c("overdue_cases", "逾期案件"),
    ]
    totals: dict[str, Any] = {
        c.key: sum(r[c.key] for r in rows) if c.type == "int" else None for c in columns
    }
    totals["leader"] = "合计"
    return Section(
        key="leaders",
        title="领导包案",
        columns=columns,
        rows=rows,
        totals=totals if rows else None,  # no totals row (nor chart) for an empty table
        note=(
            "本辖区内至本期末已登记、现有包案领导的案件，按领导列出；状态与逾期为生成本表时的情况"
            "（逾期：仍在办理且已超过调解期限），逾期多的领导在前"
        ),
    )
