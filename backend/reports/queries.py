"""The reports' SQL: aggregation with GROUP BY / COUNT / SUM(CASE ...) on SQLite and PostgreSQL alike.

Every query takes a `Filter`, which carries the scoping conditions of the cases and visits domains
(their `visible_to(user)`, never re-written here) and the township asked for. Periods arrive as UTC
instants (see periods.py). Only lists (big cases, screening rows) come back row by row.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from piccolo.columns.combination import Combinable
from piccolo.querystring import QueryString

from backend.core.clock import LOCAL_TZ
from backend.db import DB, engine_name
from backend.reports.periods import Span
from backend.reports.rates import CLOSED_STATES, EXCLUDED_STATES, SATISFIED, RateCounts

# Columns a count can be grouped by (fixed strings, never user input).
GROUPS = {
    "township": "dispute_case.township_code",
    "team": "dispute_case.owner_team",
    "category": "dispute_case.category",
    "grid": "dispute_case.grid_code",
}
NEARBY_M = 100.0
_M_PER_DEG_LAT = 111_320.0
# A box wide enough for 100 m in longitude anywhere south of 45°N (the county is at 24–25°N); the
# exact distance is checked on the few candidate pairs.
_NEAR_DLAT = NEARBY_M / _M_PER_DEG_LAT
_NEAR_DLON = NEARBY_M / (_M_PER_DEG_LAT * math.cos(math.radians(45)))


def _in(values: tuple[str, ...]) -> str:
    # Constant state names only; the values are ours, not the caller's.
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


CLOSED_IN = _in(CLOSED_STATES)
EXCLUDED_IN = _in(EXCLUDED_STATES)
SATISFIED_IN = _in(SATISFIED)
_DONE = "visit.state = 'done'"
_STATE = "dispute_case.state"
_ACCEPTED = "'accepted'"
_RESOLVED = "'resolved'"


def q(sql: str, *args: Any) -> QueryString:
    return QueryString(sql, *args)


def all_of(*parts: QueryString) -> QueryString:
    return QueryString(" AND ".join(["({})"] * len(parts)), *parts) if parts else q("1 = 1")


async def run(query: QueryString) -> list[dict[str, Any]]:
    return await DB.run_querystring(query)


@dataclass(frozen=True)
class Filter:
    """Which cases and visits a report may count: the user's scope and, optionally, one township."""

    cases: Combinable | None = None  # backend.cases.scope.visible_to(user)
    visits: Combinable | None = None  # backend.visits.service.visible_to(user)
    township: str | None = None

    def case_where(self) -> QueryString:
        parts = [c.querystring for c in (self.cases,) if c is not None]
        if self.township:
            parts.append(q("dispute_case.township_code = {}", self.township))
        return all_of(*parts)

    def visit_where(self) -> QueryString:
        """For queries over visit JOIN dispute_case: the visit's scope and the case's township."""
        parts = [c.querystring for c in (self.visits,) if c is not None]
        if self.township:
            parts.append(q("dispute_case.township_code = {}", self.township))
        return all_of(*parts)


def cohort(span: Span) -> QueryString:
    """The cases a rate counts: reported in the span, not rejected, not merged."""
    return q(
        f"dispute_case.reported_at >= {{}} AND dispute_case.reported_at < {{}} "
        f"AND dispute_case.state NOT IN {EXCLUDED_IN}",
        span.since,
        span.until,
    )


def reported_in(span: Span) -> QueryString:
    """New cases: reported in the span (merged duplicates are not new disputes)."""
    return q(
        "dispute_case.reported_at >= {} AND dispute_case.reported_at < {} AND dispute_case.state <> 'merged'",
        span.since,
        span.until,
    )


