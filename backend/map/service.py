"""What the supervisors' map reads: case markers by bounding box, cell figures for the choropleth, one
cell's summary, and the map's configuration. The live feed of changed cases is in live.py.

Everything is scoped with `cases.scope.visible_to(user)` and counted in SQL (GROUP BY), so a county
with 50,000 cases costs one query per request, not a loop over rows. Markers go out as compact rows
(a list of field names and one list per case): at 50,000 cases that is half the bytes of objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Combinable
from piccolo.query.functions.aggregate import Count
from piccolo.querystring import QueryString

from backend.cases.scope import scoped, visible_to
from backend.cases.tables import Case
from backend.cases.workflow import IN_MEDIATION, days_left, deadline_colour
from backend.core import clock
from backend.core.errors import InvalidRequest, NotFound
from backend.core.identity import CurrentUser
from backend.db import DB, read_transaction
from backend.grids import maps
from backend.grids.service import active_primary
from backend.grids.tables import GridRegion
from backend.map import schemas
from backend.reports import periods, queries
from backend.settings import Settings
from backend.visits import service as visits

# 在办: work still to do on the case (it has not been closed, archived, rejected or sent the legal route).
PENDING_STATES = ("reported", "accepted", "mediating", "reopened", "resolved", "failed")
STATES = ("reported", "accepted", "rejected", "referred", "mediating", "resolved", "failed", "closed",
          "archived", "reopened")  # fmt: skip
LEVEL_COLUMNS: dict[str, Column] = {
    "township": Case.township_code,
    "village": Case.village_code,
    "grid": Case.grid_code,
}
METRICS = ("open", "overdue", "new")
MARKER_FIELDS = (
    "id", "lon", "lat", "state", "category", "level", "overdue", "conflict", "number", "title", "risk",
    "days_left", "deadline_colour", "leader",
)  # fmt: skip
DEFAULT_MARKERS = 20_000
MAX_MARKERS = 50_000
NEW_DEFAULT_DAYS = 30
CONFIDENTIAL_TITLE = "不公开案件"  # a constant, not input: safe inside the SQL text


class InvalidMapQuery(InvalidRequest):
    code = "map.invalid_query"
    message = "地图查询参数无效"
    message_en = "Invalid map query"


# --- filters --------------------------------------------------------------------------------------


def parse_day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidMapQuery(
            message=f"日期 {name} 应为 YYYY-MM-DD", message_en=f"{name} must be YYYY-MM-DD"
        ) from None


def _reported_between(start: date | None, end: date | None) -> Combinable | None:
    """Cases reported on local days start..end inclusive."""
    conditions = []
    if start is not None:
        conditions.append(Case.reported_at >= periods.utc_start(start))
    if end is not None:
        conditions.append(Case.reported_at < periods.utc_start(end + timedelta(days=1)))
    return _all(conditions)


def _all(conditions: Sequence[Combinable | None]) -> Combinable | None:
    result: Combinable | None = None
    for c in conditions:
        if c is not None:
            result = c if result is None else (result & c)
    return result


def _in(column: Column, raw: str | None, allowed: tuple[str, ...] | None = None) -> Combinable | None:
    values = [v for v in (raw or "").split(",") if v]
    if not values:
        return None
    if allowed is not None and (bad := [v for v in values if v not in allowed]):
        raise InvalidMapQuery(message=f"不支持的取值：{'、'.join(bad)}", message_en=f"Unknown values: {bad}")
    return column.is_in(values) if len(values) > 1 else column == values[0]


def overdue_condition(now: datetime) -> Combinable:
    return Case.state.is_in(list(IN_MEDIATION)) & (Case.deadline < now)


def case_filters(filters: dict[str, Any], now: datetime) -> Combinable | None:
    """The map's filters: state, category, level, risk (comma lists), reported from/to (local days),
    bbox, overdue, conflict. Merged (duplicate) cases are never drawn."""
    conditions: list[Combinable | None] = [
        Case.merged_into.is_null(),
        _in(Case.state, filters.get("state"), STATES),
        _in(Case.category, filters.get("category")),
        _in(Case.level, filters.get("level"), ("small", "hard", "big")),
        _in(Case.risk, filters.get("risk"), ("green", "yellow", "red")),
        _reported_between(filters.get("from"), filters.get("to")),
    ]
    if box := filters.get("bbox"):
        min_lon, min_lat, max_lon, max_lat = box
        conditions.append(
            (Case.lon >= min_lon) & (Case.lon <= max_lon) & (Case.lat >= min_lat) & (Case.lat <= max_lat)
        )
    if filters.get("overdue"):
        conditions.append(overdue_condition(now))
    if filters.get("conflict"):
        conditions.append(Case.conflict == True)  # noqa: E712
    return _all(conditions)


# --- markers --------------------------------------------------------------------------------------


_OPEN_IN = ", ".join(f"'{s}'" for s in sorted(IN_MEDIATION))  # constants, not input


async def marker_rows(user: CurrentUser, extra: Combinable | None, now: datetime, limit: int) -> list[dict]:
    """Marker rows of the cases in scope matching `extra`, newest first: the columns of MARKER_FIELDS
    plus `merged`. Raw SQL with the overdue flag computed in the database: at 50,000 rows, building
    ORM rows (UUID and datetime objects) cost more than the query itself."""
    where = _all([visible_to(user), extra])
    return await DB.run_querystring(
        QueryString(
            "SELECT CAST(id AS TEXT) AS id, lon, lat, state, category, level, "
            f"CASE WHEN state IN ({_OPEN_IN}) AND deadline < {{}} THEN 1 ELSE 0 END AS overdue, "
            # A 不公开 case (若干规定 art. 29) is drawn without its title: the popup shows no details.
            f"conflict, number, CASE WHEN confidential THEN '{CONFIDENTIAL_TITLE}' ELSE title END AS title, "
            "risk, CASE WHEN merged_into IS NULL THEN 0 ELSE 1 END AS merged, "
            # The countdown's deadline, only where it counts (most markers are past mediation).
            f"CASE WHEN state IN ({_OPEN_IN}) THEN deadline END AS deadline, "
            "leader "  # 包案领导's user id: a leader's map can show only its own cases
            "FROM dispute_case WHERE {} ORDER BY reported_at DESC LIMIT {}",
            now,
            where.querystring if where is not None else QueryString("1 = 1"),
            limit,
        )
    )


def marker_row(r: dict[str, Any], now: datetime | None = None) -> list[Any]:
    """One marker in the order of MARKER_FIELDS (the API's compact form), with the deadline's
    countdown as the case shows it (workflow.days_left, deadline_colour: yellow within 7 days, red
    overdue; None out of mediation)."""
    deadline = r["deadline"]
    if isinstance(deadline, str):  # SQLite's raw rows may give the text
        deadline = datetime.fromisoformat(deadline)
    countdown = {"state": r["state"], "deadline": deadline}
    return [
        r["id"], round(r["lon"], 6), round(r["lat"], 6), r["state"], r["category"], r["level"],
        r["overdue"], 1 if r["conflict"] else 0, r["number"], r["title"], r["risk"],
        days_left(countdown, now), deadline_colour(countdown, now), r["leader"],
    ]  # fmt: skip


async def markers(user: CurrentUser, filters: dict[str, Any], limit: int) -> schemas.Markers:
    """Case markers in scope, newest first, at most `limit`, and how many matched in all."""
    limit = max(1, min(limit, MAX_MARKERS))
    now = clock.now()
    where = case_filters(filters, now)
    if filters.get("leader") is not None:
        if filters["leader"] != "me":
            raise InvalidMapQuery(
                message="leader 只能是 me（只看我包案的案件）", message_en="leader must be `me`"
            )
        where = _all([where, Case.leader == user.id])
    async with read_transaction():
        rows = await marker_rows(user, where, now, limit + 1)
        truncated = len(rows) > limit
        if truncated:
            total = await scoped(Case.count(), user, where).run()
            rows = rows[:limit]
        else:
            total = len(rows)
    return schemas.Markers(
        fields=list(MARKER_FIELDS), rows=[marker_row(r, now) for r in rows], total=total, truncated=truncated
    )


# --- cells ----------------------------------------------------------------------------------------


async def _regions(level: str | None) -> list[dict[str, Any]]:
    primary = await active_primary()
    if primary is None:
        return []
    _, regions = await maps.regions(level, None, primary[0])
    return regions


async def _cells_of_level(user: CurrentUser, level: str) -> list[dict[str, Any]]:
    return [r for r in await _regions(level) if user.in_area(r["code"])]


async def cells(user: CurrentUser, level: str, metric: str, filters: dict[str, Any]) -> schemas.Cells:
    """Each cell of the level in the user's area with its figure for the metric (zero included)."""
    if level not in LEVEL_COLUMNS:
        raise InvalidMapQuery(message="层级应为 township、village 或 grid", message_en="Unknown level")
    if metric not in METRICS:
        raise InvalidMapQuery(message="指标应为 open、overdue 或 new", message_en="Unknown metric")
    now = clock.now()
    base = {k: v for k, v in filters.items() if k in ("category", "level")}
    if metric == "new":
        today = clock.local_now().date()
        start = filters.get("from") or today - timedelta(days=NEW_DEFAULT_DAYS - 1)
        end = filters.get("to") or today
        extra = case_filters({**base, "from": start, "to": end}, now)
    elif metric == "overdue":
        start = end = None
        extra = case_filters({**base, "overdue": True}, now)
    else:
        start = end = None
        extra = _all([case_filters(base, now), Case.state.is_in(list(PENDING_STATES))])
    column = LEVEL_COLUMNS[level]
    async with read_transaction():
        regions = await _cells_of_level(user, level)
        counted = (
            await scoped(Case.select(column.as_alias("code"), Count(alias="n")), user, extra)
            .group_by(column)
            .run()
        )
    values = {r["code"]: r["n"] for r in counted if r["code"]}
    out = [schemas.CellValue(code=r["code"], name=r["name"], value=values.get(r["code"], 0)) for r in regions]
    return schemas.Cells(
        level=level,
        metric=metric,
        from_=start.isoformat() if start else None,
        to=end.isoformat() if end else None,
        cells=out,
        max=max((c.value for c in out), default=0),
    )


async def cell_summary(user: CurrentUser, code: str) -> schemas.CellSummary:
    """One cell's figures: cases by state, open, overdue, conflicts (all within the user's scope)."""
    region = next((r for r in await _regions(None) if r["code"] == code), None)
    if region is None or region["level"] not in LEVEL_COLUMNS or not user.in_area(region["code"]):
        raise NotFound(message="未找到该网格", message_en="Cell not found", code="map.cell_not_found")
    column = LEVEL_COLUMNS[region["level"]]
    in_cell = _all([column == code, Case.merged_into.is_null()])
    now = clock.now()
    cell_filter = queries.Filter(
        cases=_all([visible_to(user), column == code]), visits=_all([visits.visible_to(user), column == code])
    )
    today = periods.today()
    async with read_transaction():
        rate_counts = await queries.rate_counts(cell_filter, periods.last_twelve_months(today), today)
        by_state = await (
            scoped(Case.select(Case.state, Count(alias="n")), user, in_cell).group_by(Case.state).run()
        )
        overdue = await scoped(Case.count(), user, in_cell, overdue_condition(now)).run()
        conflict = await scoped(Case.count(), user, in_cell, Case.conflict == True).run()  # noqa: E712
    states = {s: 0 for s in STATES}
    states.update({r["state"]: r["n"] for r in by_state})
    return schemas.CellSummary(
        code=code,
        name=region["name"],
        level=region["level"],
        parent_code=region["parent_code"],
        total=sum(states.values()),
        open=sum(states[s] for s in PENDING_STATES),
        overdue=overdue,
        conflict=conflict,
        by_state=states,
        rates=rate_counts.rates(),
    )


# --- config ---------------------------------------------------------------------------------------


async def config(user: CurrentUser, settings: Settings) -> schemas.MapConfig:
    """Base tiles and the bounds of the user's area (their township, or the whole county)."""
    township = user.township_code
    bounds = None
    if (primary := await active_primary()) is not None:
        query = GridRegion.select(
            GridRegion.min_lon, GridRegion.min_lat, GridRegion.max_lon, GridRegion.max_lat
        ).where((GridRegion.generation == primary[1]) & (GridRegion.level == "township"))
        if township is not None:
            query = query.where(GridRegion.code == township)
        rows = await query.run()
        if rows:
            bounds = [
                min(r["min_lon"] for r in rows),
                min(r["min_lat"] for r in rows),
                max(r["max_lon"] for r in rows),
                max(r["max_lat"] for r in rows),
            ]
    tiles = settings.map_tiles if settings.map_tiles in ("none", "tianditu", "osm") else "none"
    if tiles == "tianditu" and not settings.tianditu_key:
        tiles = "none"  # no key, no tiles: the plain map still works
    return schemas.MapConfig(
        tiles=tiles,  # type: ignore[arg-type]
        tianditu_key=settings.tianditu_key if tiles == "tianditu" else None,
        bounds=bounds,
        township=township,
    )
