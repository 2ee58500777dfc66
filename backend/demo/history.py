"""A plausible year of demo cases (`fengqiao demo --cases N`), so the map and the reports look real.

The cases are spread over the active grid cells (some cells are hot spots), follow the county's
category mix and levels, and have the outcomes their age allows: recent ones still reported or in
mediation (some overdue), older ones resolved, closed with their return visits done (mostly satisfied,
mostly face to face), a few rejected or sent the legal route. Rows are written in bulk, not through
the workflow: 50,000 cases through the workflow would fire 200,000 notifications and take an hour.
Each case gets its events and one change-log row, so pulls, timelines and reports see them as usual.

Every generated case is marked `created_device = "demo-history"`; a new run replaces the previous
demo history and leaves real cases alone.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import shapely
from piccolo.querystring import QueryString
from piccolo.table import Table

from backend.cases import party_data
from backend.cases.tables import Agreement, Case, CaseEvent, Party
from backend.core import clock
from backend.db import DB, write_transaction
from backend.demo.loader import _GIVEN, _SURNAMES
from backend.grids.service import active_primary
from backend.grids.tables import GridRegion
from backend.people.tables import TeamVillage, User
from backend.settings import get_settings
from backend.sync.tables import SyncChange
from backend.visits.policy import DEFAULT_OFFSETS
from backend.visits.tables import Visit

DEMO_DEVICE = "demo-history"
TIANYUAN = "530524101000"  # 田园镇, whose demo leader takes a case
CASES_PER_TRANSACTION = 1000
CHUNK = 400  # rows per INSERT: under SQLite's bound-parameter limit for the widest table

# The county's mix: neighbour, family and land matters dominate village disputes.
CATEGORY_WEIGHTS = {
    "neighbour": 22, "marriage_family": 14, "homestead": 12, "forest_land": 11, "contract_debt": 9,
    "land_compensation": 8, "damages": 8, "agriculture": 6, "labour": 5, "relationship": 3, "other": 2,
}  # fmt: skip
TITLES = {
    "neighbour": ["邻居堆放杂物占用通道", "排水沟堵塞引发邻里矛盾", "饲养家禽噪音扰邻"],
    "marriage_family": ["赡养老人费用分担争议", "分家析产纠纷", "夫妻矛盾调解"],
    "homestead": ["宅基地界址争议", "建房滴水檐纠纷", "院墙越界纠纷"],
    "forest_land": ["山林地界争议", "茶地承包边界纠纷", "林木采伐权属纠纷"],
    "contract_debt": ["农资赊欠款纠纷", "借款到期未还", "茶叶收购合同纠纷"],
    "land_compensation": ["征地补偿款分配争议", "青苗补偿纠纷", "道路建设占地补偿"],
    "damages": ["牲畜践踏庄稼赔偿", "交通事故赔偿纠纷", "施工损坏房屋赔偿"],
    "agriculture": ["灌溉用水纠纷", "烤烟收购等级争议", "农机作业费用纠纷"],
    "labour": ["务工工资拖欠", "工伤赔偿争议", "劳务费结算纠纷"],
    "relationship": ["婚约彩礼返还纠纷", "恋爱财物纠纷"],
    "other": ["坟地纠纷", "公共设施使用纠纷"],
}
LEVEL_WEIGHTS = {"small": 72, "hard": 23, "big": 5}
# Days from acceptance to an agreement, by level (small matters are talked out on the spot).
RESOLVE_DAYS = {"small": (0, 12), "hard": (4, 40), "big": (10, 75)}


@dataclass
class _Batch:
    """Rows waiting to be written, per table."""

    rows: dict[type[Table], list[Table]] = field(default_factory=lambda: defaultdict(list))

    def add(self, row: Table) -> None:
        self.rows[type(row)].append(row)


@dataclass(frozen=True)
class _Cell:
    code: str
    village: str
    township: str
    geometry: Any
    bounds: tuple[float, float, float, float]


async def _cells() -> tuple[list[_Cell], int]:
    found = await active_primary()
    if found is None:
        raise RuntimeError("没有启用的网格，请先运行 fengqiao demo")
    primary = found[1]
    rows = (
        await GridRegion.select(GridRegion.code, GridRegion.parent_code, GridRegion.geometry_wkb)
        .where((GridRegion.generation == primary) & (GridRegion.level == "grid"))
        .run()
    )
    cells = []
    for r in rows:
        geometry = shapely.from_wkb(bytes.fromhex(r["geometry_wkb"]))
        village = r["parent_code"] or r["code"][:12]
        cells.append(_Cell(r["code"], village, village[:9] + "000", geometry, geometry.bounds))
    return cells, primary


def _points_in(cell: _Cell, count: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Uniform points inside the cell's polygon (rejection sampling in its bounding box)."""
    min_x, min_y, max_x, max_y = cell.bounds
    out: list[tuple[float, float]] = []
    while len(out) < count:
        xs = rng.uniform(min_x, max_x, count * 3)
        ys = rng.uniform(min_y, max_y, count * 3)
        inside = shapely.contains_xy(cell.geometry, xs, ys)
        out.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
    return out[:count]


