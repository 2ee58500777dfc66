"""HTTP routes of the people domain: sign-in, the caller's profile, and county administration."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from backend.core.http import requires_role
from backend.core.identity import CurrentUser, Role
from backend.core.throttle import address_guard
from backend.people import schemas, service


class AuthController(Controller):
    path = "/api/auth"
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


class AdminController(Controller):
    """People administration, for the county office only."""

    path = "/api/admin"
    tags = ["admin"]
    guards = [requires_role(Role.county_admin)]

    @post("/users", status_code=HTTP_201_CREATED, operation_id="create_user")
    async def create_user(self, data: JSONBody[schemas.CreateUserRequest]) -> schemas.UserView:
        """Create an account with its role, area and team."""
        return await service.create_user(data)

    @post("/teams", status_code=HTTP_201_CREATED, operation_id="create_team")
    async def create_team(self, data: JSONBody[schemas.CreateTeamRequest]) -> schemas.TeamView:
        """Create a red mediation team (红色调解队) with its villages and members."""
        return await service.create_team(data)

    @get("/devices", operation_id="list_devices")
    async def list_devices(self, user_id: FromQuery[int | None] = None) -> list[schemas.DeviceView]:
        """Devices signed in, newest first, optionally for one user."""
        return await service.list_devices(user_id)

    @post("/devices/{device_id:str}/revoke", status_code=HTTP_204_NO_CONTENT, operation_id="revoke_device")
    async def revoke_device(self, device_id: FromPath[str]) -> None:
        """Revoke a lost phone: its tokens stop working at once."""
        await service.revoke_device(device_id)


ROUTES: list[ControllerRouterHandler] = [AuthController, me, list_teams, AdminController]
