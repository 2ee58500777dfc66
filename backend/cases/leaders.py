"""领导包案: a county or township leader (role `leader`) takes personal charge of a hard case.

The county office or the township's 综治中心 attaches a leader whose area covers the case
(`assign_leader {user_id}`), replaces or clears it (`user_id: null`); each is an event in the case's
log. The leader reads its area like its supervisor (scope.visible_to), sees the parties of the cases in
its charge (privacy), may note and issue 督办 (workflow.RULES), and hears of the case's important
events (notify and supervision listeners, through `Case.leader`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.columns.combination import Combinable

from backend.cases import schemas
from backend.cases.tables import Case
from backend.core.errors import InvalidRequest
from backend.core.identity import CurrentUser, Role
from backend.people.service import division_names
from backend.people.tables import User


class UnknownLeader(InvalidRequest):
    # Another township's account is as unknown as one that does not exist.
    code = "case.unknown_leader"
    message = "包案领导不存在或不在您的辖区"
    message_en = "No such leader in your area"


class NotALeader(InvalidRequest):
    code = "case.not_a_leader"
    message = "该用户不是在岗的包案领导（角色须为包案领导且账号启用）"
    message_en = "The user is not an active leader account"


class LeaderOutOfArea(InvalidRequest):
    code = "case.leader_out_of_area"
    message = "该领导的辖区不含案件所在乡镇，请选择县领导或本乡镇领导"
    message_en = "The leader's area does not cover the case"


class LeaderUnchanged(InvalidRequest):
    status_code = 409
    code = "case.leader_unchanged"
    message = "包案领导没有变化"
    message_en = "The case already has this leader in charge (or none to clear)"


class InvalidLeaderFilter(InvalidRequest):
    code = "case.invalid_leader_filter"
    message = "leader 应为 me、any、none 或用户编号"
    message_en = "leader is me, any, none or a user id"


def covers(leader: dict[str, Any], case: dict[str, Any]) -> bool:
    """Whether a leader account's area covers the case: a county leader every case, a township's the
    cases of its township."""
    return leader["scope_level"] == "county" or leader["scope_code"] == case["township_code"]


def _known_to(caller: CurrentUser, row: dict[str, Any]) -> bool:
    """Whether the caller may learn this account exists: the county office any; a township supervisor
    the accounts of its township and the county's leaders (who may take charge of any case)."""
    if caller.role == Role.county_admin:
        return True
    county_leader = row["role"] == Role.leader and row["scope_level"] == "county"
    return county_leader or caller.in_area(row["scope_code"])


async def assign(user: CurrentUser, case: dict[str, Any], action: schemas.AssignLeader, now: datetime):
    """The workflow's handler: check the leader named against the caller and the case."""
    if action.user_id is None:
        if case["leader"] is None:
            raise LeaderUnchanged()
        return {"leader": None}, {"leader_id": None, "previous": case["leader"], "reason": action.reason}
    row = (
        await User.select(
            User.id, User.display_name, User.role, User.scope_level, User.scope_code, User.active
        )
        .where(User.id == action.user_id)
        .first()
        .run()
    )
    if row is None or not _known_to(user, row):
        raise UnknownLeader()
    if row["role"] != Role.leader or not row["active"]:
        raise NotALeader()
    if not covers(row, case):
        raise LeaderOutOfArea()
    if case["leader"] == row["id"]:
        raise LeaderUnchanged()
    # The name too, so the case's history reads as it was (an account may be renamed later).
    data = {"leader_id": row["id"], "leader_name": row["display_name"], "previous": case["leader"]}
    data["reason"] = action.reason
    return {"leader": row["id"]}, data


async def candidates(case: dict[str, Any]) -> list[schemas.LeaderView]:
    """The active leaders whose area covers the case (the county's first), for the assign control.
    The caller was already checked to see the case and to be one who assigns."""
    rows = (
        await User.select(User.id, User.display_name, User.scope_level, User.scope_code)
        .where(
            (User.role == Role.leader)
            & (User.active == True)  # noqa: E712
            & (
                (User.scope_level == "county")
                | ((User.scope_level == "township") & (User.scope_code == case["township_code"]))
            )
        )
        .order_by(User.scope_level)
        .order_by(User.display_name)
        .run()
    )
    names = await division_names({r["scope_code"] for r in rows})
    return [
        schemas.LeaderView(
            id=r["id"],
            name=r["display_name"],
            level=r["scope_level"],
            area=names.get(r["scope_code"], r["scope_code"]),
        )
        for r in rows
    ]


def list_filter(value: str, user: CurrentUser) -> Combinable:
    """The case list's `leader` filter: me (the caller's own 包案 cases), any, none, or a user id."""
    if value == "me":
        return Case.leader == user.id
    if value == "any":
        return Case.leader.is_not_null()
    if value == "none":
        return Case.leader.is_null()
    if value.isdigit() and len(value) < 10:
        return Case.leader == int(value)
    raise InvalidLeaderFilter(details={"leader": value[:20]})
