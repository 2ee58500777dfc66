"""月排查 screening rounds: a team reports each village it screened in a month (a zero report when it
found nothing), leads become cases, and the coverage the monthly report and the map show.
Knows nothing of HTTP."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from piccolo.columns.combination import Combinable
from piccolo.querystring import QueryString

from backend.cases.categories import category_names
from backend.cases.scope import visible_case_ids
from backend.core import clock
from backend.core.coords import gcj02_to_wgs84
from backend.core.errors import AppError, Forbidden, InvalidRequest, NotFound
from backend.core.identity import TEAM_ROLES, CurrentUser
from backend.core.text import is_blank
from backend.db import DB, read_transaction, write_transaction
from backend.grids.tables import Division
from backend.people.tables import TeamVillage
from backend.screenings import schemas
from backend.screenings.tables import Screening, ScreeningLead

# A phone's clock may run a little fast; a visit "in the future" beyond this is taken as now.
CLOCK_SKEW = timedelta(minutes=5)
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class ScreeningForbidden(Forbidden):
    code = "screening.forbidden"
    message = "只有调解队队员和队长可以上报月排查"
    message_en = "Only team members and leaders report screenings"


class VillageNotServed(NotFound):
    # 404: a team must not learn which villages other teams serve.
    code = "screening.village_not_found"
    message = "未找到该村（社区），或不在本调解队的服务范围内"
    message_en = "No such village among those your team serves"


class InvalidMonth(InvalidRequest):
    code = "screening.invalid_month"
    message = "月份格式应为 YYYY-MM"
    message_en = "month must be YYYY-MM"


class FutureMonth(InvalidRequest):
    code = "screening.future_month"
    message = "不能上报尚未到来的月份"
    message_en = "That month has not begun"


class InvalidHouseholds(InvalidRequest):
    code = "screening.invalid_households"
    message = f"走访户数应为 0 到 {schemas.MAX_HOUSEHOLDS} 之间的整数"
    message_en = f"households_visited must be 0 to {schemas.MAX_HOUSEHOLDS}"


class TooManyLeads(InvalidRequest):
    code = "screening.too_many_leads"
    message = f"一次最多上报 {schemas.MAX_LEADS} 条矛盾纠纷线索"
    message_en = f"At most {schemas.MAX_LEADS} leads per report"


class BlankSummary(InvalidRequest):
    code = "screening.blank_summary"
    message = "线索的简要情况不能为空"
    message_en = "A lead needs a summary"


class UnknownCategory(InvalidRequest):
    code = "screening.unknown_category"
    message = "纠纷类别不存在"
    message_en = "Unknown category"


class CaseNotFound(NotFound):
    code = "screening.case_not_found"
    message = "未找到线索对应的案件"
    message_en = "No such case"


class AlreadyRecorded(AppError):
    status_code = 409
    code = "screening.already_recorded"
    message = "该排查报告已有不同的内容"
    message_en = "This screening report was already recorded with different content"


@dataclass(frozen=True)
class Recorded:
    """applied False: the same report again, nothing changed."""

    applied: bool
    code: str  # screening.recorded | screening.linked | screening.exists
    screening: schemas.ScreeningView


# --- scope ----------------------------------------------------------------------------------------


def visible_to(user: CurrentUser) -> Combinable | None:
    """The one scoping rule for screenings: a team's members see their team's reports; everyone else
    the reports of their area (a township's, a village's). None means everything (the county office)."""
    if user.role in TEAM_ROLES and user.team_id is not None:
        return Screening.team == user.team_id
    if user.scope_level == "county":
        return None
    if user.scope_level == "township":
        return Screening.township_code == user.scope_code
    return Screening.village_code == user.scope_code[:12]  # a grid worker: the village of the grid


def _scoped(query: Any, user: CurrentUser) -> Any:
    condition = visible_to(user)
    return query.where(condition) if condition is not None else query


async def served_villages(user: CurrentUser) -> dict[str, dict[str, Any]]:
    """The villages the user's team serves (code → division row); the area a team reports for."""
    if user.role not in TEAM_ROLES or user.team_id is None:
        return {}
    codes = [
        r["village_code"]
        for r in await TeamVillage.select(TeamVillage.village_code)
        .where(TeamVillage.team == user.team_id)
        .run()
    ]
    if not codes:
        return {}
    rows = await Division.select(Division.code, Division.name, Division.parent_code).where(
        Division.code.is_in(codes) & (Division.level == "village")
    )
    return {r["code"]: r for r in rows}


# --- input ----------------------------------------------------------------------------------------


