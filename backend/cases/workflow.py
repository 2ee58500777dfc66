"""The county's method as a state machine: who may do what, from which state, and what it changes.

小事拉家常 (the village team settles it), 难事大家谈 (escalated to the township), 大事法律扛 (referred to
the legal route), 事事有回访 (closing schedules return visits). Every action is an append-only event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from backend.cases import agreement, archive, hooks, leaders, privacy, risk, schemas, supervision
from backend.cases.categories import require_active
from backend.cases.scope import CaseNotFound, check_photos, get_case_row
from backend.cases.tables import Agreement, Case, CaseEvent, CaseLink, CasePhoto
from backend.core import clock, text
from backend.core.errors import AppError, Forbidden, InvalidRequest
from backend.core.identity import SUPERVISOR_ROLES, TEAM_ROLES, CurrentUser, Role
from backend.db import write_transaction
from backend.grids import service as grids
from backend.grids.tables import Division
from backend.people.tables import Team, TeamMember, User

LEADER = frozenset({Role.team_leader})
# Mediation should end within a month (人民调解法; extendable once with the parties' consent).
MEDIATION_DAYS = 30


@dataclass(frozen=True)
class Rule:
    states: frozenset[str]  # states the action may start from
    supervisors: bool = True  # township supervisors of the area and the county may always act
    team_roles: frozenset[str] = frozenset()  # roles that may act when they work on the owning team
    anyone_in_scope: bool = False
    # The area's leaders (role leader, 包案领导) may act too: they supervise, but work no case.
    leaders: bool = False
    # A condition on the case beyond its state (None: none), e.g. only a team's own 小事 is settled on
    # the spot before anyone accepts it.
    applies: Callable[[dict[str, Any]], bool] | None = None


def states(*names: str) -> frozenset[str]:
    return frozenset(names)


# The case states (DESIGN.md), grouped the way the rules use them. Cases in mediation have a running
# deadline: one past it is overdue.
IN_MEDIATION = states("accepted", "mediating", "reopened")
NOT_MERGED = states(
    "reported",
    "accepted",
    "mediating",
    "reopened",
    "resolved",
    "failed",
    "closed",
    "archived",
    "rejected",
    "referred",
)


def settled_on_the_spot(case: dict[str, Any]) -> bool:
    """小事拉家常: a village team settles a small matter where it finds it (村调解队当场化解), often
    with no signal; such a case, logged by the team itself, needs no one to accept it first."""
    return case["state"] != "reported" or (case["level"] == "small" and case["owner_team"] is not None)


# The one table of who may do what. A user must first be able to see the case (visible_to).
RULES: dict[str, Rule] = {
    "accept": Rule(states("reported"), team_roles=LEADER),
    "reject": Rule(states("reported"), team_roles=LEADER),
    "refer": Rule(states("reported", "failed") | IN_MEDIATION),
    "assign": Rule(states("reported", "failed") | IN_MEDIATION, team_roles=LEADER),
    "escalate": Rule(states("reported") | IN_MEDIATION, team_roles=LEADER),
    "note": Rule(
        IN_MEDIATION | states("reported", "failed", "resolved"), team_roles=TEAM_ROLES, anyone_in_scope=True
    ),
    # Field edits with a base version (title, description, ...), applied by backend/cases/edits.py.
    "update": Rule(states("reported", "failed", "resolved") | IN_MEDIATION, team_roles=TEAM_ROLES),
    "resolve": Rule(
        states("reported", "mediating", "reopened"), team_roles=TEAM_ROLES, applies=settled_on_the_spot
    ),
    "fail": Rule(states("mediating", "reopened"), team_roles=TEAM_ROLES),
    "close": Rule(states("resolved"), team_roles=TEAM_ROLES),
    "reopen": Rule(states("closed", "archived", "failed", "rejected")),
    "correct_location": Rule(NOT_MERGED - states("archived")),
    "extend_deadline": Rule(IN_MEDIATION, team_roles=LEADER),
    "clear_conflict": Rule(NOT_MERGED, applies=lambda case: bool(case["conflict"])),
    "merge": Rule(states("reported", "failed") | IN_MEDIATION),
    "dismiss_duplicate": Rule(NOT_MERGED - states("archived", "rejected", "referred")),
    # The system archives a closed case when its last return visit was satisfied; a supervisor may
    # archive a closed case by hand (e.g. the parties moved away and cannot be visited), with a reason.
    "archive": Rule(states("closed")),
    # After the agreement (backend/cases/agreement.py): the photo of the signed paper, the 司法确认
    # the parties applied for, and 不公开.
    "attach_signed_agreement": Rule(states("resolved", "closed", "archived"), team_roles=TEAM_ROLES),
    "record_confirmation": Rule(states("resolved", "closed", "archived"), team_roles=TEAM_ROLES),
    "set_confidential": Rule(NOT_MERGED, team_roles=TEAM_ROLES),
    # 督办 (backend/cases/supervision.py): supervisors of the area order the owning team's leader to act;
    # the leader acknowledges and reports; the issuer accepts the report or sends it back.
    # One open order per case at a time (a new one after the last is accepted).
    "supervise": Rule(
        states("reported", "failed") | IN_MEDIATION,
        applies=lambda case: case["supervision"] is None,
        leaders=True,
    ),
    "acknowledge_supervision": Rule(
        NOT_MERGED, supervisors=False, team_roles=LEADER, applies=lambda case: case["supervision"] == "issued"
    ),
    "report_supervision": Rule(
        NOT_MERGED,
        supervisors=False,
        team_roles=LEADER,
        applies=lambda case: case["supervision"] == "acknowledged",
    ),
    # (The issuer only, or the county office: supervision.accept; so a leader decides on its own orders.)
    "accept_supervision": Rule(
        NOT_MERGED, applies=lambda case: case["supervision"] == "reported", leaders=True
    ),
    "return_supervision": Rule(
        NOT_MERGED, applies=lambda case: case["supervision"] == "reported", leaders=True
    ),
    # 风险等级 re-assessed by a supervisor (backend/cases/risk.py).
    "set_risk": Rule(NOT_MERGED - states("archived")),
    # 领导包案 (backend/cases/leaders.py): attach, replace or clear the leader in charge.
    "assign_leader": Rule(NOT_MERGED - states("archived")),
}

OWNER_ORDER = ("team", "township", "county")
LEVEL_ORDER = ("small", "hard", "big")


class InvalidTransition(AppError):
    status_code = 409
    code = "case.invalid_transition"
    message = "当前状态下不能执行此操作"
    message_en = "This action is not allowed in the case's current state"


def is_overdue(case: dict[str, Any], now: datetime | None = None) -> bool:
    """Computed, never stored: a case in mediation past its deadline."""
    return (
        case["state"] in IN_MEDIATION
        and case["deadline"] is not None
        and case["deadline"] < (now or clock.now())
    )


# The countdown (督办): yellow with this little time left, red when overdue.
WARN_DAYS = 7


def deadline_colour(case: dict[str, Any], now: datetime | None = None) -> str | None:
    """green | yellow | red for a case in mediation with a deadline; None otherwise. Computed."""
    if case["state"] not in IN_MEDIATION or case["deadline"] is None:
        return None
    now = now or clock.now()
    if case["deadline"] < now:
        return "red"
    return "yellow" if case["deadline"] - now <= timedelta(days=WARN_DAYS) else "green"


def days_left(case: dict[str, Any], now: datetime | None = None) -> int | None:
    """Local calendar days to the deadline (0: today, negative: overdue) for a case in mediation."""
    if case["state"] not in IN_MEDIATION or case["deadline"] is None:
        return None
    today = (now or clock.now()).astimezone(clock.LOCAL_TZ).date()
    return (case["deadline"].astimezone(clock.LOCAL_TZ).date() - today).days


def works_on_case(user: CurrentUser, case: dict[str, Any]) -> bool:
    return (user.team_id is not None and case["owner_team"] == user.team_id) or case["mediator"] == user.id


def may_act(user: CurrentUser, action: str, case: dict[str, Any]) -> bool:
    """Role check only (the case is already known to be visible to the user)."""
    rule = RULES[action]
    if user.role in SUPERVISOR_ROLES and rule.supervisors:
        return True
    if user.role == Role.leader and rule.leaders:
        return True
    if user.role in rule.team_roles and works_on_case(user, case):
        return True
    return rule.anyone_in_scope


def applicable(action: str, case: dict[str, Any]) -> bool:
    rule = RULES[action]
    return case["state"] in rule.states and (rule.applies is None or rule.applies(case))


def allowed_actions(user: CurrentUser, case: dict[str, Any]) -> list[str]:
    return [a for a in RULES if applicable(a, case) and may_act(user, a, case)]


async def apply_action(user: CurrentUser, case_id: str, action: schemas.Action) -> dict[str, Any]:
    """Check, apply and record one action a user asked for; returns the case row after it."""
    async with write_transaction():
        case = await get_case_row(user, case_id)
        return await _apply(user, case, action, check_role=True)


async def apply_system_action(
    case_id: uuid.UUID, action: schemas.Action, actor: CurrentUser | None = None
) -> dict[str, Any]:
    """An action the system takes on a case (a visit found the dispute recurred: reopen; the last
    visit was satisfied: archive). The state rules still hold; the role table does not apply.
    Call inside the caller's write transaction."""
    case = await Case.select().where(Case.id == case_id).first().run()
    if case is None:
        raise CaseNotFound()
    return await _apply(actor, case, action, check_role=False)


