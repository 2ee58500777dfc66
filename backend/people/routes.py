"""HTTP routes of the people domain: sign-in, the caller's profile, and county administration."""

from __future__ import annotations

import base64
from typing import Annotated
from urllib.parse import quote

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from backend.core.http import flag, requires_role
from backend.core.identity import CurrentUser, Role
from backend.core.inbound import AUTH_BODY_LIMIT
from backend.core.throttle import address_guard
from backend.people import accounts, roster, schemas, service, teams


class AuthController(Controller):
    path = "/api/auth"
    request_max_body_size = AUTH_BODY_LIMIT  # read before anyone is signed in: a few short strings
    tags = ["auth"]

    # The address check is a guard: it runs before the body is read.
    @post(
        "/login",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        operation_id="login",
        guards=[address_guard],
    )
    async def login(
        self, data: JSONBody[schemas.LoginRequest], request: Request, state: State
    ) -> schemas.TokenResponse:
        """Sign in on a device; returns a short-lived access token and the device's refresh token."""
        return await service.login(
            settings=state.settings,
            secret=state.jwt_secret,
            throttle=state.login_throttle,
            username=data.username,
            password=data.password,
            device_name=data.device_name,
            client_addr=request.client.host if request.client else "unknown",
        )

    @post("/refresh", exclude_from_auth=True, status_code=HTTP_200_OK, operation_id="refresh")
    async def refresh(self, data: JSONBody[schemas.RefreshRequest], state: State) -> schemas.TokenResponse:
        """Rotate the refresh token; keeps a phone signed in for 30 days without signal."""
        return await service.refresh(
            settings=state.settings, secret=state.jwt_secret, raw_token=data.refresh_token
        )

    @post("/logout", status_code=HTTP_204_NO_CONTENT, operation_id="logout")
    async def logout(self, request: Request[CurrentUser, object, State]) -> None:
        """Sign this device out: its refresh token stops working."""
        await service.logout(request.user)


@get("/api/me", operation_id="me", tags=["auth"])
async def me(request: Request[CurrentUser, object, State]) -> schemas.UserView:
    """The signed-in user: role, area and team."""
    return await service.user_view(request.user.id)


@get("/api/teams", operation_id="list_teams", tags=["people"])
async def list_teams(
    request: Request[CurrentUser, object, State], township: FromQuery[str | None] = None
) -> list[schemas.TeamView]:
    """The red mediation teams you may assign work to, with their members (those with an account
    have a user_id, the mediator to assign)."""
    return await service.visible_teams(request.user, township)


@post("/api/me/password", status_code=HTTP_204_NO_CONTENT, operation_id="change_password", tags=["auth"])
async def change_password(
    request: Request[CurrentUser, object, State], data: JSONBody[schemas.ChangePasswordRequest]
) -> None:
    """Set a new password (also after signing in with a one-time password); other devices sign out."""
    await accounts.change_own_password(request.user, data.old_password, data.new_password)


@post("/api/me/wiped", status_code=HTTP_204_NO_CONTENT, operation_id="confirm_wiped", tags=["auth"])
async def confirm_wiped(request: Request[CurrentUser, object, State]) -> None:
    """The phone has sent its outbox and deleted its local data, as an administrator asked."""
    await accounts.confirm_wiped(request.user)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROSTER_MAX_BYTES = 5 * 1024 * 1024  # 5,000 rows per sheet fit in well under 1 MB
Limit = Annotated[int, Parameter(ge=1, le=200)]


def content_disposition(name: str, ascii_name: str) -> str:
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def roster_result(report: roster.ImportReport) -> schemas.RosterImportResult:
    new = report.new_accounts
    return schemas.RosterImportResult(
        teams_created=report.teams_created,
        teams_updated=report.teams_updated,
        users_created=report.users_created,
        users_updated=report.users_updated,
        errors=[schemas.RosterError(**vars(e)) for e in report.errors],
        applied=report.applied,
        one_time_passwords_xlsx=base64.b64encode(roster.passwords_file(new)).decode() if new else None,
        one_time_passwords_filename=roster.filename() if new else None,
    )