def parse_month(raw: str | None) -> str:
    """A YYYY-MM month not after the current local month; None/empty: the current month."""
    current = clock.local_now().strftime("%Y-%m")
    if not raw:
        return current
    match = _MONTH.match(raw)
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidMonth(details={"month": raw[:20]})
    if raw > current:
        raise FutureMonth(details={"month": raw})
    return raw


def body_hash(data: schemas.ScreeningIn) -> str:
    """The report's fingerprint, without the leads' case links (a later copy may add those)."""
    body = msgspec.to_builtins(data)
    body.pop("id", None)
    for lead in body.get("found", []):
        lead.pop("case_id", None)
    return hashlib.sha256(msgspec.json.encode(body, order="sorted")).hexdigest()


async def _check(user: CurrentUser, data: schemas.ScreeningIn) -> dict[str, Any]:
    """Refuse bad input before anything is written; returns the village's division row."""
    if user.role not in TEAM_ROLES:
        raise ScreeningForbidden()
    parse_month(data.month)
    if not 0 <= data.households_visited <= schemas.MAX_HOUSEHOLDS:
        raise InvalidHouseholds(details={"households_visited": data.households_visited})
    if len(data.found) > schemas.MAX_LEADS:
        raise TooManyLeads(details={"found": len(data.found)})
    village = (await served_villages(user)).get(data.village_code)
    if village is None:
        raise VillageNotServed(details={"village_code": data.village_code})
    names = await category_names() if any(lead.category for lead in data.found) else {}
    for index, lead in enumerate(data.found):
        if is_blank(lead.summary):
            raise BlankSummary(details={"lead": index})
        if lead.category and lead.category not in names:
            raise UnknownCategory(details={"lead": index, "category": lead.category})
    cases = [lead.case_id for lead in data.found if lead.case_id is not None]
    unseen = set(cases) - await visible_case_ids(user, cases)
    if unseen:
        raise CaseNotFound(details={"case_id": str(sorted(unseen)[0])})
    return village


def _decode(payload: Any) -> schemas.ScreeningIn:
    if isinstance(payload, schemas.ScreeningIn):
        return payload
    try:
        return msgspec.convert(payload, schemas.ScreeningIn)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(details={"reason": str(exc)}) from None


# --- recording ------------------------------------------------------------------------------------


async def record(user: CurrentUser, screening_id: uuid.UUID, payload: Any) -> Recorded:
    """Record a screened village (POST /api/screenings and the sync operation `screening.record`).

    Idempotent by the client-made id: the same report again changes nothing; the same report with
    case_id filled in on leads links them to the cases they became (a link, once made, stays); any
    other difference is 409 screening.already_recorded."""
    data = _decode(payload)
    village = await _check(user, data)
    fingerprint = body_hash(data)
    async with write_transaction():
        existing = await Screening.select().where(Screening.id == screening_id).first().run()
        if existing is not None:
            if existing["body_hash"] != fingerprint or existing["team"] != user.team_id:
                raise AlreadyRecorded(details={"id": str(screening_id)})
            linked = await _link(screening_id, data)
            code = "screening.linked" if linked else "screening.exists"
            return Recorded(linked, code, await _view_of(screening_id))
        now = clock.now()
        visited_at = data.visited_at or now
        if visited_at > now + CLOCK_SKEW:
            visited_at = now
        lon = lat = accuracy = None
        if data.location is not None:
            lon, lat, accuracy = data.location.lon, data.location.lat, data.location.accuracy_m
            if data.location.crs == "gcj02":
                lon, lat = gcj02_to_wgs84(lon, lat)
        await Screening.insert(
            Screening(
                id=screening_id,
                month=data.month,
                village_code=data.village_code,
                township_code=village["parent_code"],
                team=user.team_id,
                reported_by=user.id,
                visited_at=visited_at,
                households_visited=data.households_visited,
                lon=lon,
                lat=lat,
                accuracy_m=accuracy,
                body_hash=fingerprint,
                created_at=now,
            )
        ).run()
        if data.found:
            await ScreeningLead.insert(
                *(
                    ScreeningLead(
                        screening=screening_id,
                        position=index,
                        summary=lead.summary.strip(),
                        category=lead.category or None,
                        case=lead.case_id,
                    )
                    for index, lead in enumerate(data.found)
                )
            ).run()
        return Recorded(True, "screening.recorded", await _view_of(screening_id))


