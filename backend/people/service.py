"""People: sign-in, devices and their refresh tokens, users and teams. Knows nothing of HTTP."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.core import clock
from backend.core.auth import (
    AccessToken,
    RefreshToken,
    new_refresh_token,
    same_hash,
    successor_refresh_token,
    token_hash,
    verify_password,
)
from backend.core.errors import AppError, InvalidRequest, NotFound
from backend.core.identity import CurrentUser, Role
from backend.core.throttle import FailureThrottle
from backend.db import write_transaction
from backend.grids import divisions
from backend.grids.tables import Division
from backend.people import schemas, session_cache
from backend.people.roles import ROLE_LABELS
from backend.people.tables import Device, Team, TeamMember, TeamVillage, User
from backend.settings import Settings


class InvalidCredentials(AppError):
    status_code = 401
    code = "auth.invalid_credentials"
    message = "用户名或密码错误"
    message_en = "Wrong username or password"


class AccountDisabled(AppError):
    status_code = 403
    code = "auth.account_disabled"
    message = "账号已被停用，请联系管理员"
    message_en = "The account is disabled"


class PasswordChangeRequired(AppError):
    status_code = 403
    code = "auth.password_change_required"
    message = "请先设置新密码（当前是管理员给的一次性密码）"
    message_en = "Set a new password first (you signed in with a one-time password)"


class DeviceRevoked(AppError):
    status_code = 401
    code = "auth.device_revoked"
    message = "此设备已被管理员停用，请重新登录"
    message_en = "This device has been revoked"


class SignedOut(AppError):
    status_code = 401
    code = "auth.signed_out"
    message = "此设备已退出登录，请重新登录"
    message_en = "This device has signed out"


class RefreshInvalid(AppError):
    status_code = 401
    code = "auth.refresh_invalid"
    message = "登录凭证无效，请重新登录"
    message_en = "The refresh token is invalid"


class RefreshExpired(AppError):
    status_code = 401
    code = "auth.refresh_expired"
    message = "已超过30天未联网登录，请重新登录"
    message_en = "The refresh token has expired"


class RefreshReused(AppError):
    status_code = 401
    code = "auth.refresh_reused"
    message = "登录凭证已被使用过，为安全起见此设备已停用，请重新登录"
    message_en = "A rotated refresh token was reused; the device has been revoked"


# --- sign-in and tokens -------------------------------------------------------------------------


def _issue_access_token(settings: Settings, secret: str, user_id: int, device_id: str) -> str:
    # JWT expiry is checked against the real clock by PyJWT, so it is issued from the real clock.
    token = AccessToken(
        sub=str(user_id),
        exp=datetime.now(UTC) + timedelta(minutes=settings.access_token_minutes),
        extras={"did": device_id},
    )
    return token.encode(secret=secret, algorithm="HS256")


async def _token_response(
    settings: Settings, secret: str, user_id: int, device_id: str, refresh: str, expires_at: datetime
) -> schemas.TokenResponse:
    must_change = await User.select(User.must_change_password).where(User.id == user_id).first().run()
    return schemas.TokenResponse(
        access_token=_issue_access_token(settings, secret, user_id, device_id),
        refresh_token=refresh,
        expires_in=settings.access_token_minutes * 60,
        refresh_expires_in=max(0, int((expires_at - clock.now()).total_seconds())),
        user=await user_view(user_id),
        device_id=device_id,
        must_change_password=bool(must_change and must_change["must_change_password"]),
    )


async def login(
    *,
    settings: Settings,
    secret: str,
    throttle: FailureThrottle,
    username: str,
    password: str,
    device_name: str,
    client_addr: str,
) -> schemas.TokenResponse:
    """Sign in and register the device; failures are throttled per username+address pair and, more
    loosely, per address (core.throttle)."""
    await throttle.check(username, client_addr)
    user = await User.objects().get(User.username == username.lower())
    ok = await verify_password(user.password_hash if user else None, password)
    if not ok or user is None:
        await throttle.record_failure(username, client_addr)
        raise InvalidCredentials()
    await throttle.reset(username, client_addr)
    if not user.active:
        # Only after the right password: a wrong guess learns nothing about the account.
        raise AccountDisabled()

    device_id = str(uuid.uuid4())
    refresh = new_refresh_token(device_id)
    expires_at = clock.now() + timedelta(days=settings.refresh_token_days)
    await Device.insert(
        Device(
            id=uuid.UUID(device_id),
            user=user.id,
            name=device_name,
            created_at=clock.now(),
            last_seen_at=clock.now(),
            refresh_hash=token_hash(refresh),
            refresh_expires_at=expires_at,
        )
    ).run()
    return await _token_response(settings, secret, user.id, device_id, refresh, expires_at)


async def refresh(*, settings: Settings, secret: str, raw_token: str) -> schemas.TokenResponse:
    """Rotate the device's refresh token and issue a new access token.

    A token already rotated is theft or a replay; within the grace window, and only while its
    successor is unused, it is a replay (the answer was lost on the way) and gets the same successor.
    Otherwise the device is revoked.
    """
    parsed = RefreshToken.parse(raw_token)
    if parsed is None:
        raise RefreshInvalid()
    try:
        device_uuid = uuid.UUID(parsed.device_id)
    except ValueError:
        raise RefreshInvalid() from None
    presented = token_hash(raw_token)
    now = clock.now()
    async with write_transaction():
        device = await Device.objects().get(Device.id == device_uuid)
        if device is None:
            raise RefreshInvalid()
        _raise_if_revoked(device)
        successor = successor_refresh_token(secret, raw_token)
        reused = False
        if same_hash(device.refresh_hash, presented):
            if device.refresh_expires_at < now:
                raise RefreshExpired()
        elif (
            same_hash(device.previous_refresh_hash, presented)
            and device.rotated_at is not None
            and (now - device.rotated_at).total_seconds() <= settings.refresh_grace_seconds
            and same_hash(device.refresh_hash, token_hash(successor))
        ):
            # The same request again: answer with the successor already issued.
            return await _token_response(
                settings, secret, device.user, parsed.device_id, successor, device.refresh_expires_at
            )
        else:
            reused = True
        if reused:
            # Committed before answering: raising inside the transaction would roll the revocation back.
            await _revoke(device, "refresh_reused")
        else:
            expires_at = now + timedelta(days=settings.refresh_token_days)
            await (
                Device.update(
                    {
                        Device.previous_refresh_hash: presented,
                        Device.refresh_hash: token_hash(successor),
                        Device.rotated_at: now,
                        Device.refresh_expires_at: expires_at,
                        Device.last_seen_at: now,
                        Device.rotations: Device.rotations + 1,
                    }
                )
                .where(Device.id == device_uuid)
                .run()
            )
    if reused:
        raise RefreshReused()
    user = await User.objects().get(User.id == device.user)
    if user is None or not user.active:
        raise RefreshInvalid()
    return await _token_response(settings, secret, device.user, parsed.device_id, successor, expires_at)


def _raise_if_revoked(device: Device) -> None:
    if device.revoked_at is not None:
        if device.revoked_reason == "logout":
            raise SignedOut()
        raise DeviceRevoked()


# Other domains forget what belongs to a device once it is signed out or revoked (push subscriptions).
_device_revoked: list[Callable[[uuid.UUID], Awaitable[None]]] = []


def on_device_revoked(listener: Callable[[uuid.UUID], Awaitable[None]]) -> None:
    if listener not in _device_revoked:
        _device_revoked.append(listener)


async def _revoke(device: Device, reason: str) -> None:
    await revoke_devices(device.user, reason, only=device.id)


async def revoke_devices(
    user_id: int, reason: str, *, keep: uuid.UUID | None = None, only: uuid.UUID | None = None
) -> int:
    """Sign devices of a user out at once (all of them, all but `keep`, or `only` one): their refresh
    tokens and access tokens stop working on the next request. Returns how many were signed in."""
    query = Device.select(Device.id).where((Device.user == user_id) & Device.revoked_at.is_null())
    if keep is not None:
        query = query.where(Device.id != keep)
    if only is not None:
        query = query.where(Device.id == only)
    ids = [r["id"] for r in await query.run()]
    if not ids:
        return 0
    await (
        Device.update({Device.revoked_at: clock.now(), Device.revoked_reason: reason})
        .where(Device.id.is_in(ids) & Device.revoked_at.is_null())
        .run()
    )
    forget_cached(user_id)
    for device_id in ids:
        for listener in _device_revoked:
            await listener(device_id)
    return len(ids)


async def logout(user: CurrentUser) -> None:
    device = await Device.objects().get(Device.id == uuid.UUID(user.device_id))
    if device is not None:
        await _revoke(device, "logout")


# What a signed-in user is made of, read from the user's row (as the device's user, or directly).
_IDENTITY = ("username", "display_name", "role", "scope_level", "scope_code", "team")


def _current_user(
    row: dict[str, Any], user_id: int, device_id: str, client_addr: str | None, **flags: bool
) -> CurrentUser:
    return CurrentUser(
        **flags,
        id=user_id,
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        scope_level=row["scope_level"],
        scope_code=row["scope_code"],
        team_id=row["team"],
        device_id=device_id,
        client_addr=client_addr,
    )


async def load_current_user(user_id: int, device_id: str, client_addr: str | None = None) -> CurrentUser:
    """Resolve a token's subject; a revoked device or a deactivated user is refused at once (kept a
    few seconds in session_cache, which every such change clears: forget_cached)."""
    try:
        device_uuid = uuid.UUID(device_id)
    except ValueError:
        raise RefreshInvalid() from None
    device_id = str(device_uuid)
    cached = session_cache.get(user_id, device_id)
    if cached is not None:
        return dataclasses.replace(cached, client_addr=client_addr)
    read_at = session_cache.generation()
    user_columns = [
        getattr(Device.user, name).as_alias(name) for name in (*_IDENTITY, "active", "must_change_password")
    ]
    rows = (
        await Device.select(Device.revoked_at, Device.revoked_reason, Device.wipe_requested_at, *user_columns)
        .where((Device.id == device_uuid) & (Device.user == user_id))
        .run()
    )
    if not rows:
        raise DeviceRevoked()
    row = rows[0]
    if row["revoked_at"] is not None:
        raise SignedOut() if row["revoked_reason"] == "logout" else DeviceRevoked()
    if not row["active"]:
        raise AccountDisabled()
    user = _current_user(
        row,
        user_id,
        device_id,
        client_addr,
        must_change_password=bool(row["must_change_password"]),
        wipe_requested=row["wipe_requested_at"] is not None,
    )
    session_cache.put(user, read_at)
    return user


def forget_cached(user_id: int | None = None, device_id: str | uuid.UUID | None = None) -> None:
    """The signed-in state of a user (all devices) or a device changed: the next request reads it
    again. Call it wherever a device is revoked or asked to wipe, or an account's role, area, team,
    password or activity changes (another process: on its notification)."""
    session_cache.forget(user_id, str(device_id) if device_id is not None else None)
    for listener in _forgotten:
        listener(user_id, device_id)


# The other processes forget it too (people/session_bus.py announces it on PostgreSQL).
_forgotten: list[Callable[[int | None, str | uuid.UUID | None], None]] = []


def on_forget_cached(listener: Callable[[int | None, str | uuid.UUID | None], None]) -> None:
    if listener not in _forgotten:
        _forgotten.append(listener)


async def still_current(user: CurrentUser) -> bool:
    """Whether a signed-in user may still act as they did: the device is not signed out or revoked, the
    account is active, and role, area and team are unchanged (long-lived streams check this)."""
    try:
        now = await load_current_user(user.id, user.device_id)
    except AppError:
        return False
    return (now.role, now.scope_level, now.scope_code, now.team_id) == (
        user.role,
        user.scope_level,
        user.scope_code,
        user.team_id,
    )


async def user_as_now(user_id: int, device_id: str) -> CurrentUser | None:
    """An active user as they are now, acting from `device_id` (work a device left to be done later,
    e.g. a deferred sync operation); None when the account is gone or disabled."""
    columns = [getattr(User, name) for name in _IDENTITY]
    row = await User.select(*columns).where((User.id == user_id) & (User.active == True)).first().run()  # noqa: E712
    return _current_user(row, user_id, device_id, None) if row else None


# --- views ----------------------------------------------------------------------------------------


async def division_names(codes: set[str]) -> dict[str, str]:
    return await divisions.names(codes)


async def user_view(user_id: int) -> schemas.UserView:
    # Rows, not objects, with the team's name joined: GET /api/me is among the most frequent requests.
    user = (
        await User.select(
            User.id,
            User.username,
            User.display_name,
            User.role,
            User.scope_level,
            User.scope_code,
            User.team,
            User.team.name.as_alias("team_name"),
        )
        .where(User.id == user_id)
        .first()
        .run()
    )
    if user is None:
        raise NotFound()
    code: str = user["scope_code"]
    role: str = user["role"]
    names = await division_names({code})
    return schemas.UserView(
        id=user["id"],
        username=user["username"],
        display_name=user["display_name"],
        role=role,
        role_label=ROLE_LABELS.get(role, role),
        scope=schemas.AreaView(level=user["scope_level"], code=code, name=names.get(code, code)),
        team=schemas.TeamRef(id=user["team"], name=user["team_name"]) if user["team"] else None,
    )


# --- administration (county admins) ---------------------------------------------------------------


async def _division(code: str, levels: tuple[str, ...]) -> Division:
    division = await Division.objects().get(Division.code == code)
    if division is None or division.level not in levels:
        raise InvalidRequest(
            message=f"区划代码 {code} 不存在或级别不符",
            message_en=f"Division {code} does not exist or has the wrong level",
            code="people.invalid_area",
        )
    return division


async def visible_teams(user: CurrentUser, township: str | None = None) -> list[schemas.TeamView]:
    """The teams a user may assign work to: the county office all (or one township's), a township
    supervisor their township's and the county-level ones (the legal-service team takes escalated
    cases), everyone else their own team."""
    query = Team.select(Team.id).where(Team.active == True)  # noqa: E712
    if user.role == Role.county_admin:
        if township:
            query = query.where((Team.township_code == township) | Team.township_code.is_null())
    elif user.role == Role.township_supervisor:
        if township and not user.in_area(township):
            raise NotFound(message="未找到该乡镇", message_en="Township not found", code="scope.not_found")
        query = query.where((Team.township_code == user.scope_code) | Team.township_code.is_null())
    elif user.team_id is not None:
        query = query.where(Team.id == user.team_id)
    else:
        return []
    rows = await query.order_by(Team.name).run()
    return await team_views([r["id"] for r in rows])


async def team_views(team_ids: list[int]) -> list[schemas.TeamView]:
    if not team_ids:
        return []
    teams = await Team.select().where(Team.id.is_in(team_ids)).order_by(Team.id).run()
    villages = (
        await TeamVillage.select().where(TeamVillage.team.is_in(team_ids)).order_by(TeamVillage.id).run()
    )
    members = await TeamMember.select().where(TeamMember.team.is_in(team_ids)).order_by(TeamMember.id).run()
    codes = {t["township_code"] for t in teams if t["township_code"]} | {v["village_code"] for v in villages}
    names = await division_names(codes)

    def area(level: str, code: str) -> schemas.AreaView:
        return schemas.AreaView(level=level, code=code, name=names.get(code, code))

    views = []
    for team in teams:
        own_members = [m for m in members if m["team"] == team["id"]]
        leader = next((m["name"] for m in own_members if m["is_leader"]), None)
        views.append(
            schemas.TeamView(
                id=team["id"],
                name=team["name"],
                township=area("township", team["township_code"]) if team["township_code"] else None,
                villages=[area("village", v["village_code"]) for v in villages if v["team"] == team["id"]],
                members=[
                    schemas.TeamMemberView(
                        name=m["name"],
                        kind=m["kind"],
                        is_leader=m["is_leader"],
                        user_id=m["user"],
                        id=m["id"],
                    )
                    for m in own_members
                ],
                leader=leader,
                active=team["active"],
            )
        )
    return views


async def divisions_for(user: CurrentUser, township: str | None) -> list[schemas.DivisionView]:
    """Townships and villages, in code order; a township supervisor gets only their township's."""
    query = Division.select(Division.code, Division.name, Division.level, Division.parent_code).where(
        Division.level.is_in(["township", "village"])
    )
    area = user.scope_code if user.role != Role.county_admin else township
    if area:
        query = query.where((Division.code == area) | (Division.parent_code == area))
    rows = await query.order_by(Division.code).run()
    return [schemas.DivisionView(**r) for r in rows]