async def _apply(
    user: CurrentUser | None, case: dict[str, Any], action: schemas.Action, check_role: bool
) -> dict[str, Any]:
    name = action.__struct_config__.tag
    assert isinstance(name, str)  # every action struct is tagged with its name (schemas.Action)
    # The state first: whoever sees the case sees its state, so "not now" tells nothing new.
    if not applicable(name, case):
        raise InvalidTransition(details={"state": case["state"], "action": name})
    if check_role and (user is None or not may_act(user, name, case)):
        raise Forbidden()
    now = clock.now()
    changes, data = await _HANDLERS[name](user, case, action, now)
    before = {k: _plain(case.get(k)) for k in changes}
    changes.update({Case.version._meta.name: case["version"] + 1, Case.updated_at._meta.name: now})
    # Piccolo takes str keys (its docs show them) but types the mapping as dict[Column | str, Any],
    # which a dict[str, Any] is not (dict is invariant).
    await Case.update(changes).where(Case.id == case["id"]).run()  # type: ignore[arg-type]
    after = {k: _plain(v) for k, v in changes.items() if k not in ("version", "updated_at")}
    await CaseEvent.insert(
        CaseEvent(
            case=case["id"],
            at=now,
            actor=user.id if user else None,
            device=user.device_id if user else None,
            action=name,
            before=before,
            after=after,
            data=data,
            version=case["version"] + 1,
        )
    ).run()
    await privacy.audit(user, f"case.{name}", case["id"])
    row = await Case.select().where(Case.id == case["id"]).first().run()
    assert row is not None  # updated above, in this transaction
    change = hooks.CaseChange(
        case_id=case["id"], action=name, actor=user, at=now, case=row, before=before, after=after, data=data
    )
    await hooks.emit(change)
    return row


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- one handler per action: returns (column changes, event data) -------------------------------------


