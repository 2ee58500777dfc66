"""HTTP routes of the visits domain: lists, one visit, recording, and the schedule policy."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK
from litestar.types import ControllerRouterHandler

from backend.core.http import requires_role
from backend.core.identity import CurrentUser, Role
from backend.visits import policy, schemas, service


class VisitController(Controller):
    path = "/api/visits"
    tags = ["visits"]

    @get("/", operation_id="list_visits")
    async def list_visits(
        self,
        request: Request[CurrentUser, Any, State],
        mine: FromQuery[bool] = False,
        status: FromQuery[str | None] = None,
        due_before: FromQuery[str | None] = None,
        case: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
    ) -> schemas.VisitPage:
        """Return visits in your area, earliest due first. `due_before` (a date, or a time) keeps those
        due on or before it, counted in Asia/Shanghai days; `status`: open (default), scheduled, due,
        overdue, done, cancelled, all; `mine=1`: assigned to you."""
        return await service.list_visits(
            request.user,
            mine=mine,
            status=status,
            due_before=due_before,
            case_id=case,
            cursor=cursor,
            limit=limit,
        )

    @get("/{visit_id:uuid}", operation_id="get_visit")
    async def get_visit(
        self, visit_id: FromPath[uuid.UUID], request: Request[CurrentUser, Any, State]
    ) -> schemas.VisitView:
        """One visit with its record."""
        return await service.get_visit(request.user, visit_id)

    @post("/{visit_id:uuid}/record", status_code=HTTP_200_OK, operation_id="record_visit")
    async def record_visit(
        self,
        visit_id: FromPath[uuid.UUID],
        data: JSONBody[schemas.VisitRecord],
        request: Request[CurrentUser, Any, State],
    ) -> schemas.VisitView:
        """Record a visit: method, satisfaction, recurred, notes, photos, GPS. The same record again is
        answered as before; a different one is 409 visit.already_recorded. Unsatisfied or recurred
        reopens the case; the last visit satisfied archives it."""
        return (await service.record_visit(request.user, visit_id, data)).visit


class VisitPolicyController(Controller):
    path = "/api/visit-policies"
    tags = ["visits"]

    @get("/", operation_id="list_visit_policies")
    async def list_policies(self) -> list[schemas.PolicyView]:
        """The visit schedule: days after closing, per level, and any per-category rules."""
        return await policy.list_policies()

    @put("/", operation_id="set_visit_policy", guards=[requires_role(Role.county_admin)])
    async def set_policy(
        self, data: JSONBody[schemas.PolicyIn], request: Request[CurrentUser, Any, State]
    ) -> list[schemas.PolicyView]:
        """Set the schedule for a level, or for a level and category (county office)."""
        return await policy.set_policy(request.user, data)

    @delete(
        "/",
        status_code=HTTP_200_OK,
        operation_id="delete_visit_policy",
        guards=[requires_role(Role.county_admin)],
    )
    async def delete_policy(self, data: JSONBody[schemas.PolicyDelete]) -> list[schemas.PolicyView]:
        """Back to the default for a level (or drop a per-category rule)."""
        return await policy.delete_policy(data)


ROUTES: list[ControllerRouterHandler] = [VisitController, VisitPolicyController]