def _when(rng: random.Random, now: datetime, days_back: int) -> datetime:
    """A reporting time in the past year: more in spring (farming, land) and around Spring Festival,
    in working hours local time."""
    while True:
        day = (now - timedelta(days=rng.uniform(0, days_back))).astimezone(clock.LOCAL_TZ).date()
        season = 1.3 if day.month in (2, 3, 4) else 0.8 if day.month in (7, 8) else 1.0
        if rng.random() < season / 1.3:
            break
    at = datetime.combine(day, time(rng.randint(8, 19), rng.randint(0, 59)), tzinfo=clock.LOCAL_TZ)
    return min(at, now - timedelta(minutes=rng.randint(5, 600)))


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3589") + "".join(rng.choice("0123456789") for _ in range(9))


class _Case:
    """One generated case: its row, events, visits, as the workflow would have left them."""

    def __init__(
        self,
        ctx: dict[str, Any],
        rng: random.Random,
        cell: _Cell,
        point: tuple[float, float],
        reported: datetime,
    ):
        self.ctx, self.rng, self.cell, self.point, self.reported = ctx, rng, cell, point, reported
        self.id = uuid.UUID(int=rng.getrandbits(128), version=4)
        self.events: list[dict[str, Any]] = []

    def event(
        self, at: datetime, action: str, after: dict[str, Any], data: dict[str, Any] | None = None
    ) -> None:
        self.events.append({"at": at, "action": action, "after": after, "data": data or {}})

    def build(self, batch: _Batch) -> None:
        rng = self.rng
        category = rng.choices(list(CATEGORY_WEIGHTS), weights=list(CATEGORY_WEIGHTS.values()))[0]
        level = rng.choices(list(LEVEL_WEIGHTS), weights=list(LEVEL_WEIGHTS.values()))[0]
        reported = self.reported
        number = self.ctx["serials"].next(self.cell.township[:9], reported.astimezone(clock.LOCAL_TZ).year)
        team = self.ctx["teams"].get(self.cell.village)
        row: dict[str, Any] = {
            "state": "reported", "accepted_at": None, "deadline": None, "resolved_at": None,
            "closed_at": None, "reject_reason": None, "refer_target": None,
        }  # fmt: skip
        self.event(reported, "create", {"state": "reported", "number": number, "level": level})
        self._outcome(row, batch, reported, level, category, team)
        updated = max(e["at"] for e in self.events)
        batch.add(
            Case(
                id=self.id,
                number=number,
                category=category,
                title=rng.choice(TITLES[category]),
                description="（演示数据）" + rng.choice(TITLES[category]) + "，双方各执一词，请求调解。",
                level=level,
                lon=round(self.point[0], 6),
                lat=round(self.point[1], 6),
                accuracy_m=float(rng.randint(5, 40)),
                location_source="gps",
                township_code=self.cell.township,
                village_code=self.cell.village,
                grid_code=self.cell.code,
                locate_status="inside",
                grid_generation=self.ctx["generation"],
                owner_level="team" if team else "township",
                owner_team=team,
                mediator=None,
                created_by=None,
                created_device=DEMO_DEVICE,
                occurred_at=reported - timedelta(days=rng.randint(0, 5)),
                reported_at=reported,
                conflict=False,
                version=len(self.events),
                create_hash=hashlib.sha256(self.id.bytes).hexdigest(),
                updated_at=updated,
                **row,
            )  # fmt: skip
        )
        repeat = self.ctx["repeat_parties"]
        applicant = rng.choice(repeat) if rng.random() < 0.04 else (_name(rng), _phone(rng))
        batch.add(
            Party(
                case=self.id,
                position=0,
                name=applicant[0],
                role="applicant",
                **party_data.sealed(applicant[1], None),
            )
        )
        batch.add(
            Party(
                case=self.id,
                position=1,
                name=_name(rng),
                role="respondent",
                **party_data.sealed(_phone(rng), None),
            )
        )
        for version, e in enumerate(self.events, start=1):
            batch.add(
                CaseEvent(
                    case=self.id,
                    at=e["at"],
                    actor=None,
                    device=DEMO_DEVICE,
                    action=e["action"],
                    after=e["after"],
                    data=e["data"],
                    version=version,
                )  # fmt: skip
            )
        batch.add(
            SyncChange(
                entity="case", entity_id=self.id, version=len(self.events), action="create", at=updated
            )
        )

    def _outcome(
        self, row: dict, batch: _Batch, reported: datetime, level: str, category: str, team: int | None
    ):
        rng, now = self.rng, self.ctx["now"]
        roll = rng.random()
        accepted = reported + timedelta(hours=rng.uniform(1, 60))
        if accepted > now:
            return  # still waiting for triage
        if roll < 0.03:
            row.update(state="rejected", reject_reason="不属于人民调解受理范围")
            self.event(accepted, "reject", {"state": "rejected"})
            return
        if roll < 0.05 or (level == "big" and roll < 0.2):
            row.update(state="referred", refer_target=rng.choice(["court", "legal_aid", "arbitration"]))
            self.event(accepted, "refer", {"state": "referred"})
            return
        row.update(state="mediating", accepted_at=accepted, deadline=accepted + timedelta(days=30))
        self.event(accepted, "accept", {"state": "mediating"})
        low, high = RESOLVE_DAYS[level]
        # A few drag on past the 30-day limit: the overdue work the map must show.
        days = rng.uniform(low, high) if rng.random() > 0.06 else rng.uniform(31, 60)
        done = accepted + timedelta(days=days)
        if done > now:
            return  # in mediation (overdue once past the deadline)
        if rng.random() < 0.04:
            row.update(state="referred", refer_target="court")
            self.event(done, "fail", {"state": "failed"})
            self.event(done + timedelta(hours=2), "refer", {"state": "referred"})
            return
        row.update(state="resolved", resolved_at=done)
        self.event(done, "resolve", {"state": "resolved"})
        batch.add(
            Agreement(
                case=self.id,
                facts="（演示数据）双方因" + TITLES[category][0] + "发生争执。",
                matters="责任划分及补偿。",
                terms="双方自愿达成协议，互谅互让。",
                performance="签字之日起七日内履行完毕。",
                made_at=done,
            )  # fmt: skip
        )
        closed = done + timedelta(days=rng.uniform(0, 4))
        if closed > now:
            return
        row.update(state="closed", closed_at=closed)
        self.event(closed, "close", {"state": "closed"})
        outcome, at = self._visits(batch, closed, level, team)
        if at is None:  # ("closed", None): visits still to do
            return
        if outcome == "archived":
            row["state"] = "archived"
            self.event(at, "archive", {"state": "archived"})
        elif outcome == "reopened":
            # An unsatisfied visit reopens the case (as visits.service does): mediated again.
            row.update(
                state="mediating" if team else "reopened",
                closed_at=None,
                resolved_at=None,
                deadline=at + timedelta(days=30),
            )
            self.event(at, "reopen", {"state": row["state"]}, {"reason": "回访不满意"})

    def _visits(
        self, batch: _Batch, closed: datetime, level: str, team: int | None
    ) -> tuple[str, datetime | None]:
        """Schedule the return visits and do the ones already due, as people would: mostly on time,
        mostly in person. ("archived", when) when all were done and satisfied; ("reopened", when) at
        an unsatisfied one (the later ones are void); ("closed", None) while some are still to do."""
        rng, now = self.rng, self.ctx["now"]
        today = now.astimezone(clock.LOCAL_TZ).date()
        closed_day = closed.astimezone(clock.LOCAL_TZ).date()
        offsets = DEFAULT_OFFSETS[level]
        outcome: tuple[str, datetime | None] = ("archived", closed)
        for seq, offset in enumerate(offsets, start=1):
            due: date = closed_day + timedelta(days=offset)
            values: dict[str, Any] = {"state": "pending"}
            if outcome[0] == "reopened":
                values = {"state": "cancelled"}
            elif due < today and rng.random() < 0.94:
                late = rng.random() < 0.08
                done_day = (
                    due + timedelta(days=rng.randint(1, 6))
                    if late
                    else due - timedelta(days=rng.randint(0, 2))
                )
                done_day = min(max(done_day, closed_day), today)
                done_at = min(
                    datetime.combine(done_day, time(rng.randint(9, 17)), tzinfo=clock.LOCAL_TZ),
                    now - timedelta(minutes=rng.randint(5, 120)),
                )
                satisfaction = rng.choices(
                    ["satisfied", "basically_satisfied", "unsatisfied"], weights=[84, 13, 3]
                )[0]
                in_person = rng.random() < 0.78
                # Most visits in person are at the family's door; a few meet elsewhere (not 见面).
                distance = (
                    (rng.uniform(5, 250) if rng.random() < 0.92 else rng.uniform(400, 3000))
                    if in_person
                    else None
                )
                values = {
                    "state": "done", "done_at": done_at, "recorded_at": done_at,
                    "method": "in_person" if in_person else "phone",
                    "satisfaction": satisfaction, "recurred": False, "distance_m": distance,
                    "face_to_face": distance is not None and distance <= self.ctx["radius_m"],
                    "on_time": done_day <= due,
                    "recorded_device": DEMO_DEVICE, "notes": "（演示数据）回访情况良好。",
                }  # fmt: skip
                if satisfaction == "unsatisfied":
                    outcome = ("reopened", done_at)
                elif outcome[0] == "archived":
                    outcome = ("archived", max(outcome[1] or done_at, done_at))
            elif outcome[0] == "archived":
                outcome = ("closed", None)
            batch.add(
                Visit(
                    id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    case=self.id,
                    round=1,
                    seq=seq,
                    of_total=len(offsets),
                    offset_days=offset,
                    due_date=due,
                    team=team,
                    township_code=self.cell.township,
                    created_at=closed,
                    updated_at=closed,
                    **values,
                )  # fmt: skip
            )
        return outcome