async def _accept(user, case, action: schemas.Accept, now):
    changes: dict[str, Any] = {"accepted_at": now, "deadline": now + timedelta(days=MEDIATION_DAYS)}
    if action.level:
        changes["level"] = action.level
    if action.category:
        await require_active(action.category)
        changes["category"] = action.category
    # A case with an owning team goes straight into mediation.
    changes["state"] = "mediating" if case["owner_team"] else "accepted"
    return changes, {}


async def _reject(user, case, action: schemas.Reject, now):
    return {"state": "rejected", "reject_reason": action.reason}, {"reason": action.reason}


async def _refer(user, case, action: schemas.Refer, now):
    return {"state": "referred", "refer_target": action.target}, {
        "target": action.target,
        "reason": action.reason,
    }


async def _assign(user, case, action: schemas.Assign, now):
    if action.team_id is None and action.mediator_id is None:
        raise InvalidRequest(
            message="请选择调解队或调解员", message_en="Give a team or a mediator", code="case.assign_empty"
        )
    team_id = action.team_id if action.team_id is not None else case["owner_team"]
    if user.role == Role.team_leader and team_id != user.team_id:
        raise Forbidden(
            message="调解队长只能在本队内指派", message_en="Team leaders assign within their team"
        )
    changes: dict[str, Any] = {}
    if action.team_id is not None:
        team = (
            await Team.select(Team.id, Team.active, Team.township_code)
            .where(Team.id == action.team_id)
            .first()
            .run()
        )
        # A team outside the assigner's area is as unknown as one that does not exist: its members
        # would read the case's personal data. The township's own teams and the county-level ones (the
        # legal-service team takes escalated cases) are in a township supervisor's reach, as
        # /api/teams lists them.
        out_of_area = (
            team is not None and team["township_code"] is not None and not user.in_area(team["township_code"])
        )
        if team is None or not team["active"] or out_of_area:
            raise InvalidRequest(
                message="调解队不存在或不在您的辖区",
                message_en="No such team in your area",
                code="people.unknown_team",
            )
        changes.update(
            {
                "owner_team": action.team_id,
                "owner_level": "team"
                if case["owner_level"] == "township" and case["level"] == "small"
                else case["owner_level"],
            }
        )
        if action.mediator_id is None and case["mediator"] is not None:
            changes["mediator"] = None  # a new team chooses its own mediator
    if action.mediator_id is not None:
        member = (
            await TeamMember.exists()
            .where((TeamMember.team == team_id) & (TeamMember.user == action.mediator_id))
            .run()
        )
        is_user = (
            await User.exists()
            .where((User.id == action.mediator_id) & (User.team == team_id) & (User.active == True))  # noqa: E712
            .run()
        )  # noqa: E712
        if not (member or is_user):
            raise InvalidRequest(
                message="该调解员不属于此调解队",
                message_en="The mediator is not in the team",
                code="case.mediator_not_in_team",
            )
        changes["mediator"] = action.mediator_id
    if case["state"] in ("accepted", "failed", "reopened") and (
        changes.get("owner_team") or case["owner_team"]
    ):
        changes["state"] = "mediating"
        if case["accepted_at"] is None:
            changes.update({"accepted_at": now, "deadline": now + timedelta(days=MEDIATION_DAYS)})
    return changes, {"team_id": action.team_id, "mediator_id": action.mediator_id}


