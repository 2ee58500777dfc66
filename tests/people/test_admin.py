"""County administration of accounts, teams and devices; nobody else may do it."""

from __future__ import annotations

import pytest

from tests.factories import bearer, login, make_user


@pytest.mark.parametrize("username", ["mediator1", "leader1"])
async def test_field_accounts_may_not_administer(client, username):
    tokens = await login(client, username)
    for method, path, body in [
        (
            "POST",
            "/api/admin/users",
            {
                "username": "x12",
                "display_name": "x",
                "password": "long-enough-1",
                "role": "mediator",
                "scope_code": "530524101001",
            },
        ),
        ("POST", "/api/admin/teams", {"name": "某某红色调解队"}),
        ("GET", "/api/admin/users", None),
        ("GET", "/api/admin/devices", None),
        ("POST", "/api/admin/devices/00000000-0000-0000-0000-000000000000/revoke", None),
    ]:
        response = await client.request(method, path, json=body, headers=bearer(tokens))
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "auth.forbidden"


async def test_a_township_supervisor_administers_only_field_accounts_of_the_township(client):
    tianyuan = await login(client, "tianyuan")
    base = {"display_name": "新队员", "password": "long-enough-1", "role": "grid_worker"}
    inside = await client.post(
        "/api/admin/users",
        json={**base, "username": "gw101", "scope_code": "530524101002"},
        headers=bearer(tianyuan),
    )
    assert inside.status_code == 201, inside.text
    assert inside.json()["township"] == {"code": "530524101000", "name": "田园镇"}
    other_township = await client.post(
        "/api/admin/users",
        json={**base, "username": "gw104", "scope_code": "530524104201"},
        headers=bearer(tianyuan),
    )
    assert other_township.status_code == 403
    assert other_township.json()["code"] == "people.role_not_allowed"
    supervisor = await client.post(
        "/api/admin/users",
        json={**base, "username": "sup2", "role": "township_supervisor", "scope_code": "530524101000"},
        headers=bearer(tianyuan),
    )
    assert supervisor.status_code == 403
    assert supervisor.json()["code"] == "people.role_not_allowed"
    team = await client.post(
        "/api/admin/teams",
        json={"name": "卡斯镇新调解队", "township_code": "530524104000"},
        headers=bearer(tianyuan),
    )
    assert team.status_code == 403
    assert team.json()["code"] == "people.role_not_allowed"


async def test_county_creates_a_grid_worker_who_can_sign_in(client):
    admin = await login(client, "county")
    user = await make_user(
        client, admin, display_name="罗光荣", role="grid_worker", scope_code="530524104202"
    )
    assert user["role_label"] == "网格员"
    assert user["scope"] == {"level": "village", "code": "530524104202", "name": "新谷村民委员会"}
    tokens = await login(client, user["username"], user["password"])
    assert tokens["user"]["display_name"] == "罗光荣"


async def test_user_validation_errors_have_codes(client):
    admin = await login(client, "county")
    base = {
        "username": "newuser1",
        "display_name": "新用户",
        "password": "long-enough-1",
        "role": "township_supervisor",
    }
    # A township supervisor must be scoped to a township, not a village.
    r = await client.post(
        "/api/admin/users", json={**base, "scope_code": "530524101001"}, headers=bearer(admin)
    )
    assert r.status_code == 400 and r.json()["code"] == "people.invalid_area"
    # Unknown division code.
    r = await client.post(
        "/api/admin/users", json={**base, "scope_code": "530524199000"}, headers=bearer(admin)
    )
    assert r.status_code == 400 and r.json()["code"] == "people.invalid_area"
    # A mediator needs a team.
    r = await client.post(
        "/api/admin/users",
        json={**base, "role": "mediator", "scope_code": "530524101001"},
        headers=bearer(admin),
    )
    assert r.status_code == 400 and r.json()["code"] == "people.team_required"
    # Short password, bad username: the shared account rules, each with its code.
    r = await client.post(
        "/api/admin/users",
        json={**base, "password": "short", "scope_code": "530524101000"},
        headers=bearer(admin),
    )
    assert r.status_code == 400 and r.json()["code"] == "auth.weak_password"
    r = await client.post(
        "/api/admin/users",
        json={**base, "username": "有空格 的名字", "scope_code": "530524101000"},
        headers=bearer(admin),
    )
    assert r.status_code == 400 and r.json()["code"] == "people.invalid_username"


async def test_duplicate_username_is_409(client):
    admin = await login(client, "county")
    user = await make_user(client, admin)
    r = await client.post(
        "/api/admin/users",
        json={
            "username": user["username"],
            "display_name": "重名",
            "password": "long-enough-1",
            "role": "grid_worker",
            "scope_code": "530524101001",
        },
        headers=bearer(admin),
    )
    assert r.status_code == 409 and r.json()["code"] == "people.username_taken"


async def test_county_creates_a_team_with_villages_and_members(client):
    admin = await login(client, "county")
    body = {
        "name": "卡斯镇联合红色调解队",
        "township_code": "530524104000",
        "village_codes": ["530524104202", "530524104203"],
        "members": [
            {"name": "字学文", "kind": "老干部", "is_leader": True},
            {"name": "施玉兰", "kind": "律师"},
        ],
    }
    r = await client.post("/api/admin/teams", json=body, headers=bearer(admin))
    assert r.status_code == 201, r.text
    team = r.json()
    assert team["township"]["name"] == "卡斯镇"
    assert [v["code"] for v in team["villages"]] == ["530524104202", "530524104203"]
    assert team["leader"] == "字学文"
    assert {m["kind"] for m in team["members"]} == {"老干部", "律师"}
    # A village of another township is refused.
    r = await client.post(
        "/api/admin/teams",
        json={**body, "name": "错误的调解队", "village_codes": ["530524101001"]},
        headers=bearer(admin),
    )
    assert r.status_code == 400 and r.json()["code"] == "people.invalid_area"
    # Member kinds are the five the county uses.
    r = await client.post(
        "/api/admin/teams",
        json={"name": "另一支队", "members": [{"name": "某人", "kind": "志愿者"}]},
        headers=bearer(admin),
    )
    assert r.status_code == 400


async def test_demo_has_125_teams_one_per_village_plus_the_county_legal_team(database):
    from backend.demo import loader as demo
    from backend.people.tables import Team, TeamVillage

    expected = {name: code for code, name in demo.team_names(demo.read_divisions()).items()}
    assert len(expected) == 124 and "更戛乡小街子红色调解队" in expected
    teams = (
        await Team.select(Team.id, Team.name).where(Team.name.is_in([*expected, demo.LEGAL_TEAM_NAME])).run()
    )
    assert len(teams) == 125
    served = (
        await TeamVillage.select(TeamVillage.team.name, TeamVillage.village_code)
        .where(TeamVillage.team.is_in([t["id"] for t in teams]))
        .run()
    )
    assert {r["team.name"]: r["village_code"] for r in served} == expected


async def test_demo_is_idempotent(database):
    from backend.demo import loader as demo
    from backend.people.tables import Team, TeamMember, User

    before = (await User.count(), await Team.count(), await TeamMember.count())
    await demo.load_demo()
    assert (await User.count(), await Team.count(), await TeamMember.count()) == before
