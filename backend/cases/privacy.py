"""Personal data of parties (names, phones, ID numbers): validation, masking, and the audit log.

Full values go only to those who work the case (the owning team, the township, the county); every
such read is written to the audit log, which itself holds no personal data.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import msgspec

from backend.cases import schemas
from backend.cases.scope import photo_case
from backend.core import clock, phones
from backend.core.errors import AppError
from backend.core.identity import TEAM_ROLES, CurrentUser, Role
from backend.db import write_transaction
from backend.people.audit import record as record_audit
from backend.people.tables import AuditEntry

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


class InvalidPhone(AppError):
    code = "case.invalid_phone"
    message = "电话号码格式不正确（11位手机号或带区号的固定电话）"
    message_en = "Invalid phone number"


class InvalidIdNumber(AppError):
    code = "case.invalid_id_number"
    message = "身份证号码不正确（18位，最后一位校验码可能有误）"
    message_en = "Invalid resident ID number (18 characters with a valid check digit)"


def normalise_phone(phone: str | None) -> str | None:
    try:
        return phones.normalise(phone)
    except ValueError:
        raise InvalidPhone() from None


def normalise_id_number(id_number: str | None) -> str | None:
    """GB 11643 resident ID: 17 digits and a check character (0-9 or X)."""
    if id_number is None or not id_number.strip():
        return None
    value = id_number.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise InvalidIdNumber()
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        raise InvalidIdNumber()
    return value


mask_phone = phones.mask


def mask_id_number(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    if len(id_number) < 15:  # not a real ID number: showing its ends would show most of it
        return "*" * len(id_number)
    return id_number[:6] + "*" * 8 + id_number[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def may_see_personal_data(user: CurrentUser, case: dict[str, Any]) -> bool:
    """The owning team, the case's mediator, its township's supervisors, the county and the leader in
    charge of it (a leader reading the rest of its area sees the parties masked)."""
    if user.role == Role.county_admin:
        return True
    if user.role == Role.township_supervisor:
        return case.get("township_code") == user.scope_code
    if user.role == Role.leader:
        return case.get("leader") == user.id
    if user.role in TEAM_ROLES:
        return (user.team_id is not None and case.get("owner_team") == user.team_id) or case.get(
            "mediator"
        ) == user.id
    return False


async def audit(
    user: CurrentUser | None, action: str, case_id: uuid.UUID | str | None, **detail: Any
) -> None:
    await record_audit(user, action, case_id, **detail)


async def audit_photo_read(user: CurrentUser, sha256: str, size: str) -> None:
    """A photo was served: audited like a full read (a photo may show a party's face, home or papers),
    against a case the reader may see that uses it (none when only the reader's own upload)."""
    case_id = await photo_case(user, sha256)
    async with write_transaction():
        await audit(user, "photo.read", case_id, sha256=sha256, size=size)


async def audit_entries(
    *,
    case_id: uuid.UUID | None,
    user_id: int | None,
    since: datetime | None,
    before_id: int | None,
    limit: int,
    until: datetime | None = None,
) -> list[schemas.AuditView]:
    """The audit log, newest first, by case, user and time; `before_id` pages back."""
    query = AuditEntry.select(*AuditEntry.all_columns(), AuditEntry.user.username)
    if case_id is not None:
        query = query.where(AuditEntry.case == case_id)
    if user_id is not None:
        query = query.where(AuditEntry.user == user_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    rows = await query.order_by(AuditEntry.id, ascending=False).limit(limit).run()
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


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def audit_xlsx(entries: list[schemas.AuditView]) -> bytes:
    """The audit log as a sheet: local time, account, action, case, device, address, details."""
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    sheet = book.add_worksheet("审计日志")
    headers = ("时间", "账号", "操作", "案件", "设备", "地址", "详情")
    for col, header in enumerate(headers):
        sheet.write(0, col, header, head)
    for row, e in enumerate(entries, start=1):
        sheet.write_row(
            row,
            0,
            [
                e.at.astimezone(clock.LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                e.username or "（系统）",
                e.action,
                e.case or "",
                e.device or "",
                e.client_addr or "",
                msgspec.json.encode(e.detail).decode(),
            ],
        )
    sheet.set_column(0, 0, 20)
    sheet.set_column(1, 5, 16)
    sheet.set_column(6, 6, 60)
    sheet.autofilter(0, 0, max(len(entries), 1), len(headers) - 1)
    book.close()
    return buffer.getvalue()