async def _escalate(user, case, action: schemas.Escalate, now):
    if action.owner is None and action.level is None:
        raise InvalidRequest(
            message="请选择上报层级或纠纷等级",
            message_en="Give an owner and/or a level",
            code="case.escalate_empty",
        )
    changes: dict[str, Any] = {}
    if action.owner is not None:
        if OWNER_ORDER.index(action.owner) <= OWNER_ORDER.index(case["owner_level"]):
            raise InvalidTransition(message="只能向上一级上报", message_en="Escalation goes upwards only")
        changes["owner_level"] = action.owner
    if action.level is not None:
        if LEVEL_ORDER.index(action.level) <= LEVEL_ORDER.index(case["level"]):
            raise InvalidTransition(message="只能升级为更重的等级", message_en="A level can only go up")
        changes["level"] = action.level
    return changes, {"reason": action.reason}


async def _note(user, case, action: schemas.Note, now):
    # A mediation session: no field changes, so notes never conflict. Its photos join the case's
    # (purpose "note": shown with the case's other photos, apart from the agreement and the visits').
    data: dict[str, Any] = {"text": action.text, "participants": action.participants}
    if action.place:
        data["place"] = text.single_line(action.place, "place")
    if action.photos:
        have = {
            r["sha256"]
            for r in await CasePhoto.select(CasePhoto.sha256).where(CasePhoto.case == case["id"]).run()
        }
        new = [sha for sha in dict.fromkeys(action.photos) if sha not in have]
        if new:
            await CasePhoto.insert(
                *[
                    CasePhoto(case=case["id"], sha256=sha, position=100 + i, purpose="note")
                    for i, sha in enumerate(new)
                ]
            ).run()
        data["photos"] = list(dict.fromkeys(action.photos))
    return {}, data


async def _resolve(user, case, action: schemas.Resolve, now):
    a = action.agreement
    columns = await agreement.columns_for(a, case["id"])
    if a.signed_photo and a.form == "oral":
        raise agreement.NotSignable()
    if a.signed_photo:
        await check_photos(user, [a.signed_photo])
    await Agreement.delete().where(Agreement.case == case["id"]).run()
    await Agreement.insert(
        Agreement(
            case=case["id"],
            **columns,
            signed_photo=a.signed_photo,
            signed_photos=msgspec.json.encode([a.signed_photo] if a.signed_photo else []).decode(),
            signed_at=now if a.signed_photo else None,
            made_by=user.id,
            made_at=now,
        )
    ).run()
    if a.signed_photo:
        await _add_agreement_photos(case["id"], [a.signed_photo])
    changes: dict[str, Any] = {"state": "resolved", "resolved_at": now}
    data: dict[str, Any] = {"agreement": msgspec.to_builtins(a)}
    if case["state"] == "reported":  # settled on the spot: accepted and resolved at once
        changes.update({"accepted_at": now, "deadline": now + timedelta(days=MEDIATION_DAYS)})
        data["on_the_spot"] = True
    return changes, data