def _open_at(at: datetime, left_untimed: tuple[str, ...]) -> QueryString:
    """Cases not yet resolved or closed at the instant `at`, judged from their timestamps rather than
    today's state (a past report run again must count what was open then), less rejected and merged
    ones, and less those already in one of `left_untimed` at `at`: states with no timestamp of their
    own, but updated_at is at or after the change, and only a later change moves a case out of them."""
    return q(
        "(dispute_case.resolved_at IS NULL OR dispute_case.resolved_at >= {}) "
        "AND (dispute_case.closed_at IS NULL OR dispute_case.closed_at >= {}) "
        f"AND dispute_case.state NOT IN {EXCLUDED_IN} "
        f"AND NOT (dispute_case.state IN {_in(left_untimed)} AND dispute_case.updated_at < {{}})",
        at,
        at,
        at,
    )


def overdue_at(at: datetime) -> QueryString:
    """逾期 at the instant `at`: accepted and past the deadline then, and still being mediated (not
    resolved, closed, referred to the legal route or failed by then)."""
    return q(
        "dispute_case.accepted_at < {} AND dispute_case.deadline < {} AND {}",
        at,
        at,
        _open_at(at, ("referred", "failed")),
    )


def unresolved_at(at: datetime, reported_before: datetime) -> QueryString:
    """未化解 at `at`: reported before `reported_before` and not resolved, closed or referred by `at`
    (a failed mediation is still unresolved)."""
    return q("dispute_case.reported_at < {} AND {}", reported_before, _open_at(at, ("referred",)))


def visit_overdue_at(at: datetime) -> QueryString:
    """A return visit late at the instant `at`: due before the local date of `at` and not done by
    then (still pending, or done at or after `at`); cancelled ones never count."""
    at_date = at.astimezone(LOCAL_TZ).date()
    return q(
        "visit.due_date < {} AND (visit.state = 'pending' OR (visit.state = 'done' AND visit.done_at >= {})) "
        "AND visit.state <> 'cancelled'",
        at_date,
        at,
    )


def visit_counted(today: date) -> QueryString:
    """The visits 回访率 counts (its denominator): due before today, or due today and already done. A
    visit due today and still pending has the rest of the day: it is neither on time nor missed yet."""
    return q("(visit.due_date < {} OR (visit.state = 'done' AND visit.due_date <= {}))", today, today)


def _days_to_close() -> str:
    if engine_name() == "postgresql":
        return "EXTRACT(EPOCH FROM (dispute_case.closed_at - dispute_case.reported_at)) / 86400.0"
    return "(julianday(dispute_case.closed_at) - julianday(dispute_case.reported_at))"


