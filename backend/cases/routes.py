"""HTTP routes of the cases domain: thin controllers over the services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_204_NO_CONTENT

from backend.cases import categories, mapview, schemas, service, workflow
from backend.cases.tables import AuditEntry
from backend.core import clock
from backend.core.errors import AppError, InvalidRequest
from backend.core.http import requires_role
from backend.people.roles import Role
from backend.people.service import CurrentUser, load_current_user

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html", "j2"])
)
KEEPALIVE_SECONDS = 20.0
PARTY_ROLES = {"applicant": "申请人", "respondent": "被申请人", "party": "当事人", "witness": "证人"}


class CategoryController(Controller):
    path = "/api/categories"
    tags = ["cases"]

    @get("/", operation_id="list_categories")
    async def list_categories(self, include_inactive: FromQuery[bool] = False) -> list[schemas.CategoryView]:
        """The dispute categories (active ones unless asked)."""
        return await categories.list_categories(include_inactive)

    @post("/", operation_id="create_category", guards=[requires_role(Role.county_admin)])
    async def create_category(self, data: JSONBody[schemas.CategoryCreate]) -> schemas.CategoryView:
        """Add a category (county office)."""
        return await categories.create_category(data)

    @patch("/{code:str}", operation_id="update_category", guards=[requires_role(Role.county_admin)])
    async def update_category(
        self, code: FromPath[str], data: JSONBody[schemas.CategoryUpdate]
    ) -> schemas.CategoryView:
        """Rename, remap or deactivate a category."""
        return await categories.update_category(code, data)

    @delete(
        "/{code:str}",
        operation_id="delete_category",
        guards=[requires_role(Role.county_admin)],
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_category(self, code: FromPath[str]) -> None:
        """Delete a category no case uses (409 otherwise: deactivate it instead)."""
        await categories.delete_category(code)


def _parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if not raw:
        return None
    try:
        parts = tuple(float(x) for x in raw.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not (-180 <= parts[0] <= parts[2] <= 180 and -90 <= parts[1] <= parts[3] <= 90):
        raise InvalidRequest(
            message="范围参数应为 最小经度,最小纬度,最大经度,最大纬度",
            message_en="bbox=minLon,minLat,maxLon,maxLat",
            code="geo.invalid_bbox",
        )
    return parts  # type: ignore[return-value]


def _flag(raw: str | None) -> bool:
    return (raw or "").lower() in ("1", "true", "yes")


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]

    @post("/", operation_id="create_case")
    async def create_case(
        self, data: JSONBody[schemas.CaseCreate], request: Request[CurrentUser, Any, State]
    ) -> Response:
        """Log a dispute with the phone's id: 201 new, 200 identical replay, 409 same id, other content."""
        status, detail = await service.create_case(request.user, data)
        body: Any = msgspec.to_builtins(detail) if detail else {"id": str(data.id), "visible": False}
        return Response(body, status_code=status)

    @get("/", operation_id="list_cases")
    async def list_cases(
        self,
        request: Request[CurrentUser, Any, State],
        case_state: Annotated[str | None, QueryParameter(name="state")] = None,
        category: FromQuery[str | None] = None,
        township: FromQuery[str | None] = None,
        village: FromQuery[str | None] = None,
        grid: FromQuery[str | None] = None,
        level: FromQuery[str | None] = None,
        bbox: FromQuery[str | None] = None,
        overdue: FromQuery[str | None] = None,
        conflict: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> schemas.CasePage:
        """Cases in your area, last changed first. Personal data is masked in lists."""
        filters = {
            "state": case_state,
            "category": category,
            "township": township,
            "village": village,
            "grid": grid,
            "level": level,
            "bbox": _parse_bbox(bbox),
            "overdue": _flag(overdue),
            "conflict": _flag(conflict),
            "since": since,
        }
        return await service.list_cases(request.user, filters, cursor, max(1, min(limit, 200)))

    @get("/{case_id:str}", operation_id="get_case")
    async def get_case(
        self, case_id: FromPath[str], request: Request[CurrentUser, Any, State]
    ) -> schemas.CaseDetail:
        """One case with timeline, photos, agreement and duplicates; full personal data only for those
        who work the case (and the read is audited)."""
        return await service.case_detail(request.user, case_id)

    @post("/{case_id:str}/actions", operation_id="act_on_case", status_code=200)
    async def act(
        self,
        case_id: FromPath[str],
        data: JSONBody[schemas.Action],
        request: Request[CurrentUser, Any, State],
    ) -> schemas.CaseDetail:
        """Move the case on: accept, reject, refer, assign, escalate, note, resolve, fail, close, reopen,
        correct_location, extend_deadline, clear_conflict, merge, dismiss_duplicate."""
        row = await workflow.apply_action(request.user, case_id, data)
        return await service.case_detail(request.user, row["id"])

    @get("/{case_id:str}/agreement", operation_id="get_agreement")
    async def agreement(
        self,
        case_id: FromPath[str],
        request: Request[CurrentUser, Any, State],
        format: FromQuery[str] = "html",
    ) -> Response:
        """The mediation agreement (调解协议书) as a printable A4 page in Chinese."""
        context = await service.agreement_for_print(request.user, case_id)
        if format == "json":
            a = context["agreement"]
            return Response({k: a[k] for k in ("facts", "matters", "terms", "performance", "signed_photo")})
        html = _templates.get_template("agreement.html.j2").render(
            **context, roles=PARTY_ROLES, tz=clock.LOCAL_TZ
        )
        return Response(html, media_type="text/html", headers={"Cache-Control": "private, no-store"})


class MapController(Controller):
    """The supervisors' map: markers, choropleth cells, a cell's figures, and live changes."""

    path = "/api/map"
    tags = ["map"]

    @get("/config", operation_id="map_config")
    async def config(self, request: Request[CurrentUser, Any, State]) -> dict[str, Any]:
        """Base tiles (none, tianditu or osm, from settings) and the bounds of your area."""
        return await mapview.config(request.user, request.app.state.settings)

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
        limit: FromQuery[int] = mapview.DEFAULT_MARKERS,
    ) -> dict[str, Any]:
        """Case markers in your area as compact rows (`fields` names the columns), newest first;
        `truncated` when more matched than `limit` (at most 50,000)."""
        filters = {
            "bbox": _parse_bbox(bbox),
            "state": case_state,
            "category": category,
            "level": level,
            "from": mapview.parse_day(date_from, "from"),
            "to": mapview.parse_day(date_to, "to"),
            "overdue": _flag(overdue),
            "conflict": _flag(conflict),
        }
        return await mapview.markers(request.user, filters, limit)

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
    ) -> dict[str, Any]:
        """Every cell of a level in your area with its figure: open (在办), overdue, or new between
        from and to (local dates; default the last 30 days)."""
        filters = {
            "from": mapview.parse_day(date_from, "from"),
            "to": mapview.parse_day(date_to, "to"),
            "category": category,
            "level": case_level,
        }
        return await mapview.cells(request.user, level, metric, filters)

    @get("/cells/{code:str}", operation_id="map_cell")
    async def cell(self, code: FromPath[str], request: Request[CurrentUser, Any, State]) -> dict[str, Any]:
        """One township, village or grid: its cases by state, open, overdue and conflicts."""
        return await mapview.cell_summary(request.user, code)

    @get("/events", operation_id="map_events")
    async def events(self, request: Request[CurrentUser, Any, State]) -> ServerSentEvent:
        """Server-sent events: `ready`, then a `case` event (its marker row) whenever a case in your area
        is logged or changes, `gone` when one you were told about leaves your area or is merged, and a
        keep-alive comment every 20 s. Event ids are change ids: reconnect with Last-Event-ID to get
        what was missed. The stream ends when your device is revoked or your role or area changes."""
        user = request.user
        feed = await mapview.LiveFeed.open(user, request.headers.get("last-event-id"))

        async def stream() -> AsyncIterator[ServerSentEventMessage]:
            yield ServerSentEventMessage(event="ready", data="{}", retry=5000)
            idle = 0.0
            while True:
                events = await asyncio.shield(feed.poll())
                for event in events:
                    name = "gone" if event["action"] == "gone" else "case"
                    yield ServerSentEventMessage(
                        event=name, id=event["id"], data=msgspec.json.encode(event).decode()
                    )
                if events:
                    continue
                await asyncio.sleep(mapview.LIVE_POLL_SECONDS)
                idle += mapview.LIVE_POLL_SECONDS
                if idle >= KEEPALIVE_SECONDS:
                    idle = 0.0
                    if not await _still_the_same(user):
                        return
                    yield ServerSentEventMessage(comment="keep-alive")

        return ServerSentEvent(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _still_the_same(user: CurrentUser) -> bool:
    """A long-lived stream re-checks its listener: a revoked phone or a moved user stops hearing."""
    try:
        now = await load_current_user(user.id, user.device_id)
    except AppError:
        return False
    return (now.role, now.scope_level, now.scope_code, now.team_id) == (
        user.role,
        user.scope_level,
        user.scope_code,
        user.team_id,
    )


@get("/api/audit", operation_id="list_audit", tags=["audit"], guards=[requires_role(Role.county_admin)])
async def list_audit(
    case: FromQuery[uuid.UUID | None] = None,
    user: FromQuery[int | None] = None,
    since: FromQuery[datetime | None] = None,
    before_id: FromQuery[int | None] = None,
    limit: FromQuery[int] = 100,
) -> list[schemas.AuditView]:
    """Who read personal data or changed a case, newest first (county office)."""
    query = AuditEntry.select(AuditEntry.all_columns(), AuditEntry.user.username)
    if case is not None:
        query = query.where(AuditEntry.case == case)
    if user is not None:
        query = query.where(AuditEntry.user == user)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = await query.order_by(AuditEntry.id, ascending=False).limit(max(1, min(limit, 500))).run()
    return [
        schemas.AuditView(
            id=r["id"],
            at=r["at"],
            user_id=r["user"],
            username=r["user.username"],
            device=r["device"],
            client_addr=r["client_addr"],
            action=r["action"],
            case=str(r["case"]) if r["case"] else None,
            detail=r["detail"] if isinstance(r["detail"], dict) else msgspec.json.decode(r["detail"] or "{}"),
        )
        for r in rows
    ]


ROUTES = [CategoryController, CaseController, MapController, list_audit]
