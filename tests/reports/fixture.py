"""The hand-built fixture of the report tests: a quarter (2024 Q2) of 田园镇 cases owned by a team made
for these tests, and a few 卡斯镇 cases. It is written once into a template of its own on top of the
demo, which has no cases (tests/reports/conftest.py), so in a report test's database these are the only
cases, and this fixture's team the only one owning any (the dashboard test).

The specs below are plain data: the tests count their expectations from them, independently of the
SQL under test, and the headline figures are also written out by hand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
TIANYUAN = "530524101000"
TIANYUAN_VILLAGE = "530524101001"
KASI = "530524104000"
KASI_VILLAGE = "530524104201"
Q2_START, Q2_END = date(2024, 4, 1), date(2024, 6, 30)
BOUNDARY_DAYS = (date(2024, 5, 15), date(2024, 5, 16))
# Clock for the dashboard test: the last day of the quarter, noon in Changning.
DASHBOARD_NOW = datetime(2024, 6, 30, 12, 0, tzinfo=SH)
# Clock for the reports: well after the quarter, so every Q2 visit is due.
REPORT_NOW = datetime(2024, 7, 15, 12, 0, tzinfo=SH)
PARTY_ID = "11010519491231002X"
TAG = uuid.uuid4().hex[:6]


def local(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=SH).astimezone(UTC)


@dataclass
class CaseSpec:
    township: str
    reported_at: datetime
    state: str
    category: str = "neighbour"
    level: str = "small"
    lonlat: tuple[float, float] = (99.5, 24.7)
    conflict: bool = False
    party_id: str | None = None
    party_phone: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    close_days: int = 5
    # Instants set by hand (deadline, resolved_at, closed_at) instead of derived from close_days.
    times: dict[str, datetime] = field(default_factory=dict)

    @property
    def accepted_at(self) -> datetime | None:
        return None if self.state in ("reported", "rejected") else self.reported_at + timedelta(minutes=10)

    @property
    def resolved_at(self) -> datetime | None:
        if self.state not in RESOLVED:
            return None
        return self.times.get("resolved_at") or self.reported_at + timedelta(days=self.close_days - 1)

    @property
    def closed_at(self) -> datetime | None:
        if self.state not in CLOSED:
            return None
        return self.times.get("closed_at") or self.reported_at + timedelta(days=self.close_days)

    @property
    def deadline(self) -> datetime | None:
        if not self.accepted_at:
            return None
        return self.times.get("deadline") or self.accepted_at + timedelta(days=30)


@dataclass
class VisitSpec:
    case: CaseSpec
    due: date
    state: str  # pending | done | cancelled
    on_time: bool | None = None
    satisfaction: str | None = None
    face_to_face: bool | None = None
    done_at: datetime | None = None  # default: 15:00 on the due date


CLOSED = ("closed", "archived")
RESOLVED = ("resolved", "closed", "archived")
CATEGORIES = ("neighbour", "neighbour", "forest_land", "marriage_family")


def _spread(i: int) -> tuple[float, float]:
    # About 300 m apart, so only the cases placed together count as the same place.
    return (99.50 + (i % 40) * 0.003, 24.60 + (i // 40) * 0.003)


def build_specs() -> tuple[list[CaseSpec], list[VisitSpec]]:
    days = [
        Q2_START + timedelta(days=k)
        for k in range((Q2_END - Q2_START).days + 1)
        if Q2_START + timedelta(days=k) not in BOUNDARY_DAYS
    ]
    cases: list[CaseSpec] = []
    # 238 in the cohort: 2 at the day boundary (23:30 and 00:30, both closed; the first is 大事),
    # 200 closed and 25 archived at 10:00 on the other days, 3 resolved, 4 mediating and 4 reported
    # (these 8 on 10 April, long unresolved).
    cases.append(
        CaseSpec(TIANYUAN, local(BOUNDARY_DAYS[0], 23, 30), "closed", level="big", lonlat=_spread(300))
    )
    cases.append(CaseSpec(TIANYUAN, local(BOUNDARY_DAYS[1], 0, 30), "closed", lonlat=_spread(301)))
    for i in range(225):
        cases.append(
            CaseSpec(
                TIANYUAN,
                local(days[i % len(days)], 10),
                "closed" if i < 200 else "archived",
                category=CATEGORIES[i % len(CATEGORIES)],
                lonlat=_spread(i),
            )
        )
    for i, state in enumerate(["resolved"] * 3 + ["mediating"] * 4 + ["reported"] * 4):
        cases.append(
            CaseSpec(TIANYUAN, local(date(2024, 4, 10), 9), state, lonlat=_spread(240 + i), conflict=(i == 3))
        )
    # Outside the cohort: rejected and merged.
    cases.append(CaseSpec(TIANYUAN, local(date(2024, 5, 14), 11), "rejected", lonlat=_spread(260)))
    cases.append(CaseSpec(TIANYUAN, local(date(2024, 5, 14), 12), "merged", lonlat=_spread(261)))
    # Repeated disputes in the week of 13–19 May: one party in two cases, two cases 50 m apart.
    week = [
        c
        for c in cases
        if c.state in CLOSED and date(2024, 5, 13) <= c.reported_at.astimezone(SH).date() <= date(2024, 5, 19)
    ]
    week[0].party_id = PARTY_ID
    week[1].party_id = PARTY_ID
    week[2].lonlat = (101.0, 23.0)
    week[3].lonlat = (101.0 + 0.0005, 23.0)  # ~51 m east at 23°N
    # 卡斯镇: 10 cases, all closed after 3 days; one 大事 at noon on 15 May.
    for i in range(10):
        cases.append(
            CaseSpec(
                KASI,
                local(date(2024, 5, 15) if i == 0 else date(2024, 4, 20) + timedelta(days=i), 12),
                "closed",
                level="big" if i == 0 else "small",
                lonlat=(99.30 + i * 0.003, 24.50),
                close_days=3,
            )
        )
    tianyuan_closed = [c for c in cases if c.township == TIANYUAN and c.state in CLOSED]
    visits: list[VisitSpec] = []
    # 120 visits due in Q2 (not cancelled): 100 done (95 on time), 20 pending (8 due in May, 12 in June).
    for i in range(100):
        satisfaction = (
            "satisfied" if i < 70 else "basically_satisfied" if i < 85 else "unsatisfied" if i < 90 else None
        )
        visits.append(
            VisitSpec(
                tianyuan_closed[i],
                date(2024, 5, 1) + timedelta(days=i % 60),
                "done",
                on_time=i < 95,
                satisfaction=satisfaction,
                face_to_face=i < 67,
            )
        )
    for i in range(20):
        due = date(2024, 5, 2 + i) if i < 8 else date(2024, 6, 2 + i)
        visits.append(VisitSpec(tianyuan_closed[100 + i], due, "pending"))
    # Not in V: cancelled ones, and pending ones due in July.
    for i in range(5):
        visits.append(VisitSpec(tianyuan_closed[120 + i], date(2024, 6, 10), "cancelled"))
    for i in range(6):
        visits.append(VisitSpec(tianyuan_closed[130 + i], date(2024, 7, 20), "pending"))
    return cases, visits


CASES, VISITS = build_specs()

# A second, smaller set in 2023 Q1: 卡斯镇 cases for the figures "as of" a past instant, 回访率 on the
# due day, a chain of neighbouring places, and one case located outside every township. Owned by no
# team, all closed, so the dashboard and 2024 figures above are untouched.
OVERDUE_DAY = date(2023, 2, 28)  # LATE_CLOSED is overdue all that day and closed the next
LATE_CLOSED = CaseSpec(
    KASI,
    local(date(2023, 2, 1), 10),
    "closed",
    lonlat=(99.80, 24.30),
    times={
        "deadline": local(date(2023, 2, 11), 10),
        "resolved_at": local(date(2023, 3, 1), 9),
        "closed_at": local(date(2023, 3, 1), 12),
    },
)
VISITED_LATE = CaseSpec(KASI, local(date(2023, 1, 20), 10), "closed", lonlat=(99.85, 24.30), close_days=12)
# Three places 80 m apart in a row at 23.5°N (0.000784° of longitude): the ends are 160 m apart.
CHAIN_STEP = 80 / (111_320 * 0.917060)
CHAIN = [
    CaseSpec(
        KASI,
        local(date(2023, 2, 14), 10 + i),
        "closed",
        lonlat=(100.0 + i * CHAIN_STEP, 23.5),
        close_days=2,
        party_phone="13912345678" if i < 2 else None,
    )
    for i in range(3)
]
UNLOCATED = CaseSpec(None, local(date(2023, 2, 10), 10), "closed", lonlat=(97.0, 22.0), close_days=3)  # type: ignore[arg-type]
EXTRA_CASES = [LATE_CLOSED, VISITED_LATE, *CHAIN, UNLOCATED]
VISIT_DAY = date(2023, 3, 15)  # two visits due that day: one done in the morning, one still pending
EXTRA_VISITS = [
    VisitSpec(
        VISITED_LATE,
        date(2023, 2, 15),
        "done",
        on_time=False,
        satisfaction="satisfied",
        face_to_face=True,
        done_at=local(date(2023, 3, 2), 10),
    ),
    VisitSpec(VISITED_LATE, VISIT_DAY, "pending"),
    VisitSpec(
        VISITED_LATE,
        VISIT_DAY,
        "done",
        on_time=True,
        satisfaction="satisfied",
        face_to_face=True,
        done_at=local(VISIT_DAY, 9),
    ),
]


def cohort(township: str | None = None, start: date = Q2_START, end: date = Q2_END) -> list[CaseSpec]:
    return [
        c
        for c in CASES
        if (township is None or c.township == township)
        and start <= c.reported_at.astimezone(SH).date() <= end
        and c.state not in ("rejected", "merged")
    ]


async def insert(team_id: int, user_id: int) -> dict[str, Any]:
    """Write the specs as real-looking rows (numbers, grids, owners), fast: one insert per table."""
    from backend.cases import party_data
    from backend.cases.tables import Case, CaseEvent, Party
    from backend.grids.tables import GridRegion
    from backend.sync.tables import SyncChange
    from backend.visits.tables import Visit

    grids = {}
    for village in (TIANYUAN_VILLAGE, KASI_VILLAGE):
        row = (
            await GridRegion.select(GridRegion.code)
            .where((GridRegion.level == "grid") & (GridRegion.parent_code == village))
            .order_by(GridRegion.code)
            .first()
            .run()
        )
        grids[village] = row["code"] if row else None
    rows, parties = [], []
    specs = CASES + EXTRA_CASES
    for n, c in enumerate(specs, 1):
        village = {TIANYUAN: TIANYUAN_VILLAGE, KASI: KASI_VILLAGE}.get(c.township)
        tianyuan = c.township == TIANYUAN
        rows.append(
            Case(
                id=c.id,
                number=f"{(c.township or '530524000000')[:9]}-{c.reported_at.year}-R{TAG}{n:04d}",
                category=c.category,
                title=f"报表测试纠纷{n}",
                description="报表测试",
                level=c.level,
                state=c.state,
                lon=c.lonlat[0],
                lat=c.lonlat[1],
                accuracy_m=10.0,
                location_source="gps",
                township_code=c.township,
                village_code=village,
                grid_code=grids.get(village),
                locate_status="inside" if village else "outside",
                owner_level="team" if tianyuan else "township" if c.township else "county",
                owner_team=team_id if tianyuan else None,
                mediator=user_id if tianyuan else None,
                created_device="report-fixture",
                occurred_at=c.reported_at,
                reported_at=c.reported_at,
                accepted_at=c.accepted_at,
                deadline=c.deadline,
                resolved_at=c.resolved_at,
                closed_at=c.closed_at,
                conflict=c.conflict,
                merged_into=uuid.uuid4() if c.state == "merged" else None,
                create_hash=uuid.uuid4().hex,
                updated_at=c.reported_at,
            )
        )
        if c.party_id or c.party_phone:
            parties.append(
                Party(
                    case=c.id, name="张建华", role="applicant", **party_data.sealed(c.party_phone, c.party_id)
                )
            )
    await Case.insert(*rows).run()
    # Like every real case: a create event and a change-log row, so timelines and phone pulls see them.
    await CaseEvent.insert(
        *[
            CaseEvent(case=c.id, at=c.reported_at, action="create", after={"state": c.state}, version=1)
            for c in specs
        ]
    ).run()
    await SyncChange.insert(
        *[
            SyncChange(entity="case", entity_id=c.id, version=1, action="create", at=c.reported_at)
            for c in specs
        ]
    ).run()
    if parties:
        await Party.insert(*parties).run()
    await Visit.insert(
        *[
            Visit(
                id=uuid.uuid4(),
                case=v.case.id,
                due_date=v.due,
                assignee=user_id if v.case.township == TIANYUAN else None,
                team=team_id if v.case.township == TIANYUAN else None,
                township_code=v.case.township,
                state=v.state,
                done_at=(v.done_at or local(v.due, 15)) if v.state == "done" else None,
                recorded_at=(v.done_at or local(v.due, 15)) if v.state == "done" else None,
                method="in_person" if v.state == "done" else None,
                satisfaction=v.satisfaction,
                recurred=False if v.state == "done" else None,
                face_to_face=v.face_to_face,
                on_time=v.on_time,
            )
            for v in VISITS + EXTRA_VISITS
        ]
    ).run()
    return {"numbers": {c.id: r.number for c, r in zip(specs, rows, strict=True)}}
