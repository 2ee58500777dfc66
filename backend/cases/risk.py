"""Risk colour (风险等级: green | yellow | red): how likely a dispute is to turn into a petition, a group
incident or a crime, which decides who must know at once (red: the township and the county office).

Set at intake by rules the county office edits in the admin console (one policy row; until it is first
saved the defaults below apply), and re-assessed by a supervisor with `set_risk` (a case event). The
highest colour of the rules that match wins; each match is named in the case's `risk_reason`.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta
from piccolo.columns import JSON, ForeignKey, OnDelete, Serial, Timestamptz
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.cases import fields
from backend.cases.categories import category_names
from backend.core import clock, refcache
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser
from backend.core.text import is_blank, single_line
from backend.db import read_transaction, write_transaction
from backend.people.tables import User

Risk = Literal["yellow", "red"]
ORDER = ("green", "yellow", "red")
LEVEL_NAMES = {"small": "小事", "hard": "难事", "big": "大事"}


class LevelRule(msgspec.Struct, tag="level", tag_field="kind"):
    level: Literal["small", "hard", "big"]
    risk: Risk


class PartiesRule(msgspec.Struct, tag="parties", tag_field="kind"):
    """At least this many parties (people involved) in the case."""

    at_least: Annotated[int, Meta(ge=2, le=1000)]
    risk: Risk


class KeywordsRule(msgspec.Struct, tag="keywords", tag_field="kind"):
    """Any of these words in the title or the description."""

    words: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=20)]], Meta(min_length=1, max_length=100)
    ]
    risk: Risk


class RepeatRule(msgspec.Struct, tag="repeat", tag_field="kind"):
    """A repeated dispute: the duplicate check linked the new case to an earlier one (a party in common,
    or the same category close by: backend/cases/duplicates.py)."""

    risk: Risk


class CategoryRule(msgspec.Struct, tag="category", tag_field="kind"):
    categories: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(min_length=1, max_length=50)]
    risk: Risk


class AmountRule(msgspec.Struct, tag="amount", tag_field="kind"):
    """One of these categories (e.g. 征地补偿, 劳动仲裁) with more than `over_yuan` in dispute (the
    case's 涉及金额 at intake)."""

    categories: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(min_length=1, max_length=50)]
    over_yuan: float
    risk: Risk


RiskRule = LevelRule | PartiesRule | KeywordsRule | RepeatRule | CategoryRule | AmountRule


class RiskRules(msgspec.Struct):
    rules: Annotated[list[RiskRule], Meta(max_length=100)]


class RiskRulesView(RiskRules):
    updated_at: str | None = None
    updated_by: str | None = None


DEFAULT_RULES: list[RiskRule] = [
    LevelRule(level="big", risk="red"),
    KeywordsRule(words=["上访", "打架", "威胁", "自杀", "持刀", "群体"], risk="red"),
    PartiesRule(at_least=5, risk="yellow"),
    RepeatRule(risk="yellow"),
    LevelRule(level="hard", risk="yellow"),
    AmountRule(categories=["land_compensation", "labour"], over_yuan=100_000, risk="yellow"),
]


class RiskPolicy(Table, tablename="risk_policy"):
    """The county's risk rules: one row, replaced as a whole by the county office."""

    id = Serial(primary_key=True)
    rules = JSON(default="[]")
    updated_by = ForeignKey(references=User, null=True, default=None, on_delete=OnDelete.set_null)
    updated_at = Timestamptz(default=TimestamptzNow())


async def _load_rules() -> list[RiskRule]:
    row = await RiskPolicy.select(RiskPolicy.rules).order_by(RiskPolicy.id, ascending=False).first().run()
    if row is None:
        return list(DEFAULT_RULES)
    raw = row["rules"]
    return msgspec.json.decode(
        raw if isinstance(raw, str | bytes) else msgspec.json.encode(raw), type=list[RiskRule]
    )


# Read by every intake and edit; written by the county office now and then.
_rules: refcache.Reference[list[RiskRule]] = refcache.Reference("risk_rules", _load_rules)


async def current_rules() -> list[RiskRule]:
    return list(await _rules.get())


