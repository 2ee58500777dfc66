"""Administration of red mediation teams (红色调解队) and their members.

The county office manages every team; a township supervisor the teams of their township (the
county-level teams, such as the legal-service team, belong to the county office). Members named by
user must be accounts the caller may manage.
"""

from __future__ import annotations

from typing import Any

from backend.core.errors import Conflict, InvalidRequest, NotFound
from backend.core.identity import CurrentUser, Role
from backend.db import write_transaction
from backend.grids.tables import Division
from backend.people import accounts, audit, schemas
from backend.people.service import team_views
from backend.people.tables import Device, Team, TeamMember, TeamVillage, User


class MemberNotFound(NotFound):
    code = "people.member_not_found"
    message = "未找到该队员"
    message_en = "No such member"


class TeamNotFound(NotFound):
    code = "people.team_not_found"
    message = "未找到该调解队"
    message_en = "No such team"


def team_in_reach(actor: CurrentUser, township_code: str | None) -> bool:
    if actor.role == Role.county_admin:
        return True
    return actor.role == Role.township_supervisor and township_code == actor.scope_code


async def _team(actor: CurrentUser, team_id: int) -> dict[str, Any]:
    row = await Team.select().where(Team.id == team_id).first().run()
    if row is None or not team_in_reach(actor, row["township_code"]):
        raise TeamNotFound()
    return row


async def _check_villages(township_code: str | None, codes: list[str]) -> None:
    if not codes:
        return
    rows = {
        r["code"]: r
        for r in await Division.select(Division.code, Division.name, Division.level, Division.parent_code)
        .where(Division.code.is_in(codes))
        .run()
    }
    for code in codes:
        village = rows.get(code)
        if village is None or village["level"] != "village":
            raise InvalidRequest(
                message=f"村（社区）代码 {code} 不存在",
                message_en=f"No village {code}",
                code="people.invalid_area",
            )
        if township_code and village["parent_code"] != township_code:
            raise InvalidRequest(
                message=f"村（社区）{village['name']} 不属于该乡镇",
                message_en=f"Village {code} is not in the team's township",
                code="people.invalid_area",
            )


async def _check_member_users(actor: CurrentUser, user_ids: list[int]) -> None:
    if not user_ids:
        return
    rows = {r["id"]: r for r in await User.select().where(User.id.is_in(user_ids)).run()}
    for user_id in user_ids:
        row = rows.get(user_id)
        if row is None or not accounts.in_reach(actor, row):
            raise InvalidRequest(
                message=f"队员账号 {user_id} 不存在或不在您的管理范围",
                message_en=f"Member account {user_id} does not exist or is outside your reach",
                code="people.unknown_member",
                details={"user_ids": [user_id]},
            )


async def list_teams(actor: CurrentUser, township: str | None, q: str | None) -> list[schemas.TeamView]:
    accounts.check_township_filter(actor, township)
    query = Team.select(Team.id)
    if actor.role == Role.township_supervisor:
        query = query.where(Team.township_code == actor.scope_code)
    elif township:
        query = query.where(Team.township_code == township)
    if q and q.strip():
        query = query.where(Team.name.like(f"%{q.strip()}%"))
    rows = await query.order_by(Team.name).run()
    return await team_views([r["id"] for r in rows])


async def create_team(actor: CurrentUser | None, data: schemas.CreateTeamRequest) -> schemas.TeamView:
    if data.township_code:
        division = await Division.objects().get(Division.code == data.township_code)
        if division is None or division.level != "township":
            raise InvalidRequest(
                message=f"乡镇代码 {data.township_code} 不存在",
                message_en=f"No township {data.township_code}",
                code="people.invalid_area",
            )
    if actor is not None and not team_in_reach(actor, data.township_code):
        raise accounts.RoleNotAllowed(message="乡镇管理员只能在本乡镇建立调解队")
    await _check_villages(data.township_code, data.village_codes)
    if actor is not None:
        await _check_member_users(actor, [m.user_id for m in data.members if m.user_id is not None])
    async with write_transaction():
        if await Team.exists().where(Team.name == data.name).run():
            raise Conflict(code="people.team_exists", message="调解队名称已存在", message_en="Team exists")
        rows = await Team.insert(Team(name=data.name, township_code=data.township_code)).run()
        team_id = rows[0]["id"]
        if data.village_codes:
            await TeamVillage.insert(
                *[TeamVillage(team=team_id, village_code=code) for code in data.village_codes]
            ).run()
        if data.members:
            await TeamMember.insert(
                *[
                    TeamMember(team=team_id, user=m.user_id, name=m.name, kind=m.kind, is_leader=m.is_leader)
                    for m in data.members
                ]
            ).run()
        await audit.record(actor, "team.create", team_id=team_id)
    return (await team_views([team_id]))[0]


