"""The checks a case's own fields pass, the same whether they arrive at intake or in an offline edit."""

from __future__ import annotations

from typing import Any

from backend.cases import privacy, schemas
from backend.core.errors import AppError, InvalidRequest
from backend.media.service import check_sha256

MAX_TITLE = 100
MAX_DESCRIPTION = 5000
MAX_PHOTOS = 9
MAX_PARTIES = 20
MAX_PARTY_NAME = 64


class TextTooLong(AppError):
    code = "case.text_too_long"
    message = "文字过长"
    message_en = "Text too long"


class TooManyPhotos(AppError):
    code = "case.too_many_photos"
    message = f"照片最多 {MAX_PHOTOS} 张"
    message_en = f"At most {MAX_PHOTOS} photos"


def title(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise InvalidRequest(
            message="请填写纠纷标题", message_en="A title is required", code="case.title_required"
        )
    if len(value) > MAX_TITLE:
        raise TextTooLong(message=f"标题最多 {MAX_TITLE} 字", details={"field": "title", "max": MAX_TITLE})
    return value


def description(raw: str) -> str:
    if len(raw) > MAX_DESCRIPTION:
        raise TextTooLong(
            message=f"情况描述最多 {MAX_DESCRIPTION} 字",
            details={"field": "description", "max": MAX_DESCRIPTION},
        )
    return raw


def photos(raw: list[str]) -> list[str]:
    """SHA-256 hashes, lower case, each once, in the order given."""
    hashes = list(dict.fromkeys(p.lower() for p in raw))
    if len(hashes) > MAX_PHOTOS:
        raise TooManyPhotos(details={"max": MAX_PHOTOS})
    for sha in hashes:
        check_sha256(sha)
    return hashes


def parties(raw: list[schemas.PartyIn]) -> list[dict[str, Any]]:
    """Party rows with phone and ID number normalised (and checked: see privacy)."""
    if len(raw) > MAX_PARTIES:
        raise TextTooLong(message=f"当事人最多 {MAX_PARTIES} 人", details={"field": "parties"})
    rows = []
    for index, party in enumerate(raw):
        name = party.name.strip()
        if not name:
            raise InvalidRequest(
                message="请填写当事人姓名", message_en="Party name required", code="case.party_name_required"
            )
        if len(name) > MAX_PARTY_NAME:
            raise TextTooLong(message="当事人姓名过长", details={"field": f"parties[{index}].name"})
        try:
            phone = privacy.normalise_phone(party.phone)
            id_number = privacy.normalise_id_number(party.id_number)
        except AppError as exc:
            exc.details["field"] = f"parties[{index}]"
            raise
        rows.append(
            {"name": name, "phone": phone, "id_number": id_number, "role": party.role, "position": index}
        )
    return rows