async def rules_view() -> RiskRulesView:
    async with read_transaction():
        row = (
            await RiskPolicy.select(RiskPolicy.updated_at, RiskPolicy.updated_by.display_name)
            .order_by(RiskPolicy.id, ascending=False)
            .first()
            .run()
        )
        rules = await current_rules()
    return RiskRulesView(
        rules=rules,
        updated_at=row["updated_at"].isoformat() if row else None,
        updated_by=row["updated_by.display_name"] if row else None,
    )


async def set_rules(user: CurrentUser, data: RiskRules) -> RiskRulesView:
    """Replace the county's rules (county office). Words are trimmed and checked like any text; a
    category must exist."""
    known = await category_names()
    for rule in data.rules:
        if isinstance(rule, KeywordsRule):
            words = [single_line(w, "words") for w in rule.words]
            if any(is_blank(w) for w in words):
                raise InvalidRequest(
                    message="关键词不能为空白", message_en="A keyword is blank", code="risk.blank_word"
                )
            rule.words = list(dict.fromkeys(words))
        if isinstance(rule, AmountRule) and not (
            math.isfinite(rule.over_yuan) and 0 < rule.over_yuan <= fields.MAX_AMOUNT
        ):
            raise InvalidRequest(
                message=f"金额门槛应为大于 0、不超过 {fields.MAX_AMOUNT} 的元数",
                message_en=f"over_yuan must be more than 0 and at most {fields.MAX_AMOUNT}",
                code="risk.invalid_amount",
                details={"field": "over_yuan"},
            )
        if isinstance(rule, CategoryRule | AmountRule):
            unknown = [c for c in rule.categories if c not in known]
            if unknown:
                raise InvalidRequest(
                    message="风险规则中有不存在的纠纷类别",
                    message_en="Unknown category in a risk rule",
                    code="risk.unknown_category",
                    details={"categories": unknown},
                )
    async with write_transaction():
        _rules.forget()
        await RiskPolicy.delete(force=True).run()
        await RiskPolicy.insert(
            RiskPolicy(
                rules=msgspec.json.encode(data.rules).decode(), updated_by=user.id, updated_at=clock.now()
            )
        ).run()
    return await rules_view()


def _yuan(amount: float) -> str:
    return f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"


def _matches(rule: RiskRule, case: dict[str, Any], parties: int, repeated: bool) -> str | None:
    """Why the rule matches the case (in words), or None."""
    if isinstance(rule, LevelRule):
        return LEVEL_NAMES[rule.level] if case["level"] == rule.level else None
    if isinstance(rule, PartiesRule):
        return f"涉及{parties}人" if parties >= rule.at_least else None
    if isinstance(rule, KeywordsRule):
        text = f"{case['title']}\n{case['description']}"
        found = [w for w in rule.words if w in text]
        return "含“" + "”“".join(found) + "”" if found else None
    if isinstance(rule, RepeatRule):
        return "重复纠纷" if repeated else None
    if isinstance(rule, AmountRule):
        amount = case["amount_yuan"]
        if case["category"] in rule.categories and amount is not None and amount > rule.over_yuan:
            return f"涉及金额超过{_yuan(rule.over_yuan)}元"
        return None
    return "重点类别" if case["category"] in rule.categories else None


def assess(
    rules: list[RiskRule],
    level: str,
    title: str,
    description: str,
    category: str,
    *,
    parties: int,
    repeated: bool,
    amount_yuan: Decimal | None = None,
) -> tuple[str, str]:
    """The colour of a new case by the county's rules (current_rules) and why: the highest colour of
    the rules that match; `repeated` when the duplicate check found an earlier case. Pure, so the
    intake assesses before it writes and inserts the case with its colour."""
    case = {
        "level": level,
        "title": title,
        "description": description,
        "category": category,
        "amount_yuan": amount_yuan,
    }
    risk, reasons = "green", []
    for rule in rules:
        why = _matches(rule, case, parties, repeated)
        if why is None:
            continue
        reasons.append(why)
        if ORDER.index(rule.risk) > ORDER.index(risk):
            risk = rule.risk
    reason = "；".join(dict.fromkeys(reasons))[:200] if risk != "green" else ""
    return risk, reason


async def set_risk(user: CurrentUser, case: dict[str, Any], action: Any, now: Any):
    """A supervisor's re-assessment (the workflow's handler): the colour and why."""
    return {"risk": action.risk, "risk_reason": action.reason[:200]}, {
        "risk": action.risk,
        "reason": action.reason,
    }
