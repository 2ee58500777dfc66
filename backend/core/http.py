"""HTTP glue shared by every domain: exception handlers that speak the error contract, guards,
and the request log (which never carries personal data or tokens)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, ExceptionHandlersMap, Message, Receive, Scope, Send

from backend.core.errors import AppError, Forbidden
from backend.core.inbound import NumberOutOfRange
from backend.core.text import ControlCharacters

log = logging.getLogger("fengqiao.http")
request_log = logging.getLogger("fengqiao.request")

_STATUS_CODES: dict[int, tuple[str, str, str]] = {
    400: ("request.invalid", "请求格式不正确", "The request is malformed"),
    401: ("auth.required", "请先登录", "Authentication required"),
    403: ("auth.forbidden", "您没有权限执行此操作", "You are not allowed to do this"),
    404: ("not_found", "未找到该记录", "Not found"),
    405: ("request.method_not_allowed", "不支持该请求方法", "Method not allowed"),
    413: ("request.too_large", "请求内容过大", "The request body is too large"),
    415: ("request.unsupported_media_type", "不支持的内容类型", "Unsupported media type"),
    429: ("rate_limited", "请求过于频繁，请稍后再试", "Too many requests, try again later"),
}


def app_error_handler(_: Request, exc: AppError) -> Response:
    return Response(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


def http_exception_handler(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    code, message, message_en = _STATUS_CODES.get(status, ("request.error", "请求失败", "Request failed"))
    if status >= 500:
        code, message, message_en = "server.error", "服务器出错，请稍后再试", "Server error"
    body: dict[str, Any] = {"code": code, "message": message, "message_en": message_en}
    if isinstance(exc, ValidationException) and exc.extra:
        # Which field failed and why, without echoing the submitted values back.
        body["errors"] = [
            {"key": e.get("key"), "message": e.get("message")} if isinstance(e, dict) else str(e)
            for e in (exc.extra if isinstance(exc.extra, list) else [exc.extra])
        ]
    return Response(body, status_code=status, headers=exc.headers or None)


def _input_the_database_refused(exc: Exception) -> AppError | None:
    """Client input that core/inbound.py and the domains' checks should have stopped and a database
    driver refused: still the client's error (400), never a 500. Logged, because a check is missing."""
    if isinstance(exc, OverflowError) or (
        isinstance(exc, asyncpg.exceptions.DataError) and "out of int" in str(exc)
    ):
        return NumberOutOfRange()
    if isinstance(
        exc,
        asyncpg.exceptions.CharacterNotInRepertoireError | asyncpg.exceptions.UntranslatableCharacterError,
    ):
        return ControlCharacters()
    return None


def internal_error_handler(request: Request, exc: Exception) -> Response:
    refused = _input_the_database_refused(exc)
    if refused is not None:
        log.warning(
            "input refused by the database on %s %r: %s", request.method, request.url.path, type(exc).__name__
        )
        return app_error_handler(request, refused)
    # %r: a path may hold control characters (a decoded %00 or %0a) that must not break the log line.
    log.exception("unhandled error on %s %r", request.method, request.url.path)
    return Response(
        {"code": "server.error", "message": "服务器出错，请稍后再试", "message_en": "Server error"},
        status_code=500,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AppError: app_error_handler,
    HTTPException: http_exception_handler,
    Exception: internal_error_handler,
}


def flag(raw: str | None) -> bool:
    """A yes/no query parameter: 1, true or yes (any case) is yes; anything else, or none, is no."""
    return (raw or "").lower() in ("1", "true", "yes")


def requires_role(*roles: str):
    """A guard: only these roles may call the handler."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if user is None or user.role not in roles:
            raise Forbidden()

    return guard


class RequestLogMiddleware:
    """One JSON line per request: method, path, status, duration, user id. Never the query values,
    headers or bodies, which may hold personal data or tokens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Refused by authentication before reaching a handler: the app's handler answers it.
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            user = scope.get("user")
            if scope["path"].startswith("/api") or status >= 400:
                request_log.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "query_keys": sorted(
                                {
                                    p.split(b"=")[0].decode(errors="replace")
                                    for p in scope["query_string"].split(b"&")
                                    if p
                                }
                            ),
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 1),
                            "user_id": getattr(user, "id", None),
                        },
                        ensure_ascii=False,
                    )
                )


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
