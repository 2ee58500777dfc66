"""Every operation of the OpenAPI × every role × in and out of scope: no token is 401, a role that may
not call it 403, an object the caller may not see 404 (its existence is not leaked), and otherwise the
operation's own answer. The table below must name every operation in the schema, so a new route
cannot be added without saying who may call it and on what.

The objects are in 田园镇 关庙社区, made by mediator1 (of 关庙社区's team, led by leader1): tianyuan
(田园镇's supervisor), the county office, a grid worker of 关庙社区 and tianyuan_leader (田园镇's 包案领导,
who reads its area and may only note and supervise) see them too; kasi (卡斯镇's supervisor) and
mediator2 (卡斯社区's team) do not.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.factories import act, auth, bearer, case_body, login, make_case, make_user, tokens_for
from tests.media.images import jpeg, sha
from tests.notify.support import close_case_at
from tests.people.test_roster import roster
from tests.sync.helpers import note_op

ROLES = ("county", "tianyuan", "kasi", "mediator1", "mediator2", "leader1", "grid", "tianyuan_leader")
ALL = frozenset(ROLES)
COUNTY = frozenset({"county"})
ADMINS = frozenset({"county", "tianyuan", "kasi"})  # people administration: the county and townships
GUANMIAO_ADMINS = frozenset({"county", "tianyuan"})  # who manage an account or team of 关庙社区
SEES = frozenset(
    {"county", "tianyuan", "mediator1", "leader1", "grid", "tianyuan_leader"}
)  # the case, its photo
SEES_VISIT = SEES  # a visit is seen with its case
GUANMIAO = "530524101001"
GUANMIAO_CELL = "530524101001001"  # a grid cell of 关庙社区 (the first of its village)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class World:
    """What the requests name: ids of objects in 关庙社区, made once per test."""

    case_id: str = ""  # closed, with its agreement, a photo and a return visit
    open_case_id: str = ""  # assigned to mediator1 by the township, in mediation
    visit_id: str = ""
    photo: str = ""
    photo_bytes: bytes = b""
    notification_id: int = 0  # one of notification_owner's own
    notification_owner: str = ""
    generation_id: int = 0
    device_id: str = ""  # a spare session of mediator2, for the county to revoke
    extra: dict[str, Any] = field(default_factory=dict)


Request = tuple[str, str, dict[str, Any]]  # method, URL, httpx keyword arguments


@dataclass(frozen=True)
class Op:
    request: Callable[[World, str], Request]
    ok: int  # the answer to a caller who may do it, on what they see
    roles: frozenset[str] = ALL  # the others get 403 auth.forbidden
    sees: frozenset[str] | None = None  # for an operation on one object: the others get 404
    not_found: str = "not_found"
    forbidden: str = "auth.forbidden"
    public: bool = False  # no token needed
    stream: bool = False  # never ends (server-sent events): only its refusals are checked
    owner_only: bool = False  # the object is the notification owner's alone: the others get 404
    ok_for: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # a role's own answer


def _get(url: str, **params: Any) -> Callable[[World, str], Request]:
    return lambda w, role: ("GET", url.format(w=w), {"params": params})


def _call(
    method: str, url: str, body: Callable[[World, str], Any] | Any = None
) -> Callable[[World, str], Request]:
    def build(w: World, role: str) -> Request:
        value = body(w, role) if callable(body) else body
        return method, url.format(w=w), ({"json": value} if value is not None else {})

    return build


def _unique(prefix: str, role: str) -> str:
    return f"{prefix}{role}{uuid.uuid4().hex[:6]}"


SUBSCRIPTION_KEYS = {
    "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
    "auth": "tBHItJI5svbpez7KI4CCXg",
}


def _endpoint(role: str) -> str:
    return f"https://fcm.googleapis.com/fcm/send/matrix-{role}"


MATRIX: dict[str, Op] = {
    # --- people ---
    "health": Op(_get("/api/health"), 200, public=True),
    "login": Op(
        _call("POST", "/api/auth/login", {"username": "mediator1", "password": "demo-2026"}), 200, public=True
    ),
    "refresh": Op(_call("POST", "/api/auth/refresh", {"refresh_token": "not-a-token"}), 401, public=True),
    "logout": Op(_call("POST", "/api/auth/logout"), 204),
    "me": Op(_get("/api/me"), 200),
    "list_teams": Op(_get("/api/teams"), 200),
    "change_password": Op(
        _call("POST", "/api/me/password", {"old_password": "not-mine-1", "new_password": "Matrix-pass-77"}),
        400,  # the wrong old password: open to everyone signed in, about themselves only
    ),
    "confirm_wiped": Op(_call("POST", "/api/me/wiped"), 409),  # only after a wipe was asked for
    "create_team": Op(
        _call("POST", "/api/admin/teams", lambda w, r: {"name": _unique("矩阵队", r)}),
        201,
        ADMINS,
        # A team without a township is the county's.
        ok_for={r: (403, "people.role_not_allowed") for r in ("tianyuan", "kasi")},
    ),
    "create_user": Op(
        _call(
            "POST",
            "/api/admin/users",
            lambda w, r: {
                "username": _unique("m", r),
                "display_name": "矩阵用户",
                "password": "correct-horse-9",
                "role": "grid_worker",
                "scope_code": GUANMIAO,
            },
        ),
        201,
        ADMINS,
        ok_for={"kasi": (403, "people.role_not_allowed")},
    ),
    # Filtered by 关庙社区's township: out of 卡斯镇's scope, so "not found" (not an empty list).
    "list_users": Op(
        _get("/api/admin/users", township=GUANMIAO), 200, ADMINS, GUANMIAO_ADMINS, "scope.not_found"
    ),
    "get_user": Op(
        _get("/api/admin/users/{w.extra[user_id]}"), 200, ADMINS, GUANMIAO_ADMINS, "people.user_not_found"
    ),
    "update_user": Op(
        _call("PATCH", "/api/admin/users/{w.extra[user_id]}", {"display_name": "矩阵改名"}),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.user_not_found",
    ),
    "disable_user": Op(
        _call("POST", "/api/admin/users/{w.extra[user_id]}/disable"),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.user_not_found",
    ),
    "enable_user": Op(
        _call("POST", "/api/admin/users/{w.extra[user_id]}/enable"),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.user_not_found",
    ),
    "reset_password": Op(
        _call("POST", "/api/admin/users/{w.extra[user_id]}/reset-password"),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.user_not_found",
    ),
    "admin_list_teams": Op(
        _get("/api/admin/teams", township=GUANMIAO), 200, ADMINS, GUANMIAO_ADMINS, "scope.not_found"
    ),
    "update_team": Op(
        _call("PATCH", "/api/admin/teams/{w.extra[team_id]}", {"active": True}),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.team_not_found",
    ),
    "add_team_member": Op(
        _call("POST", "/api/admin/teams/{w.extra[team_id]}/members", {"name": "矩阵队员", "kind": "老党员"}),
        201,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.team_not_found",
    ),
    "update_team_member": Op(
        _call(
            "PATCH", "/api/admin/teams/{w.extra[team_id]}/members/{w.extra[member_id]}", {"kind": "老党员"}
        ),
        200,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.team_not_found",
    ),
    "remove_team_member": Op(
        _call("DELETE", "/api/admin/teams/{w.extra[team_id]}/members/{w.extra[member_id]}"),
        204,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.team_not_found",
    ),
    "admin_list_divisions": Op(_get("/api/admin/divisions"), 200, ADMINS),
    "roster_template": Op(_get("/api/admin/roster/template"), 200, ADMINS),
    "roster_import": Op(
        lambda w, r: (
            "POST",
            "/api/admin/roster/import",
            {"content": w.extra["roster"], "params": {"dry_run": "1"}},
        ),
        200,
        ADMINS,
    ),
    "list_devices": Op(_get("/api/admin/devices"), 200, ADMINS),
    "revoke_device": Op(
        _call("POST", "/api/admin/devices/{w.extra[target_device]}/revoke"),
        204,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.device_not_found",
    ),
    "wipe_device": Op(
        _call("POST", "/api/admin/devices/{w.extra[target_device]}/wipe"),
        204,
        ADMINS,
        GUANMIAO_ADMINS,
        "people.device_not_found",
    ),
    # --- grids ---
    "list_grids": Op(_get("/api/grids", level="village", township="530524101000"), 200),
    "list_regions": Op(_get("/api/regions"), 200),
    "locate": Op(_get("/api/locate", lon="99.614962", lat="24.825632"), 200),
    "activate_grid_generation": Op(
        _call("POST", "/api/admin/grids/generations/{w.generation_id}/activate", {}), 200, COUNTY
    ),
    "list_grid_networks": Op(_get("/api/admin/grids/networks"), 200, COUNTY),
    "grid_generation_report": Op(_get("/api/admin/grids/generations/{w.generation_id}/report"), 200, COUNTY),
    "grid_generation_geojson": Op(
        _get("/api/admin/grids/generations/{w.generation_id}/geojson"), 200, COUNTY
    ),
    # The active generation is not discarded (409); the screen discards imports never activated.
    "discard_grid_generation": Op(
        _call("DELETE", "/api/admin/grids/generations/{w.generation_id}"), 409, COUNTY
    ),
    "new_grid_upload": Op(_call("POST", "/api/admin/grids/uploads"), 201, COUNTY),
    "put_grid_upload_chunk": Op(
        lambda w, r: ("PUT", "/api/admin/grids/uploads/0000/files/a.geojson", {"content": b"{}"}),
        404,  # an upload that does not exist (the import screen's own tests upload for real)
        COUNTY,
    ),
    "inspect_grid_upload": Op(_get("/api/admin/grids/uploads/0000"), 404, COUNTY),
    "import_grid_generation": Op(
        _call("POST", "/api/admin/grids/imports", {"upload": "0000", "network": "primary", "layers": []}),
        404,  # that upload does not exist
        COUNTY,
    ),
    "get_county": Op(_get("/api/county"), 200, public=True),
    # --- media ---
    "get_media": Op(_get("/api/media/{w.photo}", size="thumb"), 200, sees=SEES),
    # Sending a photo's bytes makes it one's own (the hash proves one holds it): 200 for everyone.
    "upload_media": Op(lambda w, r: ("PUT", f"/api/media/{w.photo}", {"content": w.photo_bytes}), 200),
    # Whether a photo is stored is told only to those who sent it or see a case using it (a HEAD
    # answer has no body, so no code to compare).
    "media_upload_state": Op(
        lambda w, r: ("HEAD", f"/api/media/{w.photo}", {}),
        200,
        sees=SEES,
        not_found=None,  # type: ignore[arg-type]
    ),
    # --- cases ---
    "list_categories": Op(_get("/api/categories"), 200),
    "create_category": Op(
        _call(
            "POST",
            "/api/categories",
            lambda w, r: {"code": _unique("m", r), "name": "矩阵类别", "national_category": "其他纠纷"},
        ),
        201,
        COUNTY,
    ),
    "update_category": Op(_call("PATCH", "/api/categories/other", {"name": "其他"}), 200, COUNTY),
    "delete_category": Op(_call("DELETE", "/api/categories/{w.extra[category]}"), 204, COUNTY),
    "list_cases": Op(_get("/api/cases"), 200),
    # A leader (包案领导) takes charge of cases; the teams and grid workers log them.
    "create_case": Op(
        _call("POST", "/api/cases", lambda w, r: case_body()),
        201,
        ok_for={"tianyuan_leader": (403, "case.leader_cannot_log")},
    ),
    "get_case": Op(_get("/api/cases/{w.case_id}"), 200, sees=SEES),
    "act_on_case": Op(
        _call("POST", "/api/cases/{w.open_case_id}/actions", {"action": "note", "text": "矩阵测试备注"}),
        200,
        sees=SEES,
    ),
    "get_agreement": Op(
        _get("/api/cases/{w.case_id}/agreement"),
        200,
        sees=SEES,
        # It names the parties in full: not for grid workers, nor a leader not in charge of the case.
        ok_for={"grid": (403, "auth.forbidden"), "tianyuan_leader": (403, "auth.forbidden")},
    ),
    # Every role may ask; each gets the oral agreements of the cases it sees in full (a grid worker: none).
    "oral_agreement_register": Op(_get("/api/agreements/oral"), 200),
    # The case file of the closed case: a grid worker of the village gets it with the parties masked.
    # The leaders who may take charge of the case (包案): for those who assign them, on a case they see.
    "list_case_leaders": Op(
        _get("/api/cases/{w.open_case_id}/leaders"),
        200,
        sees=SEES,
        ok_for={r: (403, "auth.forbidden") for r in ("mediator1", "leader1", "grid", "tianyuan_leader")},
    ),
    "get_dossier": Op(_get("/api/cases/{w.case_id}/dossier"), 200, sees=SEES),
    "list_audit": Op(_get("/api/audit"), 200, COUNTY),
    "export_audit": Op(_get("/api/audit/export"), 200, COUNTY),
    # --- map ---
    "map_config": Op(_get("/api/map/config"), 200),
    "map_cases": Op(_get("/api/map/cases"), 200),
    "map_cells": Op(_get("/api/map/cells"), 200),
    "map_cell": Op(_get(f"/api/map/cells/{GUANMIAO_CELL}"), 200, sees=SEES, not_found="map.cell_not_found"),
    "map_events": Op(_get("/api/map/events"), 200, stream=True),
    "map_screenings": Op(_get("/api/map/screenings"), 200),  # each role the villages of its area
    # --- screenings (月排查): a team reports the villages it serves; the others read their area ---
    "record_screening": Op(
        _call(
            "POST",
            "/api/screenings",
            lambda w, r: {
                "id": str(uuid.uuid4()),
                "village_code": GUANMIAO,
                "month": datetime.now(SHANGHAI).strftime("%Y-%m"),
                "households_visited": 5,
                "found": [],
            },
        ),
        201,
        frozenset({"mediator1", "leader1", "mediator2"}),
        forbidden="screening.forbidden",
        ok_for={"mediator2": (404, "screening.village_not_found")},  # not a village its team serves
    ),
    "list_screenings": Op(_get("/api/screenings"), 200),
    "get_screening": Op(_get("/api/screenings/{w.extra[screening_id]}"), 200, sees=SEES),
    # --- sync ---
    "sync_pull": Op(_get("/api/sync/pull"), 200),
    # Per-operation answers inside a 200 (a note on a case out of scope is `rejected`, see tests/sync).
    "sync_push": Op(_call("POST", "/api/sync/push", lambda w, r: {"ops": [note_op(w.case_id, "矩阵")]}), 200),
    # --- visits ---
    "list_visits": Op(_get("/api/visits"), 200),
    "list_supervision": Op(_get("/api/supervision"), 200),  # each role the orders on the cases it sees
    "get_risk_rules": Op(_get("/api/risk-rules"), 200),
    "set_risk_rules": Op(
        _call("PUT", "/api/risk-rules", {"rules": [{"kind": "level", "level": "big", "risk": "red"}]}),
        200,
        roles=COUNTY,
    ),
    "get_visit": Op(_get("/api/visits/{w.visit_id}"), 200, sees=SEES_VISIT),
    "record_visit": Op(
        _call(
            "POST",
            "/api/visits/{w.visit_id}/record",
            {"method": "phone", "satisfaction": "satisfied", "notes": "电话回访"},
        ),
        200,
        sees=SEES_VISIT,
        # They see the case, but are not on the visit.
        ok_for={"grid": (403, "auth.forbidden"), "tianyuan_leader": (403, "auth.forbidden")},
    ),
    "list_visit_policies": Op(_get("/api/visit-policies"), 200),
    "set_visit_policy": Op(
        _call("PUT", "/api/visit-policies", {"level": "small", "offsets_days": [7]}), 200, COUNTY
    ),
    "delete_visit_policy": Op(_call("DELETE", "/api/visit-policies", {"level": "small"}), 200, COUNTY),
    # --- notify ---
    "list_inbox": Op(_get("/api/inbox"), 200),
    "read_all_notifications": Op(_call("POST", "/api/inbox/read-all"), 200),
    "read_notification": Op(_call("POST", "/api/inbox/{w.notification_id}/read"), 200, owner_only=True),
    "events": Op(_get("/api/events"), 200, stream=True),
    "push_key": Op(_get("/api/push/key"), 200),
    "list_push_subscriptions": Op(_get("/api/push/subscriptions"), 200),
    "create_push_subscription": Op(
        _call(
            "POST",
            "/api/push/subscriptions",
            lambda w, r: {"endpoint": _endpoint(r), "keys": SUBSCRIPTION_KEYS},
        ),
        201,
    ),
    "delete_push_subscription": Op(
        _call("DELETE", "/api/push/subscriptions", lambda w, r: {"endpoint": _endpoint(r)}), 204
    ),
    # --- reports ---
    "get_dashboard": Op(_get("/api/reports/dashboard"), 200),  # each role's own figures
    "get_report": Op(
        _get("/api/reports/daily"),
        200,
        # A team leader: the team's cases; a leader (包案领导): its area's, read-only.
        frozenset({"county", "tianyuan", "kasi", "leader1", "tianyuan_leader"}),
        forbidden="report.forbidden",
    ),
    "get_statistics": Op(
        _get("/api/reports/statistics"),
        200,
        frozenset({"county", "tianyuan", "kasi", "tianyuan_leader"}),
        forbidden="report.forbidden",
    ),
    # 关庙社区's team: its leader, 田园镇 and the county file; each role its own past month (no case then).
    "file_zero_report": Op(
        _call(
            "POST",
            "/api/teams/{w.extra[team_id]}/zero-reports",
            lambda w, r: {"month": f"2024-{ROLES.index(r) + 1:02d}" if r in ROLES else "2024-12"},
        ),
        201,
        frozenset({"county", "tianyuan", "kasi", "leader1"}),
        frozenset({"county", "tianyuan", "leader1"}),
        not_found="people.team_not_found",
        forbidden="report.zero_forbidden",
    ),
}

# Operations a role calls on objects made for it (each run needs a fresh one).
FRESH_PER_ROLE = {"record_visit", "remove_team_member"}


def _operation_ids(app) -> set[str]:
    schema = app.openapi_schema.to_schema()
    return {
        op["operationId"] for ops in schema["paths"].values() for op in ops.values() if "operationId" in op
    }


def test_every_operation_of_the_api_is_in_the_matrix(app):
    """A new route fails here until the table says who may call it and what it is scoped by."""
    assert _operation_ids(app) == set(MATRIX)


async def _world(client) -> World:
    """A closed case of 关庙社区 with a photo, its return visit and agreement; a notification for
    mediator1; the active grid generation; a spare session of mediator2."""
    from backend.grids.tables import GridGeneration

    world = World()
    world.photo_bytes = jpeg()
    world.photo = sha(world.photo_bytes)
    upload = await client.put(
        f"/api/media/{world.photo}", content=world.photo_bytes, headers=await auth(client, "mediator1")
    )
    assert upload.status_code == 201, upload.text
    case = await close_case_at(client, datetime.now(SHANGHAI), photos=[world.photo])
    world.case_id, world.visit_id = case["id"], case["visits"][0]["id"]
    # A case the township assigns to mediator1: a notification in mediator1's inbox.
    mediator = await tokens_for(client, "mediator1")
    assigned = await make_case(client, "tianyuan")
    mine = {"team_id": mediator["user"]["team"]["id"], "mediator_id": mediator["user"]["id"]}
    assert (await act(client, "tianyuan", assigned["id"], "assign", **mine)).status_code == 200
    inbox = (await client.get("/api/inbox", headers=bearer(mediator))).json()["items"]
    world.notification_id, world.notification_owner = inbox[0]["id"], "mediator1"
    world.open_case_id = assigned["id"]
    assert (await act(client, "leader1", assigned["id"], "accept")).status_code == 200  # in mediation
    active = await GridGeneration.select(GridGeneration.id).where(GridGeneration.active == True).first().run()  # noqa: E712
    world.generation_id = active["id"]
    world.device_id = (await login(client, "mediator2"))["device_id"]
    # An account of 关庙社区 to administer (not one the matrix signs in as), signed in on a phone.
    county = await tokens_for(client, "county")
    target = await make_user(client, county, scope_code=GUANMIAO)
    world.extra["user_id"] = target["id"]
    world.extra["target_device"] = (await login(client, target["username"], target["password"]))["device_id"]
    world.extra["team_id"] = mediator["user"]["team"]["id"]
    added = await client.post(
        f"/api/admin/teams/{world.extra['team_id']}/members",
        json={"name": "矩阵待删", "kind": "老干部"},
        headers=bearer(county),
    )
    world.extra["member_id"] = next(m["id"] for m in added.json()["members"] if m["name"] == "矩阵待删")
    world.extra["roster"] = roster([], [])
    screening = await client.post(
        "/api/screenings",
        json={
            "village_code": GUANMIAO,
            "month": datetime.now(SHANGHAI).strftime("%Y-%m"),
            "households_visited": 3,
        },
        headers=bearer(mediator),
    )
    assert screening.status_code == 201, screening.text
    world.extra["screening_id"] = screening.json()["id"]
    return world


async def _headers(client, role: str, grid_worker: dict) -> dict[str, str]:
    if role == "grid":
        return bearer(grid_worker)
    return await auth(client, role)


def _expected(op: Op, role: str, world: World) -> tuple[int, str | None]:
    if role not in op.roles:
        return 403, op.forbidden
    sees = frozenset({world.notification_owner}) if op.owner_only else op.sees
    if sees is not None and role not in sees:
        return 404, op.not_found
    return op.ok_for.get(role, (op.ok, None))


async def _answer(client, method: str, url: str, kwargs: dict[str, Any], headers: dict[str, str]):
    response = await client.request(method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
    is_json = response.content and response.headers.get("content-type", "").startswith("application/json")
    body = response.json() if is_json else None
    return response.status_code, (body.get("code") if isinstance(body, dict) else None)


@pytest.fixture(scope="session")
async def template(databases, template):
    """The demo plus the world, made once per run: each test gets a copy (most operations change it)."""
    import httpx

    from backend.app import create_app
    from backend.settings import get_settings, load_settings
    from tests import factories

    async def seed(url: str) -> dict:
        factories.forget_sessions()  # made while another test's sessions may be remembered
        transport = httpx.ASGITransport(app=create_app(load_settings(), manage_database=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            world = await _world(client)
        factories.forget_sessions()
        # The photo's files: each test starts with an empty media directory (tests/conftest.py).
        media = get_settings().media_dir
        files = {path.relative_to(media): path.read_bytes() for path in media.rglob("*") if path.is_file()}
        return {"world": world, "media": files}

    return await databases.derive(template, "matrix", seed)


@pytest.fixture
def world(template, database) -> World:
    """This test's copy of the world, its photo back on disk."""
    from backend.settings import get_settings

    media = get_settings().media_dir
    for relative, content in template.data["media"].items():
        (media / relative).parent.mkdir(parents=True, exist_ok=True)
        (media / relative).write_bytes(content)
    return copy.deepcopy(template.data["world"])


