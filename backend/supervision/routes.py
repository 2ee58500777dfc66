"""HTTP routes of the supervision domain: the 督办 list. Orders are issued and answered as case actions
(POST /api/cases/{id}/actions), so they go through the workflow and the sync outbox like the rest."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.types import ControllerRouterHandler

from backend.core.identity import CurrentUser
from backend.supervision import schemas, service


@get("/api/supervision", operation_id="list_supervision", tags=["supervision"])
async def list_supervision(
    request: Request[CurrentUser, Any, State], status: FromQuery[str | None] = None
) -> schemas.SupervisionPage:
    """督办 orders on the cases you see: `status` open (default), overdue (red: not acknowledged in 24 h
    or past the due date), awaiting (reported, waiting for acceptance) or all; red first, then by due
    date; with the counts of open, red and awaiting orders."""
    return await service.supervision_list(request.user, status)


ROUTES: list[ControllerRouterHandler] = [list_supervision]