async def _add_agreement_photos(case_id: uuid.UUID, hashes: list[str]) -> None:
    have = {
        r["sha256"] for r in await CasePhoto.select(CasePhoto.sha256).where(CasePhoto.case == case_id).run()
    }
    new = [sha for sha in dict.fromkeys(hashes) if sha not in have]
    if new:
        await CasePhoto.insert(
            *[
                CasePhoto(case=case_id, sha256=sha, position=90 + i, purpose="agreement")
                for i, sha in enumerate(new)
            ]
        ).run()


async def _fail(user, case, action: schemas.Fail, now):
    return {"state": "failed"}, {"reason": action.reason}


async def _close(user, case, action: schemas.Close, now):
    prevented = {
        "prevented_criminal": action.prevented_criminal,
        "prevented_group_petition": action.prevented_group_petition,
        "prevented_group_fight": action.prevented_group_fight,
    }
    return {"state": "closed", "closed_at": now, **prevented}, {}


async def _reopen(user, case, action: schemas.Reopen, now):
    state = "mediating" if case["owner_team"] else "reopened"
    return {"state": state, "closed_at": None, "resolved_at": None}, {"reason": action.reason}


async def _correct_location(user, case, action: schemas.CorrectLocation, now):
    village_code = action.grid_code[:12]
    village = (
        await Division.select(Division.code, Division.parent_code)
        .where((Division.code == village_code) & (Division.level == "village"))
        .first()
        .run()
    )
    if village is None or not await _grid_exists(action.grid_code):
        raise InvalidRequest(
            message="网格编码不存在", message_en="Unknown grid code", code="geo.unknown_grid"
        )
    if user.role == Role.township_supervisor and village["parent_code"] != user.scope_code:
        raise Forbidden(message="只能改到本乡镇的网格", message_en="Only to a grid of your township")
    changes = {
        "grid_code": action.grid_code,
        "village_code": village_code,
        "township_code": village["parent_code"],
        "locate_status": "corrected",
    }
    return changes, {"reason": action.reason}


async def _grid_exists(code: str) -> bool:
    return bool(await grids.region_names({code}))


async def _extend_deadline(user, case, action: schemas.ExtendDeadline, now):
    if case["deadline_extended"]:
        raise InvalidTransition(
            message="调解期限只能延长一次", message_en="The deadline can be extended once"
        )
    if case["deadline"] is None:
        raise InvalidTransition(message="案件尚未受理，没有期限", message_en="No deadline yet")
    return {"deadline": case["deadline"] + timedelta(days=action.days), "deadline_extended": True}, {
        "days": action.days,
        "reason": action.reason,
    }


async def _clear_conflict(user, case, action: schemas.ClearConflict, now):
    if not case["conflict"]:
        raise InvalidTransition(message="该案件没有待处理的冲突", message_en="No conflict to clear")
    return {"conflict": False}, {}


async def _merge(user, case, action: schemas.Merge, now):
    target = await get_case_row(user, action.into)
    if target["id"] == case["id"] or target["merged_into"] is not None:
        raise InvalidRequest(
            message="不能合并到该案件", message_en="Cannot merge into that case", code="case.invalid_merge"
        )
    await (
        CaseLink.update({CaseLink.status: "merged", CaseLink.decided_by: user.id})
        .where(
            ((CaseLink.case == case["id"]) & (CaseLink.other == target["id"]))
            | ((CaseLink.case == target["id"]) & (CaseLink.other == case["id"]))
        )
        .run()
    )
    await CaseEvent.insert(
        CaseEvent(
            case=target["id"],
            at=now,
            actor=user.id,
            device=user.device_id,
            action="merged_in",
            data={"from": str(case["id"]), "number": case["number"]},
        )
    ).run()
    return {"state": "merged", "merged_into": target["id"]}, {
        "into": str(target["id"]),
        "number": target["number"],
    }


