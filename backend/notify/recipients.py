"""Who is "the right person": team leaders, township supervisors, the county office, the leader in
charge of a case (包案领导)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from backend.core.identity import Role
from backend.people.tables import TeamMember, User


async def active_users(ids: Iterable[int | None]) -> list[int]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return []
    rows = await User.select(User.id).where(User.id.is_in(wanted) & (User.active == True)).run()  # noqa: E712
    return sorted(r["id"] for r in rows)


async def team_leaders(team_id: int | None) -> list[int]:
    """The team's leaders: accounts with the team-leader role, and members marked leader with an account."""
    if team_id is None:
        return []
    by_role = (
        await User.select(User.id)
        .where((User.team == team_id) & (User.role == Role.team_leader) & (User.active == True))  # noqa: E712
        .run()
    )
    by_member = (
        await TeamMember.select(TeamMember.user)
        .where((TeamMember.team == team_id) & (TeamMember.is_leader == True) & TeamMember.user.is_not_null())  # noqa: E712
        .run()
    )
    return await active_users([r["id"] for r in by_role] + [r["user"] for r in by_member])


async def township_supervisors(township_code: str | None) -> list[int]:
    """The township's 综治中心 accounts; the county office when the township is unknown or has none."""
    if township_code:
        rows = (
            await User.select(User.id)
            .where(
                (User.role == Role.township_supervisor)
                & (User.scope_code == township_code)
                & (User.active == True)  # noqa: E712
            )
            .run()
        )
        if rows:
            return sorted(r["id"] for r in rows)
    return await county_admins()


async def county_admins() -> list[int]:
    rows = (
        await User.select(User.id)
        .where((User.role == Role.county_admin) & (User.active == True))  # noqa: E712
        .run()
    )
    return sorted(r["id"] for r in rows)


async def team_members(team_id: int | None) -> list[int]:
    """Everyone of the team with an account: its users and the members linked to one (leaders too)."""
    if team_id is None:
        return []
    users = await User.select(User.id).where((User.team == team_id) & (User.active == True)).run()  # noqa: E712
    linked = (
        await TeamMember.select(TeamMember.user)
        .where((TeamMember.team == team_id) & TeamMember.user.is_not_null())
        .run()
    )
    return await active_users([r["id"] for r in users] + [r["user"] for r in linked])


async def case_leader(case: dict[str, Any]) -> list[int]:
    """The leader in charge of the case (包案领导), if it has one and the account is active."""
    return await active_users([case.get("leader")])