@pytest.mark.parametrize("operation_id", sorted(MATRIX))
async def test_operation_answers_each_role_by_role_and_scope(client, world, operation_id):
    op = MATRIX[operation_id]
    if operation_id == "delete_category":
        world.extra["category"] = (
            await client.post(
                "/api/categories",
                json={"code": "matrixdel", "name": "待删类别", "national_category": "其他纠纷"},
                headers=await auth(client, "county"),
            )
        ).json()["code"]

    method, url, kwargs = op.request(world, "anonymous")
    if op.public:
        assert (await _answer(client, method, url, kwargs, {}))[0] == op.ok
        return
    assert await _answer(client, method, url, dict(kwargs), {}) == (
        401,
        "auth.required" if method != "HEAD" else None,
    )

    county = await tokens_for(client, "county")
    worker = await make_user(client, county, scope_code=GUANMIAO)
    grid_worker = await login(client, worker["username"], password=worker["password"])
    expected, actual = {}, {}
    for role in ROLES:
        want = _expected(op, role, world)
        if op.stream and want[0] < 400:
            continue
        if operation_id in FRESH_PER_ROLE:
            world = await _world(client)
        method, url, kwargs = op.request(world, role)
        got = await _answer(client, method, url, kwargs, await _headers(client, role, grid_worker))
        expected[role] = want
        actual[role] = got if want[1] is not None else (got[0], None)
    assert actual == expected
