"""API shapes of the supervisors' map (msgspec: they are the OpenAPI schema too)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from backend.reports.schemas import Rate


class MapConfig(msgspec.Struct):
    tiles: Literal["none", "tianditu", "osm"]
    tianditu_key: str | None
    bounds: list[float] | None  # min_lon, min_lat, max_lon, max_lat of the user's area
    township: str | None  # the user's township; None for the county office


class Markers(msgspec.Struct):
    """Compact rows: `fields` names the columns, one list per case (half the bytes of objects)."""

    fields: list[str]
    rows: list[list[Any]]
    total: int  # how many matched in all
    truncated: bool  # more matched than were sent


class CellValue(msgspec.Struct):
    code: str
    name: str
    value: int


class Cells(msgspec.Struct):
    level: str
    metric: str
    from_: str | None = msgspec.field(name="from")  # the period of the `new` metric (local dates)
    to: str | None
    cells: list[CellValue]
    max: int


class CellSummary(msgspec.Struct):
    code: str
    name: str
    level: str
    parent_code: str | None
    total: int
    open: int
    overdue: int
    conflict: int
    by_state: dict[str, int]
    rates: list[Rate]  # the five rates over the last 12 months (backend.reports.rates)


class LiveChange(msgspec.Struct, omit_defaults=True):
    """One live event: a case's marker row (action create, update, accept, ...), or `gone` with the
    case's id when a case the map was told about left the area or was merged."""

    id: int  # the change id (the SSE event id; Last-Event-ID resumes after it)
    action: str
    row: list[Any] | None = None
    case: str | None = None
