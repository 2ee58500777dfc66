"""月排查's reminder: from the 25th, the leaders of a team with villages still not screened this month
are told which, once per team and month; a team that screened them all, or another team, is not."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from backend.grids.tables import Division
from backend.people.tables import TeamVillage, User
from backend.screenings.reminders import screening_reminders
from tests.factories import bearer, login, make_user, tokens_for
from tests.notify.support import inbox_items
from tests.screenings.test_screenings import KASI_VILLAGE, MEDIATOR1_VILLAGE, post, report

SHANGHAI = clock.LOCAL_TZ


def at(day: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=SHANGHAI)


async def _second_village() -> tuple[str, str]:
    """Another village of 田园镇 given to leader1's team too: (code, name)."""
    team = (await User.select(User.team).where(User.username == "leader1").first().run())["team"]
    other = (
        await Division.select(Division.code, Division.name)
        .where(
            (Division.parent_code == "530524101000")
            & (Division.level == "village")
            & (Division.code != MEDIATOR1_VILLAGE)
        )
        .order_by(Division.code)
        .first()
        .run()
    )
    await TeamVillage.insert(TeamVillage(team=team, village_code=other["code"])).run()
    return other["code"], other["name"]


async def _missing(client, username: str | dict) -> list[dict]:
    if isinstance(username, dict):
        response = await client.get("/api/inbox", params={"limit": 200}, headers=username)
        items = response.json()["items"]
    else:
        items = await inbox_items(client, username)
    return [n for n in items if n["kind"] == "screening_missing"]


async def test_a_team_short_of_its_round_is_told_once_from_the_25th(client):
    _, name = await _second_village()
    with clock.frozen(at(3)):
        assert (await post(client, "mediator1", report(month="2026-12"))).status_code == 201
    # Before the 25th: no reminder.
    with clock.frozen(at(24)):
        assert await screening_reminders() == []
    assert await _missing(client, "leader1") == []
    with clock.frozen(at(25)):
        written = await screening_reminders()
        assert written
        assert await screening_reminders() == []  # re-run: nothing new
    with clock.frozen(at(28)):
        assert await screening_reminders() == []  # later days of the month: still once
    [note] = await _missing(client, "leader1")
    assert note["title"] == "本月排查未完成：关庙社区红色调解队"
    assert f"还有 1 个村（社区）未上报排查：{name}" in note["body"] and "2026-12" in note["body"]
    assert note["url"] == "/screenings"
    # A mediator of the team is not the one told; nor is a township supervisor.
    assert await _missing(client, "mediator1") == []
    assert await _missing(client, "tianyuan") == []
    # Next month, the same team short again: told again, once.
    with clock.frozen(at(26, 1).replace(year=2027)):
        assert await screening_reminders()
        assert await screening_reminders() == []
    assert len(await _missing(client, "leader1")) == 2


async def test_a_team_that_screened_every_village_is_not_told(client):
    village, _ = await _second_village()
    # Another township's team, with a leader account, that has not screened: told, and only it.
    kasi_team = (
        await TeamVillage.select(TeamVillage.team)
        .where(TeamVillage.village_code == KASI_VILLAGE)
        .first()
        .run()
    )["team"]
    admin = await tokens_for(client, "county")
    kasi_leader = await make_user(
        client, admin, role="team_leader", scope_code=KASI_VILLAGE, team_id=kasi_team, display_name="卡斯队长"
    )
    kasi_headers = bearer(await login(client, kasi_leader["username"], kasi_leader["password"]))
    with clock.frozen(at(20)):
        for v in (MEDIATOR1_VILLAGE, village):
            response = await post(client, "leader1", report(village=v, month="2026-12", found=[]))
            assert response.status_code == 201, response.text
    with clock.frozen(at(27)):
        assert await screening_reminders()
    assert await _missing(client, "leader1") == []
    [kasi_note] = await _missing(client, kasi_headers)
    assert kasi_note["title"].startswith("本月排查未完成：")
    assert "关庙" not in kasi_note["body"]
