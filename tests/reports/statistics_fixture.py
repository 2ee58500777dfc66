"""The hand-built fixture of the statistics tests (人民调解案件统计): eight cases around 2025 Q1, each
written out with what it should count as, so the expectations below are counted by hand, not by SQL.

Q1 2025 in Changning is [2024-12-31 16:00 UTC, 2025-03-31 16:00 UTC). "As of the period's end":
- S1 田园 neighbour, resolved 10 Feb, closed 12 Feb (防止民转刑), written agreement, 排查发现, 2 people;
- S2 田园 neighbour, resolved 2 April, closed 3 April (防止群体性上访): still 正在调解 at the end of Q1,
  调解成功 for the year; 委托移送·法院, 8 people (群体性纠纷);
- S3 田园 forest_land, failed on 1 March: 调解不成功; 委托移送·公安, 2 people;
- S4 田园 marriage_family, mediating, no team: 正在调解; 当事人申请; people not recorded, three parties;
- S5 田园 rejected: not counted;
- S6 卡斯 neighbour, resolved 20 Jan, closed 22 Jan (防止群体性上访 and 械斗), written; 主动调解, 5 people;
- S7 田园 neighbour at 23:30 on 31 December 2024: last year's;
- S8 田园 neighbour at 23:30 on 31 March 2025 (Q1), referred on 5 April: 正在调解 as of Q1's end,
  调解不成功 for the year; no source; 1 person.
S1, S2, S3 and S8 are owned by leader1's team (关庙社区红色调解队); S6 by a 卡斯镇 team.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
TIANYUAN, TIANYUAN_VILLAGE = "530524101000", "530524101001"
KASI, KASI_VILLAGE = "530524104000", "530524104201"
# Mid-April 2025: every month of Q1 is due a zero report, April has begun.
NOW = datetime(2025, 4, 15, 12, 0, tzinfo=SH)


def local(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=SH).astimezone(UTC)


@dataclass
class Spec:
    key: str
    township: str
    reported: datetime
    state: str
    category: str = "neighbour"
    team: str | None = "tianyuan"  # tianyuan | kasi | None
    resolved: datetime | None = None
    closed: datetime | None = None
    updated: datetime | None = None
    source: str | None = None
    referred_by: str | None = None
    people: int | None = None
    parties: int = 0
    agreement: bool = False
    flags: dict[str, bool] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)


SPECS = [
    Spec(
        "S1",
        TIANYUAN,
        local(date(2025, 1, 5), 10),
        "closed",
        resolved=local(date(2025, 2, 10), 10),
        closed=local(date(2025, 2, 12), 10),
        source="screening",
        people=2,
        agreement=True,
        flags={"prevented_criminal": True},
    ),
    Spec(
        "S2",
        TIANYUAN,
        local(date(2025, 2, 1), 10),
        "closed",
        resolved=local(date(2025, 4, 2), 10),
        closed=local(date(2025, 4, 3), 10),
        source="referral",
        referred_by="court",
        people=8,
        agreement=True,
        flags={"prevented_group_petition": True},
    ),
    Spec(
        "S3",
        TIANYUAN,
        local(date(2025, 2, 3), 10),
        "failed",
        category="forest_land",
        updated=local(date(2025, 3, 1), 10),
        source="referral",
        referred_by="police",
        people=2,
    ),
    Spec(
        "S4",
        TIANYUAN,
        local(date(2025, 3, 3), 10),
        "mediating",
        category="marriage_family",
        team=None,
        source="application",
        parties=3,
    ),
    Spec("S5", TIANYUAN, local(date(2025, 3, 4), 10), "rejected", source="screening", people=2),
    Spec(
        "S6",
        KASI,
        local(date(2025, 1, 10), 10),
        "closed",
        team="kasi",
        resolved=local(date(2025, 1, 20), 10),
        closed=local(date(2025, 1, 22), 10),
        source="initiative",
        people=5,
        agreement=True,
        flags={"prevented_group_petition": True, "prevented_group_fight": True},
    ),
    Spec(
        "S7",
        TIANYUAN,
        local(date(2024, 12, 31), 23, 30),
        "closed",
        resolved=local(date(2025, 1, 2), 10),
        closed=local(date(2025, 1, 3), 10),
        people=2,
        agreement=True,
    ),
    Spec(
        "S8",
        TIANYUAN,
        local(date(2025, 3, 31), 23, 30),
        "referred",
        updated=local(date(2025, 4, 5), 10),
        people=1,
    ),
]


async def insert(teams: dict[str, int]) -> None:
    """Write the specs as case rows (with agreements and parties where the spec says)."""
    from backend.cases.tables import Agreement, Case, Party

    rows, agreements, parties = [], [], []
    for n, s in enumerate(SPECS, 1):
        village = TIANYUAN_VILLAGE if s.township == TIANYUAN else KASI_VILLAGE
        team = teams[s.team] if s.team else None
        rows.append(
            Case(
                id=s.id,
                number=f"{s.township[:9]}-{s.reported.year}-T{n:05d}",
                category=s.category,
                title=f"统计测试纠纷{s.key}",
                level="small",
                state=s.state,
                lon=99.6,
                lat=24.8,
                location_source="gps",
                township_code=s.township,
                village_code=village,
                locate_status="inside",
                owner_level="team" if team else "township",
                owner_team=team,
                reported_at=s.reported,
                accepted_at=None if s.state == "rejected" else s.reported,
                resolved_at=s.resolved,
                closed_at=s.closed,
                create_hash=uuid.uuid4().hex,
                updated_at=s.updated or s.closed or s.reported,
                source=s.source,
                referred_by=s.referred_by,
                people_involved=s.people,
                **s.flags,
            )
        )
        if s.agreement:
            agreements.append(
                Agreement(case=s.id, facts="事实", matters="争议", terms="协议", performance="履行")
            )
        parties += [Party(case=s.id, name=f"当事人{i}", position=i) for i in range(s.parties)]
    await Case.insert(*rows).run()
    await Agreement.insert(*agreements).run()
    if parties:
        await Party.insert(*parties).run()


FIGURE_KEYS = (
    "cases",
    "success",
    "failed",
    "in_progress",
    "written",
    "oral",
    "amount",
    "people",
    "group_disputes",
    "criminal",
    "petition",
    "fight",
)


def figures(**values: Any) -> dict[str, Any]:
    out: dict[str, Any] = {k: 0 for k in FIGURE_KEYS}
    out["amount"] = 0.0
    out.update(values)
    return out


# Counted by hand from the specs above.
TIANYUAN_Q1 = figures(
    cases=5,
    success=1,
    failed=1,
    in_progress=3,
    written=1,
    people=2 + 8 + 2 + 3 + 1,
    group_disputes=1,
    criminal=1,
)
KASI_Q1 = figures(cases=1, success=1, written=1, people=5, group_disputes=1, petition=1, fight=1)
TIANYUAN_2025 = figures(
    cases=5,
    success=2,
    failed=2,
    in_progress=1,
    written=2,
    people=16,
    group_disputes=1,
    criminal=1,
    petition=1,
)
