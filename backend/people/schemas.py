"""API shapes of the people domain (msgspec, so Litestar's OpenAPI stays correct)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Username = Annotated[str, Meta(min_length=1, max_length=64)]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
DivisionCode = Annotated[str, Meta(pattern=r"^\d{12}$")]
RoleName = Literal["mediator", "grid_worker", "team_leader", "township_supervisor", "county_admin"]
MemberKind = Literal["老干部", "老党员", "老模范", "律师", "网格员"]


class LoginRequest(msgspec.Struct):
    username: Username
    password: Annotated[str, Meta(min_length=1, max_length=256)]
    device_name: Name = "未命名设备"


class RefreshRequest(msgspec.Struct):
    refresh_token: Annotated[str, Meta(min_length=1, max_length=200)]


class AreaView(msgspec.Struct):
    level: str
    code: str
    name: str


class TeamRef(msgspec.Struct):
    id: int
    name: str


class UserView(msgspec.Struct):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    scope: AreaView
    team: TeamRef | None


class TokenResponse(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: UserView
    device_id: str
    token_type: str = "bearer"


class CreateUserRequest(msgspec.Struct):
    username: Annotated[str, Meta(pattern=r"^[a-z0-9_.-]{3,32}$")]
    display_name: Name
    password: Annotated[str, Meta(min_length=8, max_length=256)]
    role: RoleName
    scope_code: DivisionCode
    team_id: int | None = None
    phone: Annotated[str, Meta(pattern=r"^1\d{10}$")] | None = None


class TeamMemberIn(msgspec.Struct):
    name: Name
    kind: MemberKind
    user_id: int | None = None
    is_leader: bool = False


class CreateTeamRequest(msgspec.Struct):
    name: Annotated[str, Meta(min_length=2, max_length=100)]
    township_code: DivisionCode | None = None
    village_codes: list[DivisionCode] = []
    members: list[TeamMemberIn] = []


class TeamMemberView(msgspec.Struct):
    name: str
    kind: str
    is_leader: bool
    user_id: int | None


class TeamView(msgspec.Struct):
    id: int
    name: str
    township: AreaView | None
    villages: list[AreaView]
    members: list[TeamMemberView]
    leader: str | None


class DeviceView(msgspec.Struct):
    id: str
    user_id: int
    username: str
    name: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