async def _clear() -> int:
    """Remove an earlier demo history (children first: SQLite may run without foreign keys)."""
    demo = "(SELECT id FROM dispute_case WHERE created_device = {})"
    removed = await Case.count().where(Case.created_device == DEMO_DEVICE).run()
    if not removed:
        return 0
    async with write_transaction():
        for sql in (
            f"DELETE FROM sync_change WHERE entity_id IN {demo}",
            f"DELETE FROM sync_delivery WHERE case_id IN {demo}",
            f'DELETE FROM visit WHERE "case" IN {demo}',
            f'DELETE FROM case_event WHERE "case" IN {demo}',
            f'DELETE FROM case_party WHERE "case" IN {demo}',
            f'DELETE FROM case_agreement WHERE "case" IN {demo}',
            f'DELETE FROM case_photo WHERE "case" IN {demo}',
            f'DELETE FROM case_link WHERE "case" IN {demo} OR other IN {demo}',
            "DELETE FROM dispute_case WHERE created_device = {}",
        ):
            await DB.run_querystring(QueryString(sql, *([DEMO_DEVICE] * sql.count("{}"))))
    return removed


class _Serials:
    """Case numbers continuing each township's yearly counter (as cases.intake hands them out); the
    counters are written back with every batch, so a real case never gets a demo case's number."""

    def __init__(self, counters: dict[str, int]) -> None:
        self.counters = counters
        self.touched: set[str] = set()

    @classmethod
    async def load(cls) -> _Serials:
        rows = await DB.run_querystring(QueryString("SELECT key, last_serial FROM case_number_counter"))
        return cls({r["key"]: r["last_serial"] for r in rows})

    def next(self, township9: str, year: int) -> str:
        key = f"{township9}-{year}"
        self.counters[key] = self.counters.get(key, 0) + 1
        self.touched.add(key)
        return f"{key}-{self.counters[key]:06d}"

    async def save(self) -> None:
        for key in sorted(self.touched):
            await DB.run_querystring(
                QueryString(
                    "INSERT INTO case_number_counter (key, last_serial) VALUES ({}, {}) "
                    "ON CONFLICT (key) DO UPDATE SET last_serial = "
                    "CASE WHEN case_number_counter.last_serial > excluded.last_serial "
                    "THEN case_number_counter.last_serial ELSE excluded.last_serial END",
                    key,
                    self.counters[key],
                )
            )


