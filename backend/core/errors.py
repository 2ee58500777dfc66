"""Errors with stable codes. Services raise these; one handler turns them into JSON.

Every error a client sees is `{"code", "message" (Chinese), "message_en"}` plus optional details.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code: int = 400
    code: str = "request.invalid"
    message: str = "请求无效"
    message_en: str = "Invalid request"

    def __init__(
        self,
        message: str | None = None,
        message_en: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.message_en = message_en or self.message_en
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(f"{self.code}: {self.message_en}")

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "message_en": self.message_en}
        body.update(self.details)
        return body


class InvalidRequest(AppError):
    status_code = 400
    code = "request.invalid"
    message = "请求格式不正确"
    message_en = "The request is malformed"


class Forbidden(AppError):
    status_code = 403
    code = "auth.forbidden"
    message = "您没有权限执行此操作"
    message_en = "You are not allowed to do this"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "未找到该记录"
    message_en = "Not found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "与已有记录冲突"
    message_en = "Conflicts with an existing record"


class TooManyRequests(AppError):
    status_code = 429
    code = "rate_limited"
    message = "请求过于频繁，请稍后再试"
    message_en = "Too many requests, try again later"

    def __init__(self, retry_after: int, **kwargs: Any) -> None:
        super().__init__(headers={"Retry-After": str(max(1, int(retry_after)))}, **kwargs)
        self.details["retry_after"] = max(1, int(retry_after))
