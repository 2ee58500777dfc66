"""HTTP routes of the supervision domain: the 督办 list. Orders are issued and answered as case actions
(POST /api/cases/{id}/actions), so they go through the workflow and the sync outbox like the rest."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, put
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody
from litestar.types import ControllerRouterHandler

from backend.cases import risk
from backend.core.http import requires_role
from backend.core.identity import CurrentUser, Role
from backend.supervision import schemas, service


@get("/api/supervision", operation_id="list_supervision", tags=["supervision"])
async def list_supervision(
    request: Request[CurrentUser, Any, State], status: FromQuery[str | None] = None
) -> schemas.SupervisionPage:
    """督办 orders on the cases you see: `status` open (default), overdue (red: not acknowledged in 24 h
    or past the due date), awaiting (reported, waiting for acceptance) or all; red first, then by due
    date; with the counts of open, red and awaiting orders."""
    return await service.supervision_list(request.user, status)


@get("/api/risk-rules", operation_id="get_risk_rules", tags=["supervision"])
async def get_risk_rules() -> risk.RiskRulesView:
    """The county's risk rules (风险等级 at intake): level, number of parties, keywords, repeated
    dispute, category; each gives yellow or red, the highest match wins."""
    return await risk.rules_view()


@put("/api/risk-rules", operation_id="set_risk_rules", guards=[requires_role(Role.county_admin)])
async def set_risk_rules(
    request: Request[CurrentUser, Any, State], data: JSONBody[risk.RiskRules]
) -> risk.RiskRulesView:
    """Replace the county's risk rules (county office); new cases are coloured by them."""
    return await risk.set_rules(request.user, data)


ROUTES: list[ControllerRouterHandler] = [list_supervision, get_risk_rules, set_risk_rules]