async def _flush(batch: _Batch) -> None:
    # Parents before children.
    order: tuple[type[Table], ...] = (Case, Party, Agreement, CaseEvent, Visit, SyncChange)
    for table in order:
        rows = batch.rows.pop(table, [])
        for start in range(0, len(rows), CHUNK):
            await table.insert(*rows[start : start + CHUNK]).run()


async def generate(
    count: int, *, seed: int = 2026, days: int = 365, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Replace the demo history with `count` cases over the last `days` days."""
    removed = await _clear()
    cells, generation = await _cells()
    if not cells:
        raise RuntimeError("没有网格，请先运行 fengqiao demo")
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    teams = {r["village_code"]: r["team"] for r in await TeamVillage.select().run()}
    # Hot spots: a few cells see many times the disputes of a quiet one.
    weights = nprng.lognormal(0.0, 0.9, len(cells))
    picks = nprng.choice(len(cells), size=count, p=weights / weights.sum())
    per_cell = np.bincount(picks, minlength=len(cells))
    points = {i: _points_in(cells[i], int(n), nprng) for i, n in enumerate(per_cell) if n}
    serials = await _Serials.load()
    ctx: dict[str, Any] = {
        "now": clock.now(),
        "days": days,
        "teams": teams,
        "generation": generation,
        "radius_m": get_settings().visit_radius_m,
        "serials": serials,
        "repeat_parties": [(_name(rng), _phone(rng)) for _ in range(max(5, count // 200))],
    }
    # Made in reporting order, so case numbers run with time as the server would have handed them out.
    places = [(i, point) for i, n in enumerate(per_cell) for point in points.get(i, [])[: int(n)]]
    rng.shuffle(places)
    times = sorted(_when(rng, ctx["now"], days) for _ in places)
    made = 0
    batch = _Batch()
    for (i, point), reported in zip(places, times, strict=True):
        _Case(ctx, rng, cells[i], point, reported).build(batch)
        made += 1
        if made % CASES_PER_TRANSACTION == 0 or made == len(places):
            # A transaction per thousand cases, so a running server is never locked out for long;
            # the number counters go with each, so a real case never gets a demo case's number.
            async with write_transaction():
                await _flush(batch)
                await serials.save()
            if progress:
                progress(made % CASES_PER_TRANSACTION or CASES_PER_TRANSACTION)
    async with write_transaction():
        await _attach_leaders(ctx["now"])
    return {"cases": made, "removed": removed}


async def _attach_leaders(now: datetime) -> None:
    """领导包案: the county leader takes the oldest big case still in mediation, 田园镇's leader the
    oldest hard one of 田园镇 (each with its assign_leader event, as the county office would)."""
    rows = (
        await User.select(User.id, User.username, User.display_name)
        .where(User.username.is_in(["county", "county_leader", "tianyuan_leader"]))
        .run()
    )
    users = {r["username"]: r["id"] for r in rows}
    names = {r["username"]: r["display_name"] for r in rows}
    picks = (
        ("county_leader", (Case.level == "big"), None),
        ("tianyuan_leader", (Case.level == "hard"), TIANYUAN),
    )
    for username, level, township in picks:
        if username not in users:
            continue
        query = Case.select(Case.id, Case.version).where(
            level & Case.state.is_in(["accepted", "mediating"]) & (Case.created_device == DEMO_DEVICE)
        )
        if township:
            query = query.where(Case.township_code == township)
        case = await query.order_by(Case.reported_at).first().run()
        if case is None:
            continue
        version = case["version"] + 1
        await (
            Case.update({Case.leader: users[username], Case.version: version})
            .where(Case.id == case["id"])
            .run()
        )
        await CaseEvent.insert(
            CaseEvent(
                case=case["id"],
                at=now,
                actor=users.get("county"),
                device=DEMO_DEVICE,
                action="assign_leader",
                after={"leader": users[username]},
                data={
                    "leader_id": users[username],
                    "leader_name": names[username],
                    "previous": None,
                    "reason": "演示：领导包案",
                },
                version=version,
            )
        ).run()
        await SyncChange.insert(
            SyncChange(entity="case", entity_id=case["id"], version=version, action="assign_leader", at=now)
        ).run()
