"""HTTP routes of the supervisors' map: markers, choropleth cells, a cell's figures, and live changes."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.types import ControllerRouterHandler

from backend.core import bus, sse
from backend.core.http import flag
from backend.core.identity import CurrentUser
from backend.grids.maps import parse_bbox
from backend.map import live, schemas, service
from backend.people.service import still_current
from backend.screenings import schemas as screening_schemas
from backend.screenings import service as screenings


class MapController(Controller):
    path = "/api/map"
    tags = ["map"]

    @get("/config", operation_id="map_config")
    async def config(self, request: Request[CurrentUser, Any, State]) -> schemas.MapConfig:
        """Base tiles (none, tianditu or osm, from settings) and the bounds of your area."""
        return await service.config(request.user, request.app.state.settings)

    @get("/screenings", operation_id="map_screenings")
    async def screenings(
        self, request: Request[CurrentUser, Any, State], month: FromQuery[str | None] = None
    ) -> screening_schemas.ScreeningLayer:
        """The "screened this month" layer (月排查): the villages served by the teams of your area (a
        team member: their team's), each screened or not in `month` (YYYY-MM, default this month),
        with its reports and leads; drawn on the village boundaries."""
        return await screenings.village_status(request.user, month)

    @get("/cases", operation_id="map_cases")
    async def cases(
        self,
        request: Request[CurrentUser, Any, State],
        bbox: FromQuery[str | None] = None,
        case_state: Annotated[str | None, QueryParameter(name="state")] = None,
        category: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        date_from: Annotated[str | None, QueryParameter(name="from")] = None,
        date_to: Annotated[str | None, QueryParameter(name="to")] = None,
        overdue: FromQuery[str | None] = None,
        conflict: FromQuery[str | None] = None,
        limit: FromQuery[int] = service.DEFAULT_MARKERS,
        risk: FromQuery[str | None] = None,
        leader: FromQuery[str | None] = None,
    ) -> schemas.Markers:
        """Case markers in your area as compact rows (`fields` names the columns), newest first;
        `truncated` when more matched than `limit` (at most 50,000). `risk`: a comma list of
        green, yellow, red (the risk layer). `leader=me`: only the cases in your charge (包案)."""
        filters = {
            "bbox": parse_bbox(bbox),
            "state": case_state,
            "category": category,
            "level": level,
            "from": service.parse_day(date_from, "from"),
            "to": service.parse_day(date_to, "to"),
            "overdue": flag(overdue),
            "conflict": flag(conflict),
            "risk": risk,
            "leader": leader,
        }
        return await service.markers(request.user, filters, limit)

    @get("/cells", operation_id="map_cells")
    async def cells(
        self,
        request: Request[CurrentUser, Any, State],
        level: FromQuery[str] = "township",
        metric: FromQuery[str] = "open",
        date_from: Annotated[str | None, QueryParameter(name="from")] = None,
        date_to: Annotated[str | None, QueryParameter(name="to")] = None,
        category: FromQuery[str | None] = None,
        case_level: FromQuery[str | None] = None,
    ) -> schemas.Cells:
        """Every cell of a level in your area with its figure: open (在办), overdue, or new between
        from and to (local dates; default the last 30 days)."""
        filters = {
            "from": service.parse_day(date_from, "from"),
            "to": service.parse_day(date_to, "to"),
            "category": category,
            "level": case_level,
        }
        return await service.cells(request.user, level, metric, filters)

    @get("/cells/{code:str}", operation_id="map_cell")
    async def cell(
        self, code: FromPath[str], request: Request[CurrentUser, Any, State]
    ) -> schemas.CellSummary:
        """One township, village or grid: its cases by state, open, overdue and conflicts."""
        return await service.cell_summary(request.user, code)

    @get("/events", operation_id="map_events")
    async def events(self, request: Request[CurrentUser, Any, State]) -> ServerSentEvent:
        """Server-sent events: `ready`, then a `case` event (its marker row) whenever a case in your area
        is logged or changes, `gone` when one you were told about leaves your area or is merged, and a
        keep-alive comment every 20 s. Event ids are change ids: reconnect with Last-Event-ID to get
        what was missed. The stream ends when your device is revoked or your role or area changes."""
        user = request.user
        last_event_id = request.headers.get("last-event-id")

        async def stream():
            # Subscribed before the feed reads where it starts, so no change falls in between.
            with bus.subscribe(live.TOPIC, user.township_code) as signals:
                feed = await live.LiveFeed.open(user, last_event_id)

                async def changes(wait: float) -> list[ServerSentEventMessage]:
                    return [
                        ServerSentEventMessage(
                            event="gone" if c.action == "gone" else "case",
                            id=c.id,
                            data=msgspec.json.encode(c).decode(),
                        )
                        for c in await feed.next_changes(signals, wait)
                    ]

                yield ServerSentEventMessage(event="ready", data="{}", retry=sse.RETRY_MS)
                async for message in sse.events(changes, lambda: still_current(user)):
                    yield message

        return sse.response(stream())


ROUTES: list[ControllerRouterHandler] = [MapController]
