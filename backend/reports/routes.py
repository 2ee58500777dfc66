"""HTTP routes of the reports: the dashboard and the four reports as JSON, HTML or XLSX."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.types import ControllerRouterHandler

from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.reports import builders, render, schemas, service, statistics, zero
from backend.reports.schemas import Report


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get("/dashboard", operation_id="get_dashboard")
    async def get_dashboard(
        self, request: Request[CurrentUser, Any, State], township: FromQuery[str | None] = None
    ) -> schemas.Dashboard:
        """Your area at a glance: today's new cases, cases by state, visits, the five rates over the last
        12 months, a 12-week trend and the categories. Every role, in its own scope."""
        return await service.dashboard(request.user, township)

    @get("/statistics", operation_id="get_statistics")
    async def get_statistics(
        self,
        request: Request[CurrentUser, Any, State],
        year: FromQuery[str | None] = None,
        quarter: FromQuery[str | None] = None,
        township: FromQuery[str | None] = None,
        format: FromQuery[str] = "json",
    ) -> Response:
        """人民调解案件统计 for a year or a quarter (1–4): cases by national category and outcome, written and
        oral agreements, amount, sources, people involved, prevention counts, per township and per team,
        and the teams with no case (零上报). Outcomes as of the period's end. JSON, HTML or XLSX;
        township supervisors (their township) and the county office."""
        _check_format(format)
        report = await statistics.build(request.user, year, quarter, township)
        return _respond(report, format)

    @get("/{kind:str}", operation_id="get_report")
    async def get_report(
        self,
        kind: FromPath[str],
        request: Request[CurrentUser, Any, State],
        date: FromQuery[str | None] = None,
        township: FromQuery[str | None] = None,
        days: FromQuery[int] = 30,
        format: FromQuery[str] = "json",
    ) -> Response:
        """日报告 daily, 周分析 weekly, 月排查 monthly (`days`: unresolved older than N days) or 季调度
        quarterly for the period containing `date` (default today, Asia/Shanghai): JSON, a printable
        HTML page or an XLSX workbook. Township supervisors, the county office, and team leaders (their
        team's cases only)."""
        _check_format(format)
        report = await builders.build(
            request.user, kind, service.parse_date(date), township, service.check_days(days)
        )
        return _respond(report, format)


def _check_format(format: str) -> None:
    if format not in render.FORMATS:
        raise InvalidRequest(
            message="格式应为 json、html 或 xlsx",
            message_en="format must be json, html or xlsx",
            code="report.invalid_format",
        )


def _respond(report: Report, format: str) -> Response:
    headers = {"Cache-Control": "private, no-store"}
    if format == "html":
        headers["Content-Disposition"] = render.content_disposition(report, "html", inline=True)
        return Response(render.html(report), media_type="text/html; charset=utf-8", headers=headers)
    if format == "xlsx":
        headers["Content-Disposition"] = render.content_disposition(report, "xlsx")
        return Response(render.xlsx_bytes(report), media_type=render.XLSX_TYPE, headers=headers)
    return Response(msgspec.to_builtins(report), headers=headers)


# A team id as the database holds it (a 32-bit serial): a larger one is a 400, not an overflow.
TeamId = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


@post("/api/teams/{team_id:int}/zero-reports", operation_id="file_zero_report", tags=["reports"])
async def file_zero_report(
    team_id: FromPath[TeamId], data: JSONBody[zero.ZeroReportIn], request: Request[CurrentUser, Any, State]
) -> Response:
    """零上报: the team had no dispute in `month` (YYYY-MM). Its leader, its township's supervisors or the
    county office; 201 when filed, 200 when it already was (the same report)."""
    view, created = await zero.file_zero_report(request.user, team_id, data)
    return Response(msgspec.to_builtins(view), status_code=201 if created else 200)


ROUTES: list[ControllerRouterHandler] = [ReportController, file_zero_report]
