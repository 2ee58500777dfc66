"""Accounts with a lifecycle: created, edited, disabled and enabled, passwords reset and changed.

One validator for the API, the CLI and the roster import (`check_username`, `check_display_name`,
`check_phone`, `passwords.check`). Who may manage whom is `in_reach`: the county office everyone, a
township supervisor the field accounts (mediators, grid workers, team leaders) of their township.
Every change is written to the audit log; a change of role, area or team signs the user's devices
out, because what they may see changed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from piccolo.columns.combination import Or, Where
from piccolo.query import Select

from backend.core import clock, phones
from backend.core.auth import hash_off_loop, hash_password, verify_password
from backend.core.errors import AppError, Conflict, Forbidden, InvalidRequest, NotFound
from backend.core.identity import TEAM_ROLES, CurrentUser, Role, township_of
from backend.core.pagination import decode_cursor, encode_cursor
from backend.db import write_transaction
from backend.grids.tables import Division
from backend.people import audit, passwords, schemas, service
from backend.people.roles import ROLE_LABELS, ROLE_SCOPE_LEVELS
from backend.people.tables import Device, Team, User

USERNAME = re.compile(r"^[a-z0-9._-]{3,32}$")
# What a township supervisor may create and manage in their township.
FIELD_ROLES = frozenset({Role.mediator, Role.grid_worker, Role.team_leader})


class InvalidUsername(InvalidRequest):
    code = "people.invalid_username"
    message = "用户名须为 3–32 位小写字母、数字或 . _ -"
    message_en = "Usernames are 3-32 lower-case letters, digits or . _ -"


class InvalidDisplayName(InvalidRequest):
    code = "people.invalid_display_name"
    message = "姓名不能为空，最多 32 个字"
    message_en = "The display name must not be empty (at most 32 characters)"


class InvalidPhone(InvalidRequest):
    code = "people.invalid_phone"
    message = "电话号码格式不正确（11 位手机号或带区号的固定电话）"
    message_en = "Invalid phone number"


class WrongPassword(InvalidRequest):
    code = "auth.wrong_password"
    message = "原密码不正确"
    message_en = "The current password is wrong"


class UserNotFound(NotFound):
    code = "people.user_not_found"
    message = "未找到该用户"
    message_en = "No such user"


class RoleNotAllowed(AppError):
    status_code = 403
    code = "people.role_not_allowed"
    message = "乡镇管理员只能管理本乡镇的调解员、网格员和调解队长"
    message_en = "A township supervisor manages only field accounts of the township"


# --- validators (API, CLI and roster import) ------------------------------------------------------


def check_username(raw: str) -> str:
    username = raw.strip().lower()
    if not USERNAME.match(username):
        raise InvalidUsername()
    return username


def check_display_name(raw: str) -> str:
    name = " ".join(raw.split())  # also drops tabs, newlines and other whitespace control characters
    if not name or len(name) > 32 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidDisplayName()
    return name


def check_phone(raw: str | None) -> str | None:
    try:
        return phones.normalise(raw)
    except ValueError:
        raise InvalidPhone() from None


async def check_area(role: str, scope_code: str) -> Division:
    division = await Division.objects().get(Division.code == scope_code)
    if division is None or division.level not in ROLE_SCOPE_LEVELS.get(role, ()):
        levels = "、".join(
            {"county": "全县", "township": "乡镇", "village": "村（社区）"}[lv]
            for lv in ROLE_SCOPE_LEVELS[role]
        )
        raise InvalidRequest(
            message=f"区划代码 {scope_code} 不存在，或不是{ROLE_LABELS[role]}可用的级别（{levels}）",
            message_en=f"Division {scope_code} does not exist or has the wrong level for the role",
            code="people.invalid_area",
        )
    return division


async def check_team(role: str, team_id: int | None, scope_code: str) -> int | None:
    if role in TEAM_ROLES and team_id is None:
        raise InvalidRequest(
            message="调解员和调解队长必须属于一个调解队",
            message_en="Mediators and team leaders need a team",
            code="people.team_required",
        )
    if team_id is None:
        return None
    if role == Role.leader:  # a leader (包案领导) takes charge of cases; it works in no team
        raise InvalidRequest(
            message="包案领导不属于调解队",
            message_en="Leaders belong to no team",
            code="people.team_not_allowed",
        )
    team = await Team.select(Team.township_code).where(Team.id == team_id).first().run()
    if team is None:
        raise InvalidRequest(message="调解队不存在", message_en="No such team", code="people.unknown_team")
    if team["township_code"] and township_of(scope_code) != team["township_code"] and len(scope_code) == 12:
        if scope_code[6:9] != "000":  # a county-level account may join any team
            raise InvalidRequest(
                message="调解队不在该用户的乡镇",
                message_en="The team is not in the user's township",
                code="people.team_outside_area",
            )
    return team_id


# --- who may manage whom --------------------------------------------------------------------------


def in_reach(actor: CurrentUser, user: dict[str, Any]) -> bool:
    """The one scoping rule of administration."""
    if actor.role == Role.county_admin:
        return True
    if actor.role == Role.township_supervisor:
        return user["role"] in FIELD_ROLES and township_of(user["scope_code"]) == actor.scope_code
    return False


def reach_filter(actor: CurrentUser) -> Where | Or | None:
    """`in_reach` as a query condition (None: everyone)."""
    if actor.role == Role.county_admin:
        return None
    if actor.role == Role.township_supervisor:
        return User.scope_code.like(actor.scope_code[:9] + "%") & User.role.is_in(sorted(FIELD_ROLES))  # type: ignore[return-value]
    raise Forbidden()


class TownshipNotInReach(NotFound):
    # 404 like a case out of scope: a township supervisor must not learn what other townships hold.
    code = "scope.not_found"
    message = "未找到该乡镇，或该乡镇不在您的管辖范围内"
    message_en = "No such township in your area"


def check_township_filter(actor: CurrentUser, township: str | None) -> None:
    """A township (or village) filter outside a township supervisor's own is "not found", not an empty
    list that reads as "nobody there"."""
    if township and actor.role == Role.township_supervisor and not actor.in_area(township):
        raise TownshipNotInReach(details={"township": township})


def may_give(actor: CurrentUser, role: str, scope_code: str) -> None:
    """Whether the actor may create (or turn) an account into this role and area."""
    if not in_reach(actor, {"role": role, "scope_code": scope_code}):
        raise RoleNotAllowed()


async def _target(actor: CurrentUser, user_id: int) -> dict[str, Any]:
    row = await User.select().where(User.id == user_id).first().run()
    if row is None or not in_reach(actor, row):
        raise UserNotFound()  # outside one's reach is "not found", like cases
    return row


# --- views ----------------------------------------------------------------------------------------


async def admin_views(rows: list[dict[str, Any]], *, full_phone: bool = False) -> list[schemas.AdminUserView]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    codes = {r["scope_code"] for r in rows} | {township_of(r["scope_code"]) for r in rows}
    names = {
        d["code"]: d["name"]
        for d in await Division.select(Division.code, Division.name)
        .where(Division.code.is_in(list(codes)))
        .run()
    }
    team_ids = [r["team"] for r in rows if r["team"]]
    teams = (
        {
            t["id"]: t["name"]
            for t in await Team.select(Team.id, Team.name).where(Team.id.is_in(team_ids)).run()
        }
        if team_ids
        else {}
    )
    devices: dict[int, dict[str, Any]] = {}
    for d in (
        await Device.select(Device.user, Device.last_seen_at, Device.revoked_at)
        .where(Device.user.is_in(ids))
        .run()
    ):
        entry = devices.setdefault(d["user"], {"active": 0, "last_seen": None})
        if d["revoked_at"] is None:
            entry["active"] += 1
        if entry["last_seen"] is None or d["last_seen_at"] > entry["last_seen"]:
            entry["last_seen"] = d["last_seen_at"]
    views = []
    for r in rows:
        township = township_of(r["scope_code"]) if r["scope_level"] != "county" else None
        seen = devices.get(r["id"], {"active": 0, "last_seen": None})
        views.append(
            schemas.AdminUserView(
                id=r["id"],
                username=r["username"],
                display_name=r["display_name"],
                role=r["role"],
                role_label=ROLE_LABELS.get(r["role"], r["role"]),
                scope=schemas.AreaView(
                    level=r["scope_level"],
                    code=r["scope_code"],
                    name=names.get(r["scope_code"], r["scope_code"]),
                ),
                township=schemas.AreaRef(code=township, name=names.get(township, township))
                if township
                else None,
                team=schemas.TeamRef(id=r["team"], name=teams.get(r["team"], "")) if r["team"] else None,
                phone_masked=phones.mask(r["phone"]),
                phone=r["phone"] if full_phone else None,
                active=r["active"],
                must_change_password=r["must_change_password"],
                created_at=r["created_at"],
                last_seen_at=seen["last_seen"],
                devices=seen["active"],
            )
        )
    return views


async def admin_view(user_id: int, *, full_phone: bool = False) -> schemas.AdminUserView:
    row = await User.select().where(User.id == user_id).first().run()
    if row is None:
        raise UserNotFound()
    return (await admin_views([row], full_phone=full_phone))[0]


@dataclass(frozen=True)
class UserFilter:
    q: str | None = None
    township: str | None = None
    team_id: int | None = None
    role: str | None = None
    active: bool | None = None


async def list_users(
    actor: CurrentUser, filters: UserFilter, cursor: str | None, limit: int
) -> schemas.AdminUserPage:
    check_township_filter(actor, filters.township)
    query: Select = User.select()
    reach = reach_filter(actor)
    if reach is not None:
        query = query.where(reach)
    if filters.q:
        text = filters.q.strip()
        like = f"%{text}%"
        query = query.where(
            User.display_name.like(like)
            | User.username.like(f"%{text.lower()}%")
            | User.phone.like(f"{text}%")
        )
    if filters.township:
        query = query.where(User.scope_code.like(filters.township[:9] + "%"))
    if filters.team_id is not None:
        query = query.where(User.team == filters.team_id)
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.active is not None:
        query = query.where(User.active == filters.active)
    if cursor:
        (after,) = decode_cursor(cursor, int)
        query = query.where(User.id > after)
    rows = await query.order_by(User.id).limit(limit + 1).run()
    more = len(rows) > limit
    rows = rows[:limit]
    return schemas.AdminUserPage(
        items=await admin_views(rows), next_cursor=encode_cursor(rows[-1]["id"]) if more and rows else None
    )


async def read_user(actor: CurrentUser, user_id: int) -> schemas.AdminUserView:
    """One account in full (the phone number too): the read is audited."""
    await _target(actor, user_id)
    await audit.record(actor, "user.read", target_user=user_id)
    return await admin_view(user_id, full_phone=True)


# --- changes --------------------------------------------------------------------------------------


async def create(actor: CurrentUser | None, data: schemas.CreateUserRequest) -> schemas.AdminUserCreated:
    """A new account; without a password it gets a one-time password (returned once, must be changed)."""
    username = check_username(data.username)
    display_name = check_display_name(data.display_name)
    phone = check_phone(data.phone)
    if actor is not None:
        may_give(actor, data.role, data.scope_code)
    division = await check_area(data.role, data.scope_code)
    team_id = await check_team(data.role, data.team_id, division.code)
    one_time = None
    if data.password is not None:
        passwords.check(data.password, username)
        password_hash = await hash_off_loop(hash_password, data.password)
    else:
        one_time = passwords.one_time()
        password_hash = await hash_off_loop(passwords.hash_one_time, one_time)
    async with write_transaction():
        if await User.exists().where(User.username == username).run():
            raise Conflict(
                code="people.username_taken", message="用户名已被使用", message_en="The username is taken"
            )
        rows = await User.insert(
            User(
                username=username,
                display_name=display_name,
                password_hash=password_hash,
                role=data.role,
                scope_level=division.level,
                scope_code=division.code,
                team=team_id,
                phone=phone,
                must_change_password=one_time is not None,
            )
        ).run()
        user_id = rows[0]["id"]
        await audit.record(actor, "user.create", target_user=user_id, role=data.role, scope=division.code)
    view = await admin_view(user_id)
    return schemas.AdminUserCreated(
        **{f: getattr(view, f) for f in view.__struct_fields__}, one_time_password=one_time
    )


async def update(actor: CurrentUser, user_id: int, data: schemas.UpdateUserRequest) -> schemas.AdminUserView:
    row = await _target(actor, user_id)
    changes: dict[Any, Any] = {}
    if data.display_name is not None:
        changes[User.display_name] = check_display_name(data.display_name)
    if data.phone is not schemas.UNSET:
        changes[User.phone] = check_phone(data.phone)
    role = data.role or row["role"]
    scope_code = data.scope_code or row["scope_code"]
    team_id = row["team"] if data.team_id is schemas.UNSET else data.team_id
    scope_changed = (role, scope_code, team_id) != (row["role"], row["scope_code"], row["team"])
    if scope_changed:
        may_give(actor, role, scope_code)
        division = await check_area(role, scope_code)
        changes.update(
            {
                User.role: role,
                User.scope_level: division.level,
                User.scope_code: division.code,
                User.team: await check_team(role, team_id, division.code),
            }
        )
    if user_id == actor.id and scope_changed:
        raise InvalidRequest(
            message="不能修改自己的角色、区域或调解队",
            message_en="You cannot change your own role or area",
            code="people.self_change",
        )
    if changes:
        async with write_transaction():
            await User.update(changes).where(User.id == user_id).run()
            service.forget_cached(user_id)
            if scope_changed:
                await _revoke_all(user_id, "scope_changed")
            await audit.record(
                actor, "user.update", target_user=user_id, fields=sorted(c._meta.name for c in changes)
            )
    return await admin_view(user_id)


async def set_active(actor: CurrentUser | None, user_id: int, active: bool) -> schemas.AdminUserView:
    """Enable or disable an account (actor None: the command line, on the server itself)."""
    await _exists_for(actor, user_id)
    if actor is not None and user_id == actor.id and not active:
        raise InvalidRequest(
            message="不能停用自己的账号", message_en="You cannot disable yourself", code="people.self_change"
        )
    async with write_transaction():
        await (
            User.update({User.active: active, User.disabled_at: None if active else clock.now()})
            .where(User.id == user_id)
            .run()
        )
        service.forget_cached(user_id)
        if not active:
            await _revoke_all(user_id, "disabled")
        await audit.record(actor, "user.enable" if active else "user.disable", target_user=user_id)
    return await admin_view(user_id)


async def _exists_for(actor: CurrentUser | None, user_id: int) -> None:
    if actor is not None:
        await _target(actor, user_id)
    elif not await User.exists().where(User.id == user_id).run():
        raise UserNotFound()


async def reset_password(actor: CurrentUser | None, user_id: int) -> str:
    """A one-time password for a user who forgot theirs; their devices are signed out."""
    await _exists_for(actor, user_id)
    one_time = passwords.one_time()
    hashed = await hash_off_loop(passwords.hash_one_time, one_time)  # before the write lock
    async with write_transaction():
        await (
            User.update({User.password_hash: hashed, User.must_change_password: True})
            .where(User.id == user_id)
            .run()
        )
        await _revoke_all(user_id, "password_reset")
        await audit.record(actor, "user.reset_password", target_user=user_id)
    return one_time


async def change_own_password(user: CurrentUser, old_password: str, new_password: str) -> None:
    """The signed-in user picks a new password; their other devices are signed out."""
    row = await User.select(User.password_hash, User.username).where(User.id == user.id).first().run()
    if row is None or not await verify_password(row["password_hash"], old_password):
        raise WrongPassword()
    if new_password == old_password:
        raise passwords.WeakPassword(message="密码太弱：新密码不能与原密码相同", details={"reason": "same"})
    passwords.check(new_password, row["username"])
    new_hash = await hash_off_loop(hash_password, new_password)
    async with write_transaction():
        await (
            User.update(
                {
                    User.password_hash: new_hash,
                    User.must_change_password: False,
                    User.password_changed_at: clock.now(),
                }
            )
            .where(User.id == user.id)
            .run()
        )
        await _revoke_all(user.id, "password_changed", keep=user.device_id)
        await audit.record(user, "user.change_password", target_user=user.id)


async def _revoke_all(user_id: int, reason: str, keep: str | None = None) -> None:
    service.forget_cached(user_id)  # the account's row changed too (password, must_change_password)
    await service.revoke_devices(user_id, reason, keep=uuid.UUID(keep) if keep else None)


# --- devices --------------------------------------------------------------------------------------


async def _device_target(actor: CurrentUser, device_id: str) -> dict[str, Any]:
    try:
        device_uuid = uuid.UUID(device_id)
    except ValueError:
        raise NotFound(
            message="未找到该设备", message_en="No such device", code="people.device_not_found"
        ) from None
    row = (
        await Device.select(Device.id, Device.user, Device.revoked_at)
        .where(Device.id == device_uuid)
        .first()
        .run()
    )
    if row is None:
        raise NotFound(message="未找到该设备", message_en="No such device", code="people.device_not_found")
    user = await User.select(User.role, User.scope_code).where(User.id == row["user"]).first().run()
    if user is None or not in_reach(actor, user):
        raise NotFound(message="未找到该设备", message_en="No such device", code="people.device_not_found")
    return row


async def request_wipe(actor: CurrentUser, device_id: str) -> None:
    """The phone, at its next contact, sends its outbox, then deletes its local data and session."""
    row = await _device_target(actor, device_id)
    if row["revoked_at"] is not None:
        raise Conflict(
            code="people.device_revoked",
            message="该设备已停用，无法再联系它清除数据",
            message_en="The device is revoked: it will not contact the server again",
        )
    await Device.update({Device.wipe_requested_at: clock.now()}).where(Device.id == row["id"]).run()
    service.forget_cached(device_id=row["id"])
    await audit.record(actor, "device.wipe", device_id=str(row["id"]), target_user=row["user"])


async def confirm_wiped(user: CurrentUser) -> None:
    """The phone reports its local data gone: the device is signed out for good."""
    device_uuid = uuid.UUID(user.device_id)
    if not user.wipe_requested:
        raise Conflict(
            code="people.no_wipe_requested",
            message="管理员没有要求清除此设备",
            message_en="No wipe was asked for this device",
        )
    await Device.update({Device.wiped_at: clock.now()}).where(Device.id == device_uuid).run()
    await service.revoke_devices(user.id, "wiped", only=device_uuid)
    await audit.record(user, "device.wiped", device_id=user.device_id)


async def revoke_device(actor: CurrentUser, device_id: str) -> None:
    row = await _device_target(actor, device_id)
    await service.revoke_devices(row["user"], "admin", only=row["id"])
    await audit.record(actor, "device.revoke", device_id=str(row["id"]), target_user=row["user"])


def user_ids_in_reach(actor: CurrentUser) -> Select:
    query = User.select(User.id)
    reach = reach_filter(actor)
    return query.where(reach) if reach is not None else query
