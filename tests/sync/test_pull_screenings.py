"""The sync pull carries the team's 月排查 reports of this month as reference data, so a phone offline
knows which villages its team screened already (from any of the team's phones); only the user's own
team's, and sent again only when they changed."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from backend.people.tables import TeamVillage
from tests.factories import auth, bearer, login, make_user, tokens_for
from tests.screenings.test_screenings import KASI_VILLAGE, MEDIATOR1_VILLAGE, post, report

SHANGHAI = clock.LOCAL_TZ
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)


async def _pull(client, headers: dict, ref: str | None = None) -> dict:
    params = {"limit": 200, **({"ref": ref} if ref else {})}
    response = await client.get("/api/sync/pull", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_team_member_pulls_the_team_s_screenings_of_the_month(client):
    with clock.frozen(NOW):
        sent = await post(client, "mediator1", report(found=[]))
        assert sent.status_code == 201, sent.text
        kasi = await post(client, "mediator2", report(village=KASI_VILLAGE))
        assert kasi.status_code == 201, kasi.text
        # The leader's phone, which did not send it, sees it.
        page = await _pull(client, await auth(client, "leader1"))
    part = page["reference"]["screenings"]
    assert part["data"]["month"] == "2026-11"
    assert [(s["id"], s["village_code"], s["found"]) for s in part["data"]["items"]] == [
        (sent.json()["id"], MEDIATOR1_VILLAGE, [])
    ]
    assert page["reference_versions"]["screenings"] == part["version"]

    # Known already: not sent again, until the team reports another village.
    with clock.frozen(NOW):
        again = await _pull(client, await auth(client, "leader1"), ref=f"screenings:{part['version']}")
    assert "screenings" not in (again["reference"] or {})
    # Next month the part starts empty (another version).
    with clock.frozen(datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)):
        december = await _pull(client, await auth(client, "leader1"), ref=f"screenings:{part['version']}")
    assert december["reference"]["screenings"]["data"] == {"month": "2026-12", "items": []}


async def test_only_the_user_s_own_team(client):
    with clock.frozen(NOW):
        assert (await post(client, "mediator1", report(found=[]))).status_code == 201
    # Another team of the same township, another township's team, and a supervisor: none of it.
    other_village = (
        await TeamVillage.select(TeamVillage.team, TeamVillage.village_code)
        .where(TeamVillage.village_code.like("530524101%") & (TeamVillage.village_code != MEDIATOR1_VILLAGE))
        .first()
        .run()
    )
    admin = await tokens_for(client, "county")
    neighbour = await make_user(
        client,
        admin,
        role="mediator",
        scope_code=other_village["village_code"],
        team_id=other_village["team"],
    )
    neighbour_headers = bearer(await login(client, neighbour["username"], neighbour["password"]))
    with clock.frozen(NOW):
        for headers in (neighbour_headers, await auth(client, "mediator2"), await auth(client, "tianyuan")):
            part = (await _pull(client, headers))["reference"]["screenings"]
            assert part["data"] == {"month": "2026-11", "items": []}