async def _link(screening_id: uuid.UUID, data: schemas.ScreeningIn) -> bool:
    """Record the cases the leads became; True when a link was added."""
    rows = {
        r["position"]: r
        for r in await ScreeningLead.select().where(ScreeningLead.screening == screening_id).run()
    }
    added = False
    for index, lead in enumerate(data.found):
        row = rows.get(index)
        if lead.case_id is None or row is None or row["case"] == lead.case_id:
            continue
        if row["case"] is not None:
            raise AlreadyRecorded(
                message="该线索已转为另一件案件", details={"id": str(screening_id), "lead": index}
            )
        await (
            ScreeningLead.update({ScreeningLead.case: lead.case_id})
            .where(ScreeningLead.id == row["id"])
            .run()
        )
        added = True
    return added


# --- reading --------------------------------------------------------------------------------------

_COLUMNS = (*Screening.all_columns(), Screening.team.name, Screening.reported_by.display_name)


async def village_names(codes: list[str]) -> dict[str, str]:
    """Short names (关庙社区, not 关庙社区居民委员会): they must fit a phone's picker and a map label."""
    rows = await Division.select(Division.code, Division.name, Division.short_name).where(
        Division.code.is_in(codes)
    )
    return {r["code"]: r["short_name"] or r["name"] for r in rows}


async def _views(rows: list[dict[str, Any]]) -> list[schemas.ScreeningView]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    leads: dict[uuid.UUID, list[schemas.LeadView]] = {i: [] for i in ids}
    for lead in (
        await ScreeningLead.select()
        .where(ScreeningLead.screening.is_in(ids))
        .order_by(ScreeningLead.position)
        .run()
    ):
        leads[lead["screening"]].append(
            schemas.LeadView(
                position=lead["position"],
                summary=lead["summary"],
                category=lead["category"],
                case_id=str(lead["case"]) if lead["case"] else None,
            )
        )
    codes = list({r["village_code"] for r in rows})
    names = await village_names(codes)
    return [
        schemas.ScreeningView(
            id=str(r["id"]),
            month=r["month"],
            village_code=r["village_code"],
            village_name=names.get(r["village_code"], r["village_code"]),
            township_code=r["township_code"],
            team_id=r["team"],
            team_name=r["team.name"] or "",
            reported_by=r["reported_by.display_name"] or "",
            visited_at=r["visited_at"],
            households_visited=r["households_visited"],
            lon=r["lon"],
            lat=r["lat"],
            found=leads[r["id"]],
        )
        for r in rows
    ]


async def _view_of(screening_id: uuid.UUID) -> schemas.ScreeningView:
    rows = await Screening.select(*_COLUMNS).where(Screening.id == screening_id).run()
    return (await _views(rows))[0]


async def list_screenings(user: CurrentUser, month: str | None, village: str | None) -> schemas.ScreeningPage:
    """The reports of a month (default this one) in the user's scope, latest visit first."""
    month = parse_month(month)
    query = _scoped(Screening.select(*_COLUMNS).where(Screening.month == month), user)
    if village:
        query = query.where(Screening.village_code == village)
    async with read_transaction():
        rows = await query.order_by(Screening.visited_at, ascending=False).limit(1000).run()
        return schemas.ScreeningPage(month=month, items=await _views(rows))


async def team_month(user: CurrentUser) -> schemas.ScreeningPage:
    """This month's reports of the user's own team (none for anyone not in a team), for the sync
    pull's reference data: a phone offline sees which villages its team screened already, whichever
    phone sent them. Runs in the caller's transaction."""
    month = parse_month(None)
    if user.role not in TEAM_ROLES or user.team_id is None:
        return schemas.ScreeningPage(month=month, items=[])
    rows = (
        await Screening.select(*_COLUMNS)
        .where((Screening.month == month) & (Screening.team == user.team_id))
        .order_by(Screening.visited_at, ascending=False)
        .limit(1000)
        .run()
    )
    return schemas.ScreeningPage(month=month, items=await _views(rows))


async def get_screening(user: CurrentUser, screening_id: uuid.UUID) -> schemas.ScreeningView:
    async with read_transaction():
        rows = await _scoped(Screening.select(*_COLUMNS).where(Screening.id == screening_id), user).run()
        if not rows:
            raise NotFound(message="未找到该排查报告", message_en="Screening not found")
        return (await _views(rows))[0]


# --- coverage (the monthly report and the map) -----------------------------------------------------

# The villages served by active teams, with their team and township; screened ones are those with a
# report of the month by the team that serves them (a team cannot cover another team's village).
_SERVED = """
    SELECT tv.team AS team, tv.village_code AS village, t.township_code AS township
    FROM team_village tv JOIN team t ON t.id = tv.team
    WHERE t.active = {}
"""


def _served(township: str | None) -> tuple[str, list[Any]]:
    """The served-villages query, for one township or all; its SQL and arguments."""
    if township is None:
        return _SERVED, [True]
    return _SERVED + " AND t.township_code = {}", [True, township]


