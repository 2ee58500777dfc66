"""Leader accounts (包案领导): the county office makes them for the county or a township, with no team;
a township supervisor manages field accounts only."""

from __future__ import annotations

from tests.factories import bearer, login, make_user, tokens_for

COUNTY = "530524000000"
TIANYUAN = "530524101000"


async def _create(client, who: str, **fields):
    body = {
        "username": "lead" + fields.pop("suffix", "x"),
        "display_name": "测试领导",
        "password": "correct-horse-9",
        "role": "leader",
        **fields,
    }
    return await client.post("/api/admin/users", json=body, headers=bearer(await tokens_for(client, who)))


async def test_the_county_makes_county_and_township_leaders_who_sign_in_as_such(client):
    county = await tokens_for(client, "county")
    for scope, level in ((COUNTY, "county"), (TIANYUAN, "township")):
        made = await make_user(client, county, role="leader", scope_code=scope)
        me = (
            await client.get(
                "/api/me", headers=bearer(await login(client, made["username"], made["password"]))
            )
        ).json()
        assert (me["role"], me["role_label"], me["scope"]["level"], me["team"]) == (
            "leader",
            "包案领导",
            level,
            None,
        )


async def test_a_leader_has_no_team_no_village_and_is_not_a_township_supervisors_to_make(client):
    village = await _create(client, "county", suffix="v", scope_code="530524101001")
    assert (village.status_code, village.json()["code"]) == (400, "people.invalid_area")
    teams = (await client.get("/api/teams", headers=bearer(await tokens_for(client, "mediator1")))).json()
    with_team = await _create(client, "county", suffix="t", scope_code=TIANYUAN, team_id=teams[0]["id"])
    assert (with_team.status_code, with_team.json()["code"]) == (400, "people.team_not_allowed")
    township = await _create(client, "tianyuan", suffix="s", scope_code=TIANYUAN)
    assert (township.status_code, township.json()["code"]) == (403, "people.role_not_allowed")
