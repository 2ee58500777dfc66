"""What the supervisors' map reads: case markers by bounding box, cell figures for the choropleth, one
cell's summary, and the live feed of changed cases.

Everything is scoped with `service.visible_to(user)` and counted in SQL (GROUP BY), so a county with
50,000 cases costs one query per request, not a loop over rows. Markers go out as compact rows (a
list of field names and one list per case): at 50,000 cases that is half the bytes of objects.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import Column
from piccolo.columns.combination import Combinable
from piccolo.query.functions.aggregate import Count
from piccolo.querystring import QueryString

from backend.cases.service import OPEN_STATES, visible_to
from backend.cases.tables import Case
from backend.core import clock
from backend.core.errors import InvalidRequest, NotFound
from backend.db import DB, read_transaction
from backend.grids import maps
from backend.grids.service import active_primary
from backend.grids.tables import GridRegion
from backend.people.roles import Role
from backend.people.service import CurrentUser
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
MARKER_FIELDS = ("id", "lon", "lat", "state", "category", "level", "overdue", "conflict", "number", "title")
DEFAULT_MARKERS = 20_000
MAX_MARKERS = 50_000
NEW_DEFAULT_DAYS = 30
LIVE_POLL_SECONDS = 1.0


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


def _all(conditions: list[Combinable | None]) -> Combinable | None:
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
    return Case.state.is_in(list(OPEN_STATES)) & (Case.deadline < now)


def case_filters(filters: dict[str, Any], now: datetime) -> Combinable | None:
    """The map's filters: state, category, level (comma lists), reported from/to (local days), bbox,
    overdue, conflict. Merged (duplicate) cases are never drawn."""
    conditions: list[Combinable | None] = [
        Case.merged_into.is_null(),
        _in(Case.state, filters.get("state"), STATES),
        _in(Case.category, filters.get("category")),
        _in(Case.level, filters.get("level"), ("small", "hard", "big")),
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


def _scoped_where(query, user: CurrentUser, extra: Combinable | None):
    condition = _all([visible_to(user), extra])
    return query.where(condition) if condition is not None else query


# --- markers --------------------------------------------------------------------------------------


_OPEN_IN = ", ".join(f"'{s}'" for s in OPEN_STATES)  # constants, not input


async def _marker_rows(user: CurrentUser, extra: Combinable | None, now: datetime, limit: int) -> list[dict]:
    """Marker rows of the cases in scope matching `extra`, newest first: the columns of MARKER_FIELDS
    plus `merged`. Raw SQL with the overdue flag computed in the database: at 50,000 rows, building
    ORM rows (UUID and datetime objects) cost more than the query itself."""
    where = _all([visible_to(user), extra])
    return await DB.run_querystring(
        QueryString(
            "SELECT CAST(id AS TEXT) AS id, lon, lat, state, category, level, "
            f"CASE WHEN state IN ({_OPEN_IN}) AND deadline < {{}} THEN 1 ELSE 0 END AS overdue, "
            "conflict, number, title, CASE WHEN merged_into IS NULL THEN 0 ELSE 1 END AS merged "
            "FROM dispute_case WHERE {} ORDER BY reported_at DESC LIMIT {}",
            now,
            where.querystring if where is not None else QueryString("1 = 1"),
            limit,
        )
    )


def marker_row(r: dict[str, Any]) -> list[Any]:
    """One marker in the order of MARKER_FIELDS (the API's compact form)."""
    return [
        r["id"], round(r["lon"], 6), round(r["lat"], 6), r["state"], r["category"], r["level"],
        r["overdue"], 1 if r["conflict"] else 0, r["number"], r["title"],
    ]  # fmt: skip


async def markers(user: CurrentUser, filters: dict[str, Any], limit: int) -> dict[str, Any]:
    """Case markers in scope, newest first, at most `limit`, and how many matched in all."""
    limit = max(1, min(limit, MAX_MARKERS))
    now = clock.now()
    where = case_filters(filters, now)
    async with read_transaction():
        rows = await _marker_rows(user, where, now, limit + 1)
        truncated = len(rows) > limit
        if truncated:
            total = await _scoped_where(Case.count(), user, where).run()
            rows = rows[:limit]
        else:
            total = len(rows)
    return {
        "fields": list(MARKER_FIELDS),
        "rows": [marker_row(r) for r in rows],
        "total": total,
        "truncated": truncated,
    }


# --- cells ----------------------------------------------------------------------------------------


def township_of(code: str) -> str:
    """The township of a village or grid code: its first 9 digits, padded (statistics codes nest)."""
    return code[:9] + "000"


def _region_in_area(user: CurrentUser, region: dict[str, Any]) -> bool:
    """Whether a cell belongs on this user's map (the area of their scope)."""
    if user.role == Role.county_admin or user.scope_level == "county":
        return True
    code = region["code"]
    if user.scope_level == "township":
        return township_of(code) == user.scope_code
    return code.startswith(user.scope_code) or code == township_of(user.scope_code)


async def _regions(level: str | None) -> list[dict[str, Any]]:
    primary = await active_primary()
    if primary is None:
        return []
    _, regions = await maps.regions(level, None, primary[0])
    return regions


async def _cells_of_level(user: CurrentUser, level: str) -> list[dict[str, Any]]:
    return [r for r in await _regions(level) if _region_in_area(user, r)]


async def cells(user: CurrentUser, level: str, metric: str, filters: dict[str, Any]) -> dict[str, Any]:
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
            await _scoped_where(Case.select(column.as_alias("code"), Count(alias="n")), user, extra)
            .group_by(column)
            .run()
        )
    values = {r["code"]: r["n"] for r in counted if r["code"]}
    out = [{"code": r["code"], "name": r["name"], "value": values.get(r["code"], 0)} for r in regions]
    return {
        "level": level,
        "metric": metric,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "cells": out,
        "max": max((c["value"] for c in out), default=0),
    }


