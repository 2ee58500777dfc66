"""HTTP routes of the reports: the dashboard and the four reports as JSON, HTML or XLSX."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.types import ControllerRouterHandler

from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.reports import builders, render, schemas, service


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
        if format not in render.FORMATS:
            raise InvalidRequest(
                message="格式应为 json、html 或 xlsx",
                message_en="format must be json, html or xlsx",
                code="report.invalid_format",
            )
        report = await builders.build(
            request.user, kind, service.parse_date(date), township, service.check_days(days)
        )
        headers = {"Cache-Control": "private, no-store"}
        if format == "html":
            headers["Content-Disposition"] = render.content_disposition(report, "html", inline=True)
            return Response(render.html(report), media_type="text/html; charset=utf-8", headers=headers)
        if format == "xlsx":
            headers["Content-Disposition"] = render.content_disposition(report, "xlsx")
            return Response(render.xlsx_bytes(report), media_type=render.XLSX_TYPE, headers=headers)
        return Response(msgspec.to_builtins(report), headers=headers)


ROUTES: list[ControllerRouterHandler] = [ReportController]