def _count_when(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _n(value: Any) -> int:
    return int(value or 0)


# --- the five rates -------------------------------------------------------------------------------


@dataclass
class RateRow:
    counts: RateCounts = field(default_factory=RateCounts)
    days_to_close_total: float = 0.0
    closed_timed: int = 0

    @classmethod
    def total(cls, rows: Iterable[RateRow]) -> RateRow:
        out = cls()
        for row in rows:
            for name in vars(out.counts):
                setattr(out.counts, name, getattr(out.counts, name) + getattr(row.counts, name))
            out.days_to_close_total += row.days_to_close_total
            out.closed_timed += row.closed_timed
        return out

    @property
    def average_days_to_close(self) -> float | None:
        # Two decimals, truncated like the rates: a slow team is not made to look faster.
        if not self.closed_timed:
            return None
        return math.floor(self.days_to_close_total / self.closed_timed * 100) / 100


async def rate_rows(flt: Filter, span: Span, today: date, group: str | None = None) -> dict[Any, RateRow]:
    """The five rates' counts for the span, overall (key None) or per township / team."""
    select_group = f"{GROUPS[group]} AS g, " if group else ""
    group_by = f" GROUP BY {GROUPS[group]}" if group else ""
    case_rows = await run(
        q(
            f"SELECT {select_group}COUNT(*) AS cases, "
            f"{_count_when(f'dispute_case.state IN {CLOSED_IN}')} AS closed, "
            f"{_count_when('dispute_case.resolved_at IS NOT NULL')} AS resolved, "
            f"SUM(CASE WHEN dispute_case.state IN {CLOSED_IN} AND dispute_case.closed_at IS NOT NULL "
            f"THEN {_days_to_close()} ELSE 0 END) AS close_days, "
            f"{_count_when(f'dispute_case.state IN {CLOSED_IN} AND dispute_case.closed_at IS NOT NULL')} "
            f"AS closed_timed "
            "FROM dispute_case WHERE {} AND {}" + group_by,
            flt.case_where(),
            cohort(span),
        )
    )
    visit_rows = await run(
        q(
            f"SELECT {select_group}"
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS due, "
            "SUM(CASE WHEN {} AND visit.on_time = {} THEN 1 ELSE 0 END) AS on_time, "
            f"{_count_when(_DONE)} AS done, "
            f"{_count_when(_DONE + ' AND visit.satisfaction IS NOT NULL')} AS rated, "
            f"{_count_when(_DONE + ' AND visit.satisfaction IN ' + SATISFIED_IN)} AS satisfied, "
            "SUM(CASE WHEN visit.state = 'done' AND visit.face_to_face = {} THEN 1 ELSE 0 END) AS f2f "
            'FROM visit JOIN dispute_case ON dispute_case.id = visit."case" '
            "WHERE {} AND visit.due_date >= {} AND visit.due_date <= {} AND visit.state <> 'cancelled'"
            + group_by,
            visit_counted(today),
            visit_counted(today),
            True,
            True,
            flt.visit_where(),
            span.start,
            span.end,
        )
    )
    out: dict[Any, RateRow] = {}
    for r in case_rows:
        if not group and not r["cases"]:
            continue
        row = out.setdefault(r.get("g"), RateRow())
        row.counts.cases = _n(r["cases"])
        row.counts.closed = _n(r["closed"])
        row.counts.resolved = _n(r["resolved"])
        row.days_to_close_total = float(r["close_days"] or 0)
        row.closed_timed = _n(r["closed_timed"])
    for r in visit_rows:
        if not group and r["due"] is None and r["done"] is None:
            continue
        c = out.setdefault(r.get("g"), RateRow()).counts
        c.visits_due, c.visits_on_time = _n(r["due"]), _n(r["on_time"])
        c.visits_done, c.visits_face_to_face = _n(r["done"]), _n(r["f2f"])
        c.visits_rated, c.visits_satisfied = _n(r["rated"]), _n(r["satisfied"])
    return out


async def rate_counts(flt: Filter, span: Span, today: date) -> RateCounts:
    return (await rate_rows(flt, span, today)).get(None, RateRow()).counts


# --- counts by township, category, grid -----------------------------------------------------------


async def daily_counts(flt: Filter, span: Span, at: datetime) -> dict[str, dict[str, int]]:
    """Per township: new (reported), accepted, closed in the span; overdue at the instant `at`."""
    s, u = span.since, span.until
    rows = await run(
        q(
            "SELECT dispute_case.township_code AS g, "
            "SUM(CASE WHEN dispute_case.reported_at >= {} AND dispute_case.reported_at < {} "
            "AND dispute_case.state <> 'merged' THEN 1 ELSE 0 END) AS new, "
            "SUM(CASE WHEN dispute_case.accepted_at >= {} AND dispute_case.accepted_at < {} "
            "THEN 1 ELSE 0 END) AS accepted, "
            f"SUM(CASE WHEN dispute_case.state IN {CLOSED_IN} AND dispute_case.closed_at >= {{}} "
            "AND dispute_case.closed_at < {} THEN 1 ELSE 0 END) AS closed, "
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS overdue, "
            "SUM(CASE WHEN dispute_case.reported_at >= {} AND dispute_case.reported_at < {} "
            "AND dispute_case.state <> 'merged' AND dispute_case.level = 'big' THEN 1 ELSE 0 END) AS big "
            "FROM dispute_case WHERE {} GROUP BY dispute_case.township_code",
            s,
            u,
            s,
            u,
            s,
            u,
            overdue_at(at),
            s,
            u,
            flt.case_where(),
        )
    )
    keys = ("new", "accepted", "closed", "overdue", "big")
    return {r["g"]: {k: _n(r[k]) for k in keys} for r in rows if r["g"]}


async def new_by(flt: Filter, group: str, current: Span, previous: Span) -> dict[str, dict[str, int]]:
    """New cases per group in a span and in the span before it (week over week)."""
    rows = await run(
        q(
            f"SELECT {GROUPS[group]} AS g, "
            "SUM(CASE WHEN dispute_case.reported_at >= {} THEN 1 ELSE 0 END) AS new, "
            "SUM(CASE WHEN dispute_case.reported_at < {} THEN 1 ELSE 0 END) AS previous "
            "FROM dispute_case WHERE {} AND dispute_case.reported_at >= {} AND dispute_case.reported_at < {} "
            f"AND dispute_case.state <> 'merged' GROUP BY {GROUPS[group]}",
            current.since,
            current.since,
            flt.case_where(),
            previous.since,
            current.until,
        )
    )
    return {r["g"]: {"new": _n(r["new"]), "previous": _n(r["previous"])} for r in rows if r["g"]}


async def closed_and_overdue_by_township(flt: Filter, span: Span, at: datetime) -> dict[str, dict]:
    """Per township: closed in the span, and overdue at the instant `at`."""
    rows = await run(
        q(
            "SELECT dispute_case.township_code AS g, "
            f"SUM(CASE WHEN dispute_case.state IN {CLOSED_IN} AND dispute_case.closed_at >= {{}} "
            "AND dispute_case.closed_at < {} THEN 1 ELSE 0 END) AS closed, "
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS overdue "
            "FROM dispute_case WHERE {} GROUP BY dispute_case.township_code",
            span.since,
            span.until,
            overdue_at(at),
            flt.case_where(),
        )
    )
    return {r["g"]: {"closed": _n(r["closed"]), "overdue": _n(r["overdue"])} for r in rows if r["g"]}


async def hotspot_grids(flt: Filter, span: Span, limit: int = 10) -> list[dict[str, Any]]:
    """The grids with the most new cases in the span (ties by code, so the list is stable)."""
    return await run(
        q(
            "SELECT dispute_case.grid_code AS grid, dispute_case.village_code AS village, "
            "dispute_case.township_code AS township, COUNT(*) AS new "
            "FROM dispute_case WHERE {} AND {} AND dispute_case.grid_code IS NOT NULL "
            "GROUP BY dispute_case.grid_code, dispute_case.village_code, dispute_case.township_code "
            "ORDER BY COUNT(*) DESC, dispute_case.grid_code LIMIT {}",
            flt.case_where(),
            reported_in(span),
            limit,
        )
    )


async def screening_counts(flt: Filter, at: datetime, older_than: datetime) -> dict[str, dict[str, int]]:
    """Per township, the monthly screening's counts as of the instant `at`, from timestamps: cases
    reported before `older_than` and unresolved at `at`, cases overdue at `at`, sync conflicts (no
    timestamp: as they stand now), and return visits late at `at`."""
    rows = await run(
        q(
            "SELECT dispute_case.township_code AS g, "
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS unresolved, "
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS overdue, "
            "SUM(CASE WHEN dispute_case.conflict = {} AND dispute_case.state NOT IN ('merged', 'archived') "
            "THEN 1 ELSE 0 END) AS conflicts "
            "FROM dispute_case WHERE {} AND dispute_case.reported_at < {} "
            "GROUP BY dispute_case.township_code",
            unresolved_at(at, older_than),
            overdue_at(at),
            True,
            flt.case_where(),
            at,
        )
    )
    out = {
        r["g"]: {
            "unresolved": _n(r["unresolved"]),
            "overdue": _n(r["overdue"]),
            "conflicts": _n(r["conflicts"]),
        }
        for r in rows
        if r["g"]
    }
    visit_rows = await run(
        q(
            "SELECT dispute_case.township_code AS g, COUNT(*) AS n "
            'FROM visit JOIN dispute_case ON dispute_case.id = visit."case" '
            "WHERE {} AND {} GROUP BY dispute_case.township_code",
            flt.visit_where(),
            visit_overdue_at(at),
        )
    )
    for r in visit_rows:
        if r["g"]:
            out.setdefault(r["g"], {"unresolved": 0, "overdue": 0, "conflicts": 0})["visits_overdue"] = _n(
                r["n"]
            )
    return out


# --- repeated disputes ----------------------------------------------------------------------------


def _materialized() -> str:
    """`AS MATERIALIZED` where the engine takes the hint (SQLite 3.35+, PostgreSQL 12+), else nothing."""
    if engine_name() == "postgresql":
        return "MATERIALIZED "
    return "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35, 0) else ""


async def repeated_parties(flt: Filter, span: Span) -> list[dict[str, Any]]:
    """Cases of the span sharing a party (the same ID number, or the same phone), twice or more.
    Returns (kind, key, case) rows of the repeating keys only; a key is the value's keyed hash, which
    the caller turns into a masked label (cases.party_data.masked_by_hash).

    The span's cases in scope first (the reported_at index), their parties joined once, then grouped:
    never a walk over every party of every case."""
    out: list[dict[str, Any]] = []
    m = _materialized()
    # Phones and ID numbers are encrypted at rest: grouped by their keyed hashes (cases/party_data.py).
    for kind in ("id_number", "phone"):
        column = f"{kind}_hash"
        rows = await run(
            q(
                "WITH sc AS (SELECT dispute_case.id AS id FROM dispute_case WHERE {} AND {}), "
                f'p AS {m}(SELECT case_party.{column} AS key, case_party."case" AS id '
                'FROM sc JOIN case_party ON case_party."case" = sc.id '
                f"WHERE case_party.{column} IS NOT NULL) "
                "SELECT DISTINCT key, id FROM p "
                "WHERE key IN (SELECT key FROM p GROUP BY key HAVING COUNT(DISTINCT id) >= 2)",
                flt.case_where(),
                reported_in(span),
            )
        )
        out.extend({"kind": kind, "key": r["key"], "id": r["id"]} for r in rows)
    return out


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    # Equirectangular: exact enough at 100 m.
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot(x, math.radians(lat2 - lat1)) * 6_371_008.8


async def nearby_pairs(flt: Filter, span: Span) -> list[tuple[Any, Any]]:
    """Pairs of the span's cases within 100 m of each other. SQL finds the candidates: cases in the
    same or the next ~111 m latitude band, joined on band equality (a hash join on PostgreSQL, an
    automatic index on SQLite; a range join compared every pair) and then by a box; the exact
    distance is checked here on those few."""
    pair = (
        "SELECT a.id AS a, b.id AS b, a.lon AS alon, a.lat AS alat, b.lon AS blon, b.lat AS blat "
        "FROM pts a JOIN pts b ON b.band = a.band + {} AND (b.band > a.band OR b.id > a.id) "
        "AND b.lat BETWEEN a.lat - {} AND a.lat + {} AND b.lon BETWEEN a.lon - {} AND a.lon + {}"
    )
    box = (_NEAR_DLAT, _NEAR_DLAT, _NEAR_DLON, _NEAR_DLON)
    rows = await run(
        q(
            "WITH pts AS (SELECT dispute_case.id AS id, dispute_case.lon AS lon, dispute_case.lat AS lat, "
            "CAST(dispute_case.lat * 1000 AS INTEGER) AS band FROM dispute_case WHERE {} AND {}) "
            + pair
            + " UNION ALL "
            + pair,
            flt.case_where(),
            reported_in(span),
            0,
            *box,
            1,
            *box,
        )
    )
    return [(r["a"], r["b"]) for r in rows if _metres(r["alon"], r["alat"], r["blon"], r["blat"]) <= NEARBY_M]


# --- dashboard ------------------------------------------------------------------------------------


async def state_counts(flt: Filter, now: datetime, today: Span) -> dict[str, int]:
    rows = await run(
        q(
            "SELECT "
            "SUM(CASE WHEN dispute_case.reported_at >= {} AND dispute_case.reported_at < {} "
            "AND dispute_case.state <> 'merged' THEN 1 ELSE 0 END) AS new, "
            f"{_count_when(_STATE + ' = ' + _ACCEPTED)} AS accepted, "
            f"{_count_when(_STATE + ' IN ' + _in(('mediating', 'reopened')))} AS mediating, "
            f"{_count_when(_STATE + ' = ' + _RESOLVED)} AS resolved, "
            f"{_count_when(f'dispute_case.state IN {CLOSED_IN}')} AS closed, "
            "SUM(CASE WHEN {} THEN 1 ELSE 0 END) AS overdue "
            "FROM dispute_case WHERE {}",
            today.since,
            today.until,
            overdue_at(now),
            flt.case_where(),
        )
    )
    r = rows[0] if rows else {}
    return {k: _n(r.get(k)) for k in ("new", "accepted", "mediating", "resolved", "closed", "overdue")}


async def visit_counts(flt: Filter, today: Span) -> dict[str, int]:
    """Visits to do now (pending, due today or before) and visits done today."""
    rows = await run(
        q(
            "SELECT "
            "SUM(CASE WHEN visit.state = 'pending' AND visit.due_date <= {} THEN 1 ELSE 0 END) AS due, "
            "SUM(CASE WHEN visit.state = 'done' AND visit.done_at >= {} AND visit.done_at < {} "
            "THEN 1 ELSE 0 END) AS done "
            'FROM visit JOIN dispute_case ON dispute_case.id = visit."case" WHERE {}',
            today.end,
            today.since,
            today.until,
            flt.visit_where(),
        )
    )
    r = rows[0] if rows else {}
    return {"visits_due": _n(r.get("due")), "visits_done": _n(r.get("done"))}


async def weekly_trend(flt: Filter, weeks: list[Span]) -> list[dict[str, int]]:
    """New and closed per week, one SUM(CASE) pair per week in a single pass over the window."""
    parts, args = [], []
    for i, w in enumerate(weeks):
        parts.append(
            "SUM(CASE WHEN dispute_case.reported_at >= {} AND dispute_case.reported_at < {} "
            f"AND dispute_case.state <> 'merged' THEN 1 ELSE 0 END) AS new{i}, "
            f"SUM(CASE WHEN dispute_case.state IN {CLOSED_IN} AND dispute_case.closed_at >= {{}} "
            f"AND dispute_case.closed_at < {{}} THEN 1 ELSE 0 END) AS closed{i}"
        )
        args += [w.since, w.until, w.since, w.until]
    first, last = weeks[0].since, weeks[-1].until
    rows = await run(
        q(
            "SELECT " + ", ".join(parts) + " FROM dispute_case WHERE {} AND ("
            "(dispute_case.reported_at >= {} AND dispute_case.reported_at < {}) OR "
            "(dispute_case.closed_at >= {} AND dispute_case.closed_at < {}))",
            *args,
            flt.case_where(),
            first,
            last,
            first,
            last,
        )
    )
    r = rows[0] if rows else {}
    return [{"new": _n(r.get(f"new{i}")), "closed": _n(r.get(f"closed{i}"))} for i in range(len(weeks))]


async def category_counts(flt: Filter, span: Span) -> dict[str, int]:
    rows = await run(
        q(
            "SELECT dispute_case.category AS g, COUNT(*) AS n FROM dispute_case WHERE {} AND {} "
            "GROUP BY dispute_case.category",
            flt.case_where(),
            cohort(span),
        )
    )
    return {r["g"]: _n(r["n"]) for r in rows}