async def team_coverage(month: str, township: str | None) -> list[dict[str, Any]]:
    """Per active team serving villages: villages served, screened, reports, leads, leads made cases."""
    served, args = _served(township)
    sql = f"""
        WITH served AS ({served}),
        reports AS (
            SELECT s.id, s.team, s.village_code FROM screening s
            WHERE s.month = {{}} AND EXISTS (
                SELECT 1 FROM served v WHERE v.team = s.team AND v.village = s.village_code)
        )
        SELECT t.id AS team_id, t.name AS name, t.township_code AS township,
            (SELECT COUNT(*) FROM served v WHERE v.team = t.id) AS served,
            (SELECT COUNT(DISTINCT r.village_code) FROM reports r WHERE r.team = t.id) AS screened,
            (SELECT COUNT(*) FROM reports r WHERE r.team = t.id) AS reports,
            (SELECT COUNT(*) FROM screening_lead l JOIN reports r ON r.id = l.screening
                WHERE r.team = t.id) AS leads,
            (SELECT COUNT(*) FROM screening_lead l JOIN reports r ON r.id = l.screening
                WHERE r.team = t.id AND l."case" IS NOT NULL) AS cases
        FROM team t
        WHERE t.id IN (SELECT team FROM served)
        ORDER BY t.township_code, t.name
    """
    rows = await DB.run_querystring(QueryString(sql, *args, month))
    return [
        {**r, **{k: int(r[k]) for k in ("served", "screened", "reports", "leads", "cases")}} for r in rows
    ]


async def township_coverage(month: str, township: str | None) -> dict[str, dict[str, int]]:
    """Per township: distinct villages served by its teams and screened by them, leads, leads made cases."""
    served, args = _served(township)
    sql = f"""
        WITH served AS ({served}),
        reports AS (
            SELECT s.id, s.township_code AS township, s.village_code FROM screening s
            WHERE s.month = {{}} AND EXISTS (
                SELECT 1 FROM served v WHERE v.team = s.team AND v.village = s.village_code)
        ),
        towns AS (SELECT DISTINCT township FROM served)
        SELECT w.township AS township,
            (SELECT COUNT(DISTINCT v.village) FROM served v WHERE v.township = w.township) AS served,
            (SELECT COUNT(DISTINCT r.village_code) FROM reports r WHERE r.township = w.township) AS screened,
            (SELECT COUNT(*) FROM screening_lead l JOIN reports r ON r.id = l.screening
                WHERE r.township = w.township) AS leads,
            (SELECT COUNT(*) FROM screening_lead l JOIN reports r ON r.id = l.screening
                WHERE r.township = w.township AND l."case" IS NOT NULL) AS cases
        FROM towns w
    """
    rows = await DB.run_querystring(QueryString(sql, *args, month))
    return {r["township"]: {k: int(r[k]) for k in ("served", "screened", "leads", "cases")} for r in rows}


async def village_status(user: CurrentUser, month: str | None) -> schemas.ScreeningLayer:
    """The villages served in the user's area (a team member: their team's) and whether each was
    screened in the month (the map's "screened this month" layer)."""
    month = parse_month(month)
    served = TeamVillage.select(TeamVillage.village_code).where(TeamVillage.team.active == True)  # noqa: E712
    if user.role in TEAM_ROLES and user.team_id is not None:
        served = served.where(TeamVillage.team == user.team_id)
    elif user.scope_level == "township":
        served = served.where(TeamVillage.team.township_code == user.scope_code)
    elif user.scope_level == "village":
        served = served.where(TeamVillage.village_code == user.scope_code[:12])
    async with read_transaction():
        codes = sorted({r["village_code"] for r in await served.run()})
        if not codes:
            return schemas.ScreeningLayer(month=month, villages=[])
        names = await village_names(codes)
        counts: dict[str, list[int]] = {c: [0, 0] for c in codes}
        reports = await _scoped(
            Screening.select(Screening.id, Screening.village_code).where(
                (Screening.month == month) & Screening.village_code.is_in(codes)
            ),
            user,
        ).run()
        for r in reports:
            counts[r["village_code"]][0] += 1
        if reports:
            for lead in await ScreeningLead.select(ScreeningLead.screening.village_code).where(
                ScreeningLead.screening.is_in([r["id"] for r in reports])
            ):
                counts[lead["screening.village_code"]][1] += 1
    return schemas.ScreeningLayer(
        month=month,
        villages=[
            schemas.VillageScreening(
                village_code=c,
                village_name=names.get(c, c),
                status="screened" if counts[c][0] else "not_screened",
                screenings=counts[c][0],
                leads=counts[c][1],
            )
            for c in codes
        ],
    )