async def update_team(actor: CurrentUser, team_id: int, data: schemas.UpdateTeamRequest) -> schemas.TeamView:
    team = await _team(actor, team_id)
    if data.village_codes is not None:
        await _check_villages(team["township_code"], data.village_codes)
    async with write_transaction():
        changes: dict[Any, Any] = {}
        if data.name is not None and data.name.strip() != team["name"]:
            name = data.name.strip()
            if await Team.exists().where((Team.name == name) & (Team.id != team_id)).run():
                raise Conflict(
                    code="people.team_exists", message="调解队名称已存在", message_en="Team exists"
                )
            changes[Team.name] = name
        if data.active is not None:
            changes[Team.active] = data.active
        if changes:
            await Team.update(changes).where(Team.id == team_id).run()
        if data.village_codes is not None:
            await TeamVillage.delete().where(TeamVillage.team == team_id).run()
            if data.village_codes:
                await TeamVillage.insert(
                    *[TeamVillage(team=team_id, village_code=c) for c in dict.fromkeys(data.village_codes)]
                ).run()
        await audit.record(actor, "team.update", team_id=team_id)
    return (await team_views([team_id]))[0]


async def add_member(actor: CurrentUser, team_id: int, data: schemas.TeamMemberIn) -> schemas.TeamView:
    await _team(actor, team_id)
    if data.user_id is not None:
        await _check_member_users(actor, [data.user_id])
    name = accounts.check_display_name(data.name)
    async with write_transaction():
        if data.is_leader:
            await TeamMember.update({TeamMember.is_leader: False}).where(TeamMember.team == team_id).run()
        await TeamMember.insert(
            TeamMember(team=team_id, user=data.user_id, name=name, kind=data.kind, is_leader=data.is_leader)
        ).run()
        await audit.record(actor, "team.add_member", team_id=team_id, member_user=data.user_id)
    return (await team_views([team_id]))[0]


async def update_member(
    actor: CurrentUser, team_id: int, member_id: int, data: schemas.TeamMemberUpdate
) -> schemas.TeamView:
    """Make a member the team's leader (the previous one stops being it) or not, or change their kind."""
    await _team(actor, team_id)
    async with write_transaction():
        member = TeamMember.id == member_id
        if not await TeamMember.exists().where(member & (TeamMember.team == team_id)).run():
            raise MemberNotFound()
        changes: dict[Any, Any] = {}
        if data.is_leader is not None:
            changes[TeamMember.is_leader] = data.is_leader
            if data.is_leader:
                await TeamMember.update({TeamMember.is_leader: False}).where(TeamMember.team == team_id).run()
        if data.kind is not None:
            changes[TeamMember.kind] = data.kind
        if changes:
            await TeamMember.update(changes).where(member).run()
        await audit.record(actor, "team.update_member", team_id=team_id, member_id=member_id)
    return (await team_views([team_id]))[0]


async def remove_member(actor: CurrentUser, team_id: int, member_id: int) -> None:
    await _team(actor, team_id)
    deleted = (
        await TeamMember.delete()
        .where((TeamMember.id == member_id) & (TeamMember.team == team_id))
        .returning(TeamMember.id)
        .run()
    )
    if not deleted:
        raise MemberNotFound()
    await audit.record(actor, "team.remove_member", team_id=team_id, member_id=member_id)


async def list_devices(actor: CurrentUser, user_id: int | None) -> list[schemas.DeviceView]:
    """Devices signed in, newest first, of the accounts the caller manages (optionally one user's)."""
    query = Device.select(
        Device.id,
        Device.user,
        Device.user.username,
        Device.name,
        Device.created_at,
        Device.last_seen_at,
        Device.revoked_at,
        Device.revoked_reason,
        Device.wipe_requested_at,
        Device.wiped_at,
    ).order_by(Device.created_at, ascending=False)
    if user_id is not None:
        query = query.where(Device.user == user_id)
    if actor.role != Role.county_admin:
        query = query.where(Device.user.is_in(accounts.user_ids_in_reach(actor)))
    rows = await query.limit(1000).run()
    return [
        schemas.DeviceView(
            id=str(r["id"]),
            user_id=r["user"],
            username=r["user.username"],
            name=r["name"],
            created_at=r["created_at"],
            last_seen_at=r["last_seen_at"],
            revoked_at=r["revoked_at"],
            revoked_reason=r["revoked_reason"],
            wipe_requested_at=r["wipe_requested_at"],
            wiped_at=r["wiped_at"],
        )
        for r in rows
    ]
