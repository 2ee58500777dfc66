"""HTTP routes of the cases domain: thin controllers over the services."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from backend.cases import agreement as agreements
from backend.cases import categories, dossier, intake, privacy, schemas, views, workflow
from backend.core.errors import InvalidRequest, NotFound
from backend.core.http import flag, requires_role
from backend.core.identity import CurrentUser, Role
from backend.grids.maps import parse_bbox
from backend.visits import service as visits

NO_STORE = {"Cache-Control": "private, no-store"}  # personal data: never kept in a shared cache


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


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]

    @post("/", operation_id="create_case")
    async def create_case(
        self, data: JSONBody[schemas.CaseCreate], request: Request[CurrentUser, Any, State]
    ) -> Response:
        """Log a dispute with the phone's id: 201 new, 200 identical replay, 409 same id, other content
        (with the server's copy, so the phone can show both)."""
        user = request.user
        try:
            logged = await intake.create_case(user, data)
        except intake.CaseIdConflict as clash:
            copy = await _detail_if_visible(user, clash.case_id)
            clash.details["server_copy"] = msgspec.to_builtins(copy) if copy else None
            raise
        status = 201 if logged.created else 200
        detail = await _detail_if_visible(user, logged.case_id, just_created=logged.created)
        if detail is None:  # logged where this user does not work, or since moved out of their scope
            return Response(msgspec.to_builtins(await views.receipt(data.id)), status_code=status)
        detail.locate = logged.locate
        return Response(msgspec.to_builtins(detail), status_code=status)

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
        leader: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        reported_from: FromQuery[datetime | None] = None,
        reported_before: FromQuery[datetime | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
    ) -> schemas.CasePage:
        """Cases in your area, last changed first. Personal data is masked in lists. `q` finds a case
        by its number, a party's name or phone (or ID number), exactly or by its start; a search by
        phone or ID number is written to the audit log. `reported_from` / `reported_before` keep the
        cases reported in [from, before) (a dashboard tile's or a report row's cases). `leader`: me (the
        cases in your charge, 包案), any, none or a leader's user id."""
        filters = {
            "q": q,
            "reported_from": reported_from,
            "reported_before": reported_before,
            "state": case_state,
            "category": category,
            "township": township,
            "village": village,
            "grid": grid,
            "level": level,
            "bbox": parse_bbox(bbox),
            "overdue": flag(overdue),
            "conflict": flag(conflict),
            "since": since,
            "leader": leader,
        }
        return await views.list_cases(request.user, filters, cursor, max(1, min(limit, 200)))

    @get("/{case_id:str}", operation_id="get_case")
    async def get_case(
        self, case_id: FromPath[str], request: Request[CurrentUser, Any, State]
    ) -> schemas.CaseDetail:
        """One case with timeline, photos, agreement, duplicates and return visits; full personal data
        only for those who work the case (and the read is audited)."""
        return await _detail(request.user, case_id)

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
        return await _detail(request.user, row["id"])

    @get("/{case_id:str}/leaders", operation_id="list_case_leaders")
    async def list_case_leaders(
        self, case_id: FromPath[str], request: Request[CurrentUser, Any, State]
    ) -> list[schemas.LeaderView]:
        """The leaders who may take charge of the case (包案): the county's and its township's, for those
        who assign them (the county office, the township's 综治中心)."""
        return await views.leader_candidates(request.user, case_id)

    @get("/{case_id:str}/agreement", operation_id="get_agreement")
    async def agreement(
        self,
        case_id: FromPath[str],
        request: Request[CurrentUser, Any, State],
        format: FromQuery[str] = "html",
    ) -> Response:
        """The mediation agreement (调解协议书) as a printable A4 page in Chinese, to print before signing:
        one copy per party and one for the village's 人民调解委员会 (an oral agreement: its register
        entry). `format=json`: the agreement's fields. Every print is audited."""
        _html_or_json(format)
        context = await agreements.print_context(request.user, case_id, purpose=format)
        if format == "json":
            return Response(agreements.agreement_json(context), headers=NO_STORE)
        return Response(agreements.render_agreement_html(context), media_type="text/html", headers=NO_STORE)

    @get("/{case_id:str}/dossier", operation_id="get_dossier")
    async def dossier(
        self,
        case_id: FromPath[str],
        request: Request[CurrentUser, Any, State],
        format: FromQuery[str] = "html",
    ) -> Response:
        """The case file (卷宗) of a closed or archived case as a printable A4 page: cover with the archive
        number, registration form, mediation records, agreement, return visits, photo index and event
        log. Every print is audited."""
        if format != "html":
            raise InvalidRequest(
                message="卷宗格式只能为 html（打印时可另存为 PDF）",
                message_en="format must be html (print it to PDF)",
                code="case.invalid_format",
            )
        user = request.user
        html = await dossier.dossier_html(user, case_id, lambda key: visits.visits_for_case(user, key))
        return Response(html, media_type="text/html; charset=utf-8", headers=NO_STORE)


def _html_or_json(format: str) -> None:
    if format not in ("html", "json"):
        raise InvalidRequest(
            message="format 应为 html 或 json",
            message_en="format is html or json",
            code="case.invalid_format",
        )


async def _detail(
    user: CurrentUser, case_id: uuid.UUID | str, *, audit_read: bool = True, just_created: bool = False
) -> schemas.CaseDetail:
    """A case's detail with its return visits (the visits domain's part of it; a case logged in this
    request has none yet)."""
    detail = await views.case_detail(user, case_id, audit_read=audit_read, just_created=just_created)
    if not just_created:
        detail.visits = await visits.visits_for_case(user, detail.id)
    return detail


async def _detail_if_visible(
    user: CurrentUser, case_id: uuid.UUID, *, just_created: bool = False
) -> schemas.CaseDetail | None:
    """The detail of a case the caller just logged (not an audited read), if they may see it."""
    try:
        return await _detail(user, case_id, audit_read=False, just_created=just_created)
    except NotFound:
        return None


@get("/api/audit", operation_id="list_audit", tags=["audit"], guards=[requires_role(Role.county_admin)])
async def list_audit(
    case: FromQuery[uuid.UUID | None] = None,
    user: FromQuery[int | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    before_id: FromQuery[int | None] = None,
    limit: FromQuery[int] = 100,
) -> list[schemas.AuditView]:
    """Who read personal data or changed a case or an account, newest first (county office)."""
    return await privacy.audit_entries(
        case_id=case,
        user_id=user,
        since=since,
        until=until,
        before_id=before_id,
        limit=max(1, min(limit, 500)),
    )


# 审计日志.xlsx, with an ASCII name for clients that ignore filename*.
AUDIT_DISPOSITION = f"attachment; filename=\"audit.xlsx\"; filename*=UTF-8''{quote('审计日志.xlsx')}"


@get(
    "/api/audit/export",
    operation_id="export_audit",
    tags=["audit"],
    guards=[requires_role(Role.county_admin)],
    media_type=privacy.XLSX,
)
async def export_audit(
    case: FromQuery[uuid.UUID | None] = None,
    user: FromQuery[int | None] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
) -> Response[bytes]:
    """The same entries as an XLSX (at most the newest 50,000), for the county's records."""
    entries = await privacy.audit_entries(
        case_id=case, user_id=user, since=since, until=until, before_id=None, limit=50_000
    )
    return Response(
        privacy.audit_xlsx(entries),
        media_type=privacy.XLSX,
        headers={"Content-Disposition": AUDIT_DISPOSITION},
    )


@get("/api/agreements/oral", operation_id="oral_agreement_register", tags=["cases"])
async def oral_agreement_register(
    request: Request[CurrentUser, Any, State],
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    format: FromQuery[str] = "json",
) -> Response:
    """口头调解协议登记: the oral agreements of the cases you may see in full, newest first (at most
    500), as JSON or a printable page (`format=html`). Audited like a print."""
    _html_or_json(format)
    rows = await agreements.oral_register(request.user, since, until)
    await privacy.audit(request.user, "agreement.print_oral_register", None, count=len(rows), format=format)
    if format == "html":
        html = agreements.render_oral_register_html(rows, "口头调解协议登记")
        return Response(html, media_type="text/html", headers=NO_STORE)
    return Response(msgspec.to_builtins(rows), headers=NO_STORE)


ROUTES: list[ControllerRouterHandler] = [
    CategoryController,
    CaseController,
    list_audit,
    export_audit,
    oral_agreement_register,
]