async def _dismiss_duplicate(user, case, action: schemas.DismissDuplicate, now):
    updated = (
        await CaseLink.update({CaseLink.status: "dismissed", CaseLink.decided_by: user.id})
        .where(
            (
                ((CaseLink.case == case["id"]) & (CaseLink.other == action.other))
                | ((CaseLink.case == action.other) & (CaseLink.other == case["id"]))
            )
            & (CaseLink.status == "open")
        )
        .returning(CaseLink.id)
        .run()
    )
    if not updated:
        raise InvalidRequest(
            message="没有这条疑似重复记录",
            message_en="No such open duplicate link",
            code="case.no_duplicate_link",
        )
    return {}, {"other": str(action.other)}


async def _archive(user, case, action: schemas.Archive, now):
    changes: dict[str, Any] = {"state": "archived"}
    # A case reopened and archived again keeps the number its file was first given.
    if case["archive_number"] is None:
        changes["archive_number"] = await archive.next_archive_number(case, now)
    return changes, {"reason": action.reason}


async def _signable_agreement(case_id: uuid.UUID) -> dict[str, Any]:
    row = await Agreement.select().where(Agreement.case == case_id).first().run()
    if row is None:
        raise agreement.NoAgreement()
    if not agreement.is_signable(row):
        raise agreement.NotSignable()
    return row


async def _attach_signed_agreement(user, case, action: schemas.AttachSignedAgreement, now):
    row = await _signable_agreement(case["id"])
    photos = list(dict.fromkeys(p.lower() for p in action.photos))
    await check_photos(user, photos)
    signed = list(dict.fromkeys([*agreement.json_list(row["signed_photos"]), *photos]))
    await (
        Agreement.update(
            {
                Agreement.signed_photos: msgspec.json.encode(signed).decode(),
                Agreement.signed_photo: row["signed_photo"] or photos[0],
                # It took effect when first signed; more photos of the same paper do not move the date.
                Agreement.signed_at: row["signed_at"] or now,
            }
        )
        .where(Agreement.id == row["id"])
        .run()
    )
    await _add_agreement_photos(case["id"], photos)
    return {}, {"photos": photos}


async def _record_confirmation(user, case, action: schemas.RecordConfirmation, now):
    row = await _signable_agreement(case["id"])
    missing = [f for f in ("court", "result", "date") if action.applied and not getattr(action, f)]
    if missing:
        raise InvalidRequest(
            message="已申请司法确认的，请填写受理法院、结果和日期",
            message_en="An application needs the court, the result and the date",
            code="agreement.confirmation_incomplete",
            details={"missing": missing},
        )
    await (
        Agreement.update(
            {
                Agreement.confirmation_applied: action.applied,
                Agreement.confirmation_court: action.court.strip() if action.applied else "",
                Agreement.confirmation_result: action.result if action.applied else None,
                Agreement.confirmation_date: action.date,
            }
        )
        .where(Agreement.id == row["id"])
        .run()
    )
    return {}, {"confirmation": msgspec.to_builtins(action)}


async def _set_confidential(user, case, action: schemas.SetConfidential, now):
    return {"confidential": action.confidential}, {"reason": action.reason}


# Each takes (user, case row, action, now) and returns (column changes, event data); user is None
# only for the system's own actions.
_HANDLERS: dict[str, Callable[..., Awaitable[tuple[dict[str, Any], dict[str, Any]]]]] = {
    "archive": _archive,
    "accept": _accept,
    "reject": _reject,
    "refer": _refer,
    "assign": _assign,
    "escalate": _escalate,
    "note": _note,
    "resolve": _resolve,
    "fail": _fail,
    "close": _close,
    "reopen": _reopen,
    "correct_location": _correct_location,
    "extend_deadline": _extend_deadline,
    "clear_conflict": _clear_conflict,
    "merge": _merge,
    "dismiss_duplicate": _dismiss_duplicate,
    "attach_signed_agreement": _attach_signed_agreement,
    "record_confirmation": _record_confirmation,
    "set_confidential": _set_confidential,
    "supervise": supervision.supervise,
    "acknowledge_supervision": supervision.acknowledge,
    "report_supervision": supervision.report,
    "accept_supervision": supervision.accept,
    "return_supervision": supervision.send_back,
    "set_risk": risk.set_risk,
    "assign_leader": leaders.assign,
}
assert set(_HANDLERS) == set(RULES) - {"update"}