async def cell_summary(user: CurrentUser, code: str) -> dict[str, Any]:
    """One cell's figures: cases by state, open, overdue, conflicts (all within the user's scope)."""
    region = next((r for r in await _regions(None) if r["code"] == code), None)
    if region is None or region["level"] not in LEVEL_COLUMNS or not _region_in_area(user, region):
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
            _scoped_where(Case.select(Case.state, Count(alias="n")), user, in_cell).group_by(Case.state).run()
        )
        overdue = await _scoped_where(Case.count(), user, _all([in_cell, overdue_condition(now)])).run()
        conflict = await _scoped_where(Case.count(), user, _all([in_cell, Case.conflict == True])).run()  # noqa: E712
    states = {s: 0 for s in STATES}
    states.update({r["state"]: r["n"] for r in by_state})
    return {
        "code": code,
        "name": region["name"],
        "level": region["level"],
        "parent_code": region["parent_code"],
        "total": sum(states.values()),
        "open": sum(states[s] for s in PENDING_STATES),
        "overdue": overdue,
        "conflict": conflict,
        "by_state": states,
        # The five rates over the last 12 months, defined once in backend.reports.rates.
        "rates": [msgspec.to_builtins(r) for r in rate_counts.rates()],
    }


# --- config ---------------------------------------------------------------------------------------


async def config(user: CurrentUser, settings: Settings) -> dict[str, Any]:
    """Base tiles and the bounds of the user's area (their township, or the whole county)."""
    township = user.scope_code if user.scope_level == "township" else None
    if user.scope_level == "village":
        township = township_of(user.scope_code)
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
    return {
        "tiles": tiles,
        "tianditu_key": settings.tianditu_key if tiles == "tianditu" else None,
        "bounds": bounds,
        "township": township,
    }


# --- live -----------------------------------------------------------------------------------------


class LiveFeed:
    """One open map's view of the change log.

    It reads the log without the pull's horizon lock: a map must not take an exclusive lock every
    second. A PostgreSQL transaction can commit a lower id after a higher one was read, so each poll
    looks back LOOKBACK ids and skips the ones already seen. Events carry the change id, so a
    reconnect (Last-Event-ID) resumes where it stopped. A case the map was told about that leaves
    the user's scope, or is merged into another, is announced `gone` so its marker goes; a case the
    user never saw is never named."""

    LOOKBACK = 200
    RESUME_LIMIT = 5000  # a reconnect after a long absence resumes at most this far back

    def __init__(self, user: CurrentUser, last: int) -> None:
        self.user = user
        self.last = last
        self.seen: set[int] = set()
        self.announced: set[uuid.UUID] = set()

    @classmethod
    async def open(cls, user: CurrentUser, last_event_id: str | None) -> LiveFeed:
        """Start at the newest change, or resume after the Last-Event-ID of a reconnect; the ids just
        before the start count as seen, so the look-back does not replay them."""
        from backend.sync.tables import SyncChange

        newest = await _newest_change()
        last = newest
        if last_event_id and last_event_id.isdigit():
            last = min(newest, max(int(last_event_id), newest - cls.RESUME_LIMIT, 0))
        feed = cls(user, last)
        rows = (
            await SyncChange.select(SyncChange.id)
            .where((SyncChange.id > last - cls.LOOKBACK) & (SyncChange.id <= last))
            .run()
        )
        feed.seen = {r["id"] for r in rows}
        return feed

    async def poll(self) -> list[dict[str, Any]]:
        """Events since the last poll: {"id": change id, "action", "row"} or {"id", "action": "gone",
        "case": id}. Shielded by the caller: a poll cancelled mid-transaction would strand a pooled
        connection inside it."""
        from backend.sync.tables import SyncChange

        async with read_transaction():
            changes = await (
                SyncChange.select(SyncChange.id, SyncChange.entity_id, SyncChange.action)
                .where((SyncChange.id > self.last - self.LOOKBACK) & (SyncChange.entity == "case"))
                .order_by(SyncChange.id)
                .limit(1000)
                .run()
            )
            changes = [c for c in changes if c["id"] not in self.seen]
            if not changes:
                return []
            by_case: dict[uuid.UUID, dict[str, Any]] = {}
            for c in changes:
                entry = by_case.setdefault(_uuid(c["entity_id"]), {"id": 0, "action": c["action"]})
                entry["id"] = max(entry["id"], c["id"])
                # A case logged and changed within one poll is still news as a new case.
                entry["action"] = "create" if "create" in (entry["action"], c["action"]) else c["action"]
            rows = await _marker_rows(self.user, Case.id.is_in(list(by_case)), clock.now(), len(by_case))
        self.seen.update(c["id"] for c in changes)
        self.last = max(self.last, changes[-1]["id"])
        self.seen = {i for i in self.seen if i > self.last - self.LOOKBACK}
        visible = {_uuid(r["id"]): r for r in rows}
        out = []
        for case_id, entry in sorted(by_case.items(), key=lambda kv: kv[1]["id"]):
            row = visible.get(case_id)
            if row is not None and not row["merged"]:
                self.announced.add(case_id)
                out.append({"id": entry["id"], "action": entry["action"], "row": marker_row(row)})
            elif case_id in self.announced or row is not None:
                self.announced.discard(case_id)
                out.append({"id": entry["id"], "action": "gone", "case": str(case_id)})
        return out


async def _newest_change() -> int:
    from piccolo.query.functions.aggregate import Max

    from backend.sync.tables import SyncChange

    row = await SyncChange.select(Max(SyncChange.id, alias="newest")).first().run()
    return int((row or {}).get("newest") or 0)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