Id = Annotated[int, Parameter(ge=1, le=2**31 - 1)]


class AdminController(Controller):
    """People administration: the county office for everyone, a township supervisor for the field
    accounts and teams of their township (others are "not found")."""

    path = "/api/admin"
    tags = ["admin"]
    guards = [requires_role(Role.county_admin, Role.township_supervisor)]

    @get("/users", operation_id="list_users")
    async def list_users(
        self,
        request: Request[CurrentUser, object, State],
        q: FromQuery[str | None] = None,
        township: FromQuery[str | None] = None,
        team_id: FromQuery[int | None] = None,
        role: FromQuery[str | None] = None,
        active: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[Limit] = 50,
    ) -> schemas.AdminUserPage:
        """Accounts by name, username or phone, township, team, role and state (phones masked)."""
        filters = accounts.UserFilter(
            q=q,
            township=township,
            team_id=team_id,
            role=role,
            active=None if active is None else flag(active),
        )
        return await accounts.list_users(request.user, filters, cursor, limit)

    @get("/users/{user_id:int}", operation_id="get_user")
    async def get_user(
        self, request: Request[CurrentUser, object, State], user_id: FromPath[Id]
    ) -> schemas.AdminUserView:
        """One account with its full phone number (the read is audited)."""
        return await accounts.read_user(request.user, user_id)

    @post("/users", status_code=HTTP_201_CREATED, operation_id="create_user")
    async def create_user(
        self, request: Request[CurrentUser, object, State], data: JSONBody[schemas.CreateUserRequest]
    ) -> schemas.AdminUserCreated:
        """Create an account; without a password it gets a one-time password, returned once."""
        return await accounts.create(request.user, data)

    @patch("/users/{user_id:int}", operation_id="update_user")
    async def update_user(
        self,
        request: Request[CurrentUser, object, State],
        user_id: FromPath[Id],
        data: JSONBody[schemas.UpdateUserRequest],
    ) -> schemas.AdminUserView:
        """Edit name, phone, role, area or team; a change of role, area or team signs the devices out."""
        return await accounts.update(request.user, user_id, data)

    @post("/users/{user_id:int}/disable", status_code=HTTP_200_OK, operation_id="disable_user")
    async def disable_user(
        self, request: Request[CurrentUser, object, State], user_id: FromPath[Id]
    ) -> schemas.AdminUserView:
        """Disable an account: every device signs out at once and sign-in is refused."""
        return await accounts.set_active(request.user, user_id, False)

    @post("/users/{user_id:int}/enable", status_code=HTTP_200_OK, operation_id="enable_user")
    async def enable_user(
        self, request: Request[CurrentUser, object, State], user_id: FromPath[Id]
    ) -> schemas.AdminUserView:
        return await accounts.set_active(request.user, user_id, True)

    @post("/users/{user_id:int}/reset-password", status_code=HTTP_200_OK, operation_id="reset_password")
    async def reset_password(
        self, request: Request[CurrentUser, object, State], user_id: FromPath[Id]
    ) -> schemas.OneTimePassword:
        """A one-time password (shown once); the user must change it at the next sign-in."""
        return schemas.OneTimePassword(one_time_password=await accounts.reset_password(request.user, user_id))

    @get("/teams", operation_id="admin_list_teams")
    async def list_teams(
        self,
        request: Request[CurrentUser, object, State],
        township: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
    ) -> list[schemas.TeamView]:
        """Teams to administer, active or not, with their villages and members."""
        return await teams.list_teams(request.user, township, q)

    @post("/teams", status_code=HTTP_201_CREATED, operation_id="create_team")
    async def create_team(
        self, request: Request[CurrentUser, object, State], data: JSONBody[schemas.CreateTeamRequest]
    ) -> schemas.TeamView:
        """Create a red mediation team (红色调解队) with its villages and members."""
        return await teams.create_team(request.user, data)

    @patch("/teams/{team_id:int}", operation_id="update_team")
    async def update_team(
        self,
        request: Request[CurrentUser, object, State],
        team_id: FromPath[Id],
        data: JSONBody[schemas.UpdateTeamRequest],
    ) -> schemas.TeamView:
        """Rename a team, change the villages it serves, or deactivate it."""
        return await teams.update_team(request.user, team_id, data)

    @post("/teams/{team_id:int}/members", status_code=HTTP_201_CREATED, operation_id="add_team_member")
    async def add_member(
        self,
        request: Request[CurrentUser, object, State],
        team_id: FromPath[Id],
        data: JSONBody[schemas.TeamMemberIn],
    ) -> schemas.TeamView:
        return await teams.add_member(request.user, team_id, data)

    @patch("/teams/{team_id:int}/members/{member_id:int}", operation_id="update_team_member")
    async def update_member(
        self,
        request: Request[CurrentUser, object, State],
        team_id: FromPath[Id],
        member_id: FromPath[Id],
        data: JSONBody[schemas.TeamMemberUpdate],
    ) -> schemas.TeamView:
        """Make an existing member the team's leader (队长; the previous one stops being it), or not."""
        return await teams.update_member(request.user, team_id, member_id, data)

    @delete("/teams/{team_id:int}/members/{member_id:int}", operation_id="remove_team_member")
    async def remove_member(
        self, request: Request[CurrentUser, object, State], team_id: FromPath[Id], member_id: FromPath[Id]
    ) -> None:
        await teams.remove_member(request.user, team_id, member_id)

    @get("/devices", operation_id="list_devices")
    async def list_devices(
        self, request: Request[CurrentUser, object, State], user_id: FromQuery[Id | None] = None
    ) -> list[schemas.DeviceView]:
        """Devices, newest first, of the accounts you manage (optionally one user's)."""
        return await teams.list_devices(request.user, user_id)

    @post("/devices/{device_id:str}/revoke", status_code=HTTP_204_NO_CONTENT, operation_id="revoke_device")
    async def revoke_device(
        self, request: Request[CurrentUser, object, State], device_id: FromPath[str]
    ) -> None:
        """Revoke a lost phone: its tokens stop working at once."""
        await accounts.revoke_device(request.user, device_id)

    @post("/devices/{device_id:str}/wipe", status_code=HTTP_204_NO_CONTENT, operation_id="wipe_device")
    async def wipe_device(
        self, request: Request[CurrentUser, object, State], device_id: FromPath[str]
    ) -> None:
        """Ask a phone to wipe itself: at its next contact it sends its outbox, then deletes its local
        cases, photos and session."""
        await accounts.request_wipe(request.user, device_id)

    @get("/roster/template", operation_id="roster_template", media_type=XLSX)
    async def roster_template(self) -> Response[bytes]:
        """The roster template: sheets 队伍 and 队员 with Chinese headers, pick lists and an example row."""
        return Response(
            await roster.template(),
            media_type=XLSX,
            headers={
                "Content-Disposition": content_disposition("花名册导入模板.xlsx", "roster-template.xlsx")
            },
        )

    @post(
        "/roster/import",
        status_code=HTTP_200_OK,
        operation_id="roster_import",
        request_max_body_size=ROSTER_MAX_BYTES,
    )
    async def roster_import(
        self, request: Request[CurrentUser, object, State], dry_run: FromQuery[str | None] = None
    ) -> schemas.RosterImportResult:
        """Import the roster XLSX (the request body). Nothing is written while any row has an error;
        `dry_run=1` only checks. New accounts' one-time passwords come back once, as an XLSX."""
        report = await roster.run_import(request.user, await request.body(), dry_run=flag(dry_run))
        return roster_result(report)

    @get("/divisions", operation_id="admin_list_divisions")
    async def list_divisions(
        self, request: Request[CurrentUser, object, State], township: FromQuery[str | None] = None
    ) -> list[schemas.DivisionView]:
        """Townships and villages for the console's pickers (a township supervisor: their own)."""
        return await service.divisions_for(request.user, township)


ROUTES: list[ControllerRouterHandler] = [
    AuthController,
    me,
    change_password,
    confirm_wiped,
    list_teams,
    AdminController,
]
