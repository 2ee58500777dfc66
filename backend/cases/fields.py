"""The checks a case's own fields pass, the same whether they arrive at intake or in an offline edit."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from backend.cases import privacy, schemas
from backend.core import clock, text
from backend.core.errors import AppError, InvalidRequest
from backend.media.service import check_sha256

MAX_TITLE = 100
MAX_DESCRIPTION = 5000
MAX_PHOTOS = 9
MAX_PARTIES = 20
MAX_PARTY_NAME = 64
# A dispute is recorded when it happens or later: a date before the service (and the county's paper
# records) or beyond tomorrow is a typo or a phone with a wrong clock.
EARLIEST_OCCURRED = datetime(2000, 1, 1, tzinfo=clock.LOCAL_TZ)
OCCURRED_SLACK = timedelta(days=1)


class TextTooLong(AppError):
    code = "case.text_too_long"
    message = "文字过长"
    message_en = "Text too long"


class TooManyPhotos(AppError):
    code = "case.too_many_photos"
    message = f"照片最多 {MAX_PHOTOS} 张"
    message_en = f"At most {MAX_PHOTOS} photos"


def title(raw: str) -> str:
    value = text.single_line(raw, "title")
    if text.is_blank(value):
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


def occurred_at(raw: datetime | None) -> datetime | None:
    """When it happened: from 2000 to a day ahead of now (a time without a zone is local time)."""
    if raw is None:
        return None
    moment = raw if raw.tzinfo is not None else raw.replace(tzinfo=clock.LOCAL_TZ)
    if not EARLIEST_OCCURRED <= moment <= clock.now() + OCCURRED_SLACK:
        raise InvalidRequest(
            message="发生时间须在2000年之后、且不晚于明天",
            message_en="The time it happened must be after 2000 and no later than tomorrow",
            code="case.occurred_at_out_of_range",
            details={"field": "occurred_at"},
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
        name = text.single_line(party.name, f"parties[{index}].name")
        if text.is_blank(name):
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


# --- the statistics fields (人民调解案件统计) ----------------------------------------------------------

# Where a dispute came from, and who sent a referred one (委托移送). Codes are stable (the phone keeps
# them offline and the statistics group by them); the Chinese names are the 司法局 table's rows.
SOURCES = {
    "screening": "排查发现",
    "application": "当事人申请",
    "initiative": "主动调解",
    "referral": "委托移送",
}
REFERRERS = {"court": "法院", "police": "公安", "petition": "信访", "hotline": "12345", "other": "其他"}
# A dispute involving this many people or more is a 群体性纠纷.
GROUP_DISPUTE = 5
MAX_PEOPLE = 100_000
# 涉及金额: up to what NUMERIC(14, 2) holds, in yuan.
MAX_AMOUNT = 999_999_999_999


def source(raw: str | None) -> str | None:
    if raw is not None and raw not in SOURCES:
        raise InvalidRequest(
            message="纠纷来源应为：" + "、".join(SOURCES.values()),
            message_en=f"source must be one of {', '.join(SOURCES)}",
            code="case.invalid_source",
            details={"field": "source", "allowed": list(SOURCES)},
        )
    return raw


def referred_by(source_code: str | None, raw: str | None) -> str | None:
    """Only a referred case (委托移送) names its sender."""
    if raw is None:
        return None
    if raw not in REFERRERS:
        raise InvalidRequest(
            message="移送单位应为：" + "、".join(REFERRERS.values()),
            message_en=f"referred_by must be one of {', '.join(REFERRERS)}",
            code="case.invalid_referrer",
            details={"field": "referred_by", "allowed": list(REFERRERS)},
        )
    if source_code != "referral":
        raise InvalidRequest(
            message="只有来源为“委托移送”的纠纷才填写移送单位",
            message_en="referred_by is only for a case whose source is referral",
            code="case.referrer_without_referral",
            details={"field": "referred_by"},
        )
    return raw


def people_involved(raw: int | None, parties_count: int) -> int | None:
    """The number of people a dispute involves: the parties' count unless given (1 to MAX_PEOPLE)."""
    if raw is None:
        return parties_count or None
    if not 1 <= raw <= MAX_PEOPLE:
        raise InvalidRequest(
            message=f"涉及人数应为 1 到 {MAX_PEOPLE} 之间的整数",
            message_en=f"people_involved must be an integer from 1 to {MAX_PEOPLE}",
            code="case.invalid_people_involved",
            details={"field": "people_involved", "max": MAX_PEOPLE},
        )
    return raw


def amount_yuan(raw: float | None) -> Decimal | None:
    """涉及金额 in yuan: 0 to MAX_AMOUNT, kept to the fen (2 decimals); None when not given."""
    if raw is None:
        return None
    if not math.isfinite(raw) or not 0 <= raw <= MAX_AMOUNT:
        raise InvalidRequest(
            message=f"涉及金额应为 0 到 {MAX_AMOUNT} 元之间的数",
            message_en=f"amount_yuan must be a number from 0 to {MAX_AMOUNT}",
            code="case.invalid_amount",
            details={"field": "amount_yuan", "max": MAX_AMOUNT},
        )
    return Decimal(str(round(raw, 2)))
