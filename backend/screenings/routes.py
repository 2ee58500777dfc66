"""HTTP routes of the screenings domain: report a screened village, and read the month's reports."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from backend.core.identity import CurrentUser
from backend.screenings import schemas, service


class ScreeningController(Controller):
    path = "/api/screenings"
    tags = ["screenings"]

    @post("/", operation_id="record_screening")
    async def record_screening(
        self, data: JSONBody[schemas.ScreeningCreate], request: Request[CurrentUser, Any, State]
    ) -> Response[schemas.ScreeningView]:
        """月排查: a village your team serves, screened this month: households visited and the disputes
        found (`found: []` says nothing was found). `id` (made by the client) makes a retry safe: the same
        report again is 200 with the stored one; with `case_id` filled in on leads it links them to the
        cases they became; anything else different is 409 screening.already_recorded. 201 when new."""
        recorded = await service.record(request.user, data.id or uuid.uuid4(), data)
        return Response(recorded.screening, status_code=201 if recorded.code == "screening.recorded" else 200)

    @get("/", operation_id="list_screenings")
    async def list_screenings(
        self,
        request: Request[CurrentUser, Any, State],
        month: FromQuery[str | None] = None,
        village: FromQuery[str | None] = None,
    ) -> schemas.ScreeningPage:
        """The month's screening reports (default this month) you may see: your team's, or your area's."""
        return await service.list_screenings(request.user, month, village)

    @get("/{screening_id:uuid}", operation_id="get_screening")
    async def get_screening(
        self, screening_id: FromPath[uuid.UUID], request: Request[CurrentUser, Any, State]
    ) -> schemas.ScreeningView:
        """One screening report with its leads."""
        return await service.get_screening(request.user, screening_id)


ROUTES: list[ControllerRouterHandler] = [ScreeningController]
