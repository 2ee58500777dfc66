"""API shapes of the people domain (msgspec, so Litestar's OpenAPI stays correct)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Username = Annotated[str, Meta(min_length=1, max_length=64)]
Name = Annotated[str, Meta(min_length=1, max_length=64)]
DivisionCode = Annotated[str, Meta(pattern=r"^\d{12}$")]
RoleName = Literal["mediator", "grid_worker", "team_leader", "township_supervisor", "county_admin", "leader"]
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
    # Signed in with a one-time password: every route but POST /api/me/password answers 403
    # auth.password_change_required until a new password is set.
    must_change_password: bool = False


UNSET = msgspec.UNSET  # "not given" in a PATCH, as opposed to null ("clear it")
Text64 = Annotated[str, Meta(max_length=64)]
Password = Annotated[str, Meta(max_length=256)]
TeamId = Annotated[int, Meta(ge=1, le=2**31 - 1)]


class CreateUserRequest(msgspec.Struct):
    """Checked by people.accounts (the rules the CLI and the roster import share), not by the schema,
    so every mistake gets its own code and Chinese message."""

    username: Text64
    display_name: Text64
    role: RoleName
    scope_code: DivisionCode
    password: Password | None = None  # none: a one-time password is made and returned once
    team_id: TeamId | None = None
    phone: Annotated[str, Meta(max_length=20)] | None = None


class UpdateUserRequest(msgspec.Struct):
    display_name: Text64 | None = None
    role: RoleName | None = None
    scope_code: DivisionCode | None = None
    team_id: TeamId | None | msgspec.UnsetType = msgspec.UNSET
    phone: Annotated[str, Meta(max_length=20)] | None | msgspec.UnsetType = msgspec.UNSET


class ChangePasswordRequest(msgspec.Struct):
    old_password: Password
    new_password: Password


class OneTimePassword(msgspec.Struct):
    one_time_password: str


class AreaRef(msgspec.Struct):
    code: str
    name: str


class AdminUserView(msgspec.Struct, kw_only=True):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    scope: AreaView
    township: AreaRef | None
    team: TeamRef | None
    phone_masked: str | None
    phone: str | None = None  # only in the one-account view, and that read is audited
    active: bool
    must_change_password: bool
    created_at: datetime
    last_seen_at: datetime | None
    devices: int  # devices signed in now


class AdminUserCreated(AdminUserView, kw_only=True):
    one_time_password: str | None = None  # shown once; never stored in clear


class AdminUserPage(msgspec.Struct):
    items: list[AdminUserView]
    next_cursor: str | None


class TeamMemberIn(msgspec.Struct):
    name: Name
    kind: MemberKind
    user_id: TeamId | None = None
    is_leader: bool = False


class TeamMemberUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What may change on an existing member: the leader flag (one leader per team) and the kind."""

    is_leader: bool | None = None
    kind: MemberKind | None = None


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
    id: int | None = None


class UpdateTeamRequest(msgspec.Struct):
    name: Annotated[str, Meta(min_length=2, max_length=100)] | None = None
    village_codes: list[DivisionCode] | None = None
    active: bool | None = None


class TeamView(msgspec.Struct):
    id: int
    name: str
    township: AreaView | None
    villages: list[AreaView]
    members: list[TeamMemberView]
    leader: str | None
    active: bool = True


class DeviceView(msgspec.Struct):
    id: str
    user_id: int
    username: str
    name: str  # what the user signed in with: the phone's model or the browser
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None
    wipe_requested_at: datetime | None = None
    wiped_at: datetime | None = None


class DivisionView(msgspec.Struct):
    code: str
    name: str
    level: str
    parent_code: str | None


class RosterError(msgspec.Struct):
    sheet: str
    row: int
    field: str
    code: str
    message: str


class RosterImportResult(msgspec.Struct):
    teams_created: int
    teams_updated: int
    users_created: int
    users_updated: int
    errors: list[RosterError]
    applied: bool
    # The new accounts' one-time passwords as an XLSX (base64), only when applied; not kept anywhere.
    one_time_passwords_xlsx: str | None = None
    one_time_passwords_filename: str | None = None
