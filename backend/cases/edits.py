"""Field edits made offline (the sync operation `case.update`): merge what did not overlap, flag what did.

An edit names the version of the case it started from (`base_version`) and carries only the fields
it changed. A field that no other device changed since that version is simply applied: edits of
different fields by two phones merge. A field that another device also changed since then takes
this write (the later one to arrive, as ODK Central does) and the case is flagged `conflict` for a
supervisor, who lists such cases with `?conflict=1` and clears the flag with `clear_conflict`. The
value it replaced stays in the event (`before`, and `data.conflicts`), next to the new one (`after`),
so both are in the log. A phone's own earlier edits never conflict with its later ones: the base
version of an edit made offline cannot know the versions its own earlier edits got.

Each event records the case version it produced (`CaseEvent.version`, written with the event by
whatever changed the case); that is what "changed since base_version" is read from.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType
from piccolo.columns import Column

from backend.cases import fields, hooks, privacy, risk
from backend.cases.categories import require_active
from backend.cases.scope import CaseNotFound, check_photos, get_case_row
from backend.cases.tables import Case, CaseEvent, CaseLink, CasePhoto, Party
from backend.cases.workflow import RULES, InvalidTransition, may_act
from backend.core import clock
from backend.core.errors import AppError, Forbidden
from backend.core.identity import CurrentUser
from backend.db import write_transaction

EDITABLE = (
    "title",
    "description",
    "occurred_at",
    "category",
    "photos",
    "source",
    "referred_by",
    "people_involved",
    "amount_yuan",
)


class CaseEdit(msgspec.Struct, forbid_unknown_fields=True):
    title: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    occurred_at: datetime | None | UnsetType = UNSET
    category: str | UnsetType = UNSET
    photos: list[str] | UnsetType = UNSET
    source: str | None | UnsetType = UNSET
    referred_by: str | None | UnsetType = UNSET
    people_involved: int | UnsetType = UNSET
    amount_yuan: float | None | UnsetType = UNSET


class FieldNotEditable(AppError):
    code = "case.field_not_editable"
    message = "该字段不能在此修改"
    message_en = f"Only these fields can be edited: {', '.join(EDITABLE)}"


class BadBaseVersion(AppError):
    code = "case.bad_base_version"
    message = "修改所依据的版本号不正确"
    message_en = "base_version must be a version the case has had (1 to its current version)"


class EditResult(msgspec.Struct):
    row: dict[str, Any]  # the case after the edit
    changed: list[str]  # fields whose value changed
    conflicts: list[str]  # of those, the ones another device had also changed since base_version


def _parse(changes: dict[str, Any]) -> dict[str, Any]:
    try:
        edit = msgspec.convert(changes, CaseEdit)
    except msgspec.ValidationError as exc:
        raise FieldNotEditable(details={"reason": str(exc)}) from None
    values = {f: getattr(edit, f) for f in EDITABLE if getattr(edit, f) is not UNSET}
    if "title" in values:
        values["title"] = fields.title(values["title"])
    if "description" in values:
        values["description"] = fields.description(values["description"])
    if values.get("occurred_at") is not None:
        values["occurred_at"] = fields.occurred_at(values["occurred_at"])
    if "photos" in values:
        values["photos"] = fields.photos(values["photos"])
    if "source" in values:
        values["source"] = fields.source(values["source"])
    if "people_involved" in values:
        values["people_involved"] = fields.people_involved(values["people_involved"], 0)
    if "amount_yuan" in values:
        values["amount_yuan"] = fields.amount_yuan(values["amount_yuan"])
    return values


def _check_referral(values: dict[str, Any], case: dict[str, Any]) -> None:
    """The sender goes with the source: leaving 委托移送 clears it; naming one needs 委托移送."""
    source = values.get("source", case["source"])
    if source != "referral" and "referred_by" not in values and case["referred_by"] is not None:
        values["referred_by"] = None
    if "referred_by" in values:
        values["referred_by"] = fields.referred_by(source, values["referred_by"])


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):  # 涉及金额: JSON has no decimals; yuan to the fen fit a float
        return float(value)
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b
    return _plain(a) == _plain(b)


async def _scene_photos(case_id: uuid.UUID) -> list[str]:
    rows = (
        await CasePhoto.select(CasePhoto.sha256)
        .where((CasePhoto.case == case_id) & (CasePhoto.purpose == "scene"))
        .order_by(CasePhoto.position)
        .run()
    )
    return [r["sha256"] for r in rows]


# What the county's risk rules read (risk._matches); an edit of one of them re-assesses the case.
RISK_FIELDS = ("title", "description", "category", "amount_yuan")


async def _raised_risk(
    case: dict[str, Any], values: dict[str, Any], changed: list[str]
) -> tuple[str, str] | None:
    """The colour and reason the rules give the case as edited, when that is higher than its colour
    now: an amount entered after the first visit, or a threat written into the description, raises it
    as it would have at intake. An edit never lowers a colour: that is a supervisor's judgement
    (`set_risk`), which may also have raised it for reasons no rule sees."""
    if not any(f in RISK_FIELDS for f in changed):
        return None
    edited = {f: values.get(f, case[f]) for f in RISK_FIELDS}
    parties = await Party.count().where(Party.case == case["id"]).run()
    repeated = (
        await CaseLink.exists().where((CaseLink.case == case["id"]) & (CaseLink.status != "dismissed")).run()
    )
    colour, reason = risk.assess(
        await risk.current_rules(),
        case["level"],
        edited["title"],
        edited["description"],
        edited["category"],
        parties=parties,
        repeated=repeated,
        amount_yuan=edited["amount_yuan"],
    )
    return (colour, reason) if risk.ORDER.index(colour) > risk.ORDER.index(case["risk"]) else None


async def changed_by_others_since(
    case_id: uuid.UUID, base_version: int, device_id: str | None
) -> dict[str, int]:
    """Editable fields changed after `base_version` by any other device (or by the system), with the
    version of the last such change."""
    query = CaseEvent.select(CaseEvent.after, CaseEvent.version, CaseEvent.device).where(
        (CaseEvent.case == case_id) & (CaseEvent.version > base_version)
    )
    changed: dict[str, int] = {}
    for row in await query.order_by(CaseEvent.id).run():
        if device_id is not None and row["device"] == device_id:
            continue
        after = row["after"]
        if isinstance(after, str):
            after = msgspec.json.decode(after) if after else {}
        for name in after or {}:
            if name in EDITABLE:
                changed[name] = row["version"]
    return changed


async def apply_edit(
    user: CurrentUser, case_id: uuid.UUID | str, base_version: int | None, changes: dict[str, Any]
) -> EditResult:
    """Apply one offline edit (see the module notes). Joins the caller's transaction if there is one."""
    values = _parse(changes)
    if "category" in values:
        await require_active(values["category"])
    async with write_transaction():
        case = await get_case_row(user, case_id)
        if case["state"] not in RULES["update"].states:
            raise InvalidTransition(details={"state": case["state"], "action": "update"})
        if not may_act(user, "update", case):
            raise Forbidden()
        if base_version is None or not 1 <= base_version <= case["version"]:
            raise BadBaseVersion(details={"version": case["version"]})
        _check_referral(values, case)
        current = {f: case[f] for f in EDITABLE if f != "photos"}
        if "photos" in values:
            current["photos"] = await _scene_photos(case["id"])
            await check_photos(user, [p for p in values["photos"] if p not in current["photos"]])
        changed = [f for f in EDITABLE if f in values and not _same(values[f], current[f])]
        if not changed:
            return EditResult(row=case, changed=[], conflicts=[])
        others = await changed_by_others_since(case["id"], base_version, user.device_id)
        conflicts = [f for f in changed if f in others]

        now = clock.now()
        before = {f: _plain(current[f]) for f in changed}
        after = {f: _plain(values[f]) for f in changed}
        columns: dict[Column | str, Any] = {f: values[f] for f in changed if f != "photos"}
        if conflicts and not case["conflict"]:
            columns["conflict"] = True
            before["conflict"], after["conflict"] = False, True
        raised = await _raised_risk(case, values, changed)
        if raised is not None:
            columns["risk"], columns["risk_reason"] = raised
            before["risk"], after["risk"] = case["risk"], raised[0]
        if "photos" in changed:
            await (
                CasePhoto.delete()
                .where((CasePhoto.case == case["id"]) & (CasePhoto.purpose == "scene"))
                .run()
            )
            if values["photos"]:
                await CasePhoto.insert(
                    *[
                        CasePhoto(case=case["id"], sha256=sha, position=i)
                        for i, sha in enumerate(values["photos"])
                    ]
                ).run()
        columns.update({"version": case["version"] + 1, "updated_at": now})
        await Case.update(columns).where(Case.id == case["id"]).run()
        data = {
            "base_version": base_version,
            **({"risk_reason": raised[1]} if raised is not None else {}),
            "merged": [f for f in changed if f not in conflicts],
            "conflicts": [
                {"field": f, "kept": after[f], "replaced": before[f], "replaced_version": others[f]}
                for f in conflicts
            ],
        }
        await CaseEvent.insert(
            CaseEvent(
                case=case["id"],
                at=now,
                actor=user.id,
                device=user.device_id,
                action="update",
                before=before,
                after=after,
                data=data,
                version=case["version"] + 1,
            )
        ).run()
        await privacy.audit(user, "case.update", case["id"], fields=changed)
        row = await Case.select().where(Case.id == case["id"]).first().run()
        assert row is not None  # updated above, in this transaction
        await hooks.emit(
            hooks.CaseChange(
                case_id=case["id"],
                action="update",
                actor=user,
                at=now,
                case=row,
                before=before,
                after=after,
                data=data,
            )
        )
    return EditResult(row=row, changed=changed, conflicts=conflicts)


async def flag_for_review(case_id: uuid.UUID, reason: str, data: dict[str, Any]) -> dict[str, Any]:
    """Flag a case `conflict` on the system's behalf (e.g. an offline operation applied out of the
    phone's order after waiting a week), with an event saying why. Joins the caller's transaction."""
    async with write_transaction():
        case = await Case.select().where(Case.id == case_id).first().run()
        if case is None:
            raise CaseNotFound()
        now = clock.now()
        before, after = ({"conflict": False}, {"conflict": True}) if not case["conflict"] else ({}, {})
        await (
            Case.update({Case.conflict: True, Case.version: case["version"] + 1, Case.updated_at: now})
            .where(Case.id == case_id)
            .run()
        )
        event_data = {"reason": reason, **data}
        await CaseEvent.insert(
            CaseEvent(
                case=case_id,
                at=now,
                action="flag",
                before=before,
                after=after,
                data=event_data,
                version=case["version"] + 1,
            )
        ).run()
        row = await Case.select().where(Case.id == case_id).first().run()
        assert row is not None  # updated above, in this transaction
        await hooks.emit(
            hooks.CaseChange(
                case_id=case_id,
                action="flag",
                actor=None,
                at=now,
                case=row,
                before=before,
                after=after,
                data={**event_data, "conflict": True},
            )
        )
    return row
