"""The mediation deadline counts down: yellow with 7 days left, red when overdue (the extension
honoured); the team leader is reminded at 7 and at 1 day left, once each."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.core import clock
from backend.notify.deadlines import leader_reminders
from tests.factories import act, auth, make_case
from tests.notify.support import inbox_items

SHANGHAI = clock.LOCAL_TZ
ACCEPTED = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)  # deadline 2026-12-02 10:00


async def countdown(client, case_id: str, at: datetime) -> tuple[str | None, int | None]:
    with clock.frozen(at):
        detail = (await client.get(f"/api/cases/{case_id}", headers=await auth(client, "leader1"))).json()
    return detail["deadline_colour"], detail["days_left"]


async def accepted_case(client) -> dict:
    with clock.frozen(ACCEPTED):
        case = await make_case(client, "mediator1", occurred_at="2026-11-01T09:00:00+08:00")
        assert (await act(client, "leader1", case["id"], "accept")).status_code == 200
    return case


async def test_the_countdown_turns_yellow_then_red_and_honours_the_extension(client):
    case = await accepted_case(client)
    assert await countdown(client, case["id"], ACCEPTED) == ("green", 30)
    assert await countdown(client, case["id"], ACCEPTED + timedelta(days=23)) == ("yellow", 7)
    assert await countdown(client, case["id"], ACCEPTED + timedelta(days=30, minutes=1)) == ("red", 0)
    with clock.frozen(ACCEPTED + timedelta(days=25)):
        extended = await act(client, "leader1", case["id"], "extend_deadline", days=15, reason="双方同意延期")
        assert extended.status_code == 200
    assert await countdown(client, case["id"], ACCEPTED + timedelta(days=31)) == ("green", 14)
    # Settled: no countdown.
    with clock.frozen(ACCEPTED + timedelta(days=32)):
        await act(
            client,
            "mediator1",
            case["id"],
            "resolve",
            agreement={"facts": "占道", "matters": "通道", "terms": "清走建材", "performance": "当场履行"},
        )
    assert await countdown(client, case["id"], ACCEPTED + timedelta(days=60)) == (None, None)


async def test_the_team_leader_is_reminded_at_7_and_1_days_left(client):
    case = await accepted_case(client)

    async def remind(at: datetime) -> int:
        with clock.frozen(at):
            return len(await leader_reminders())

    assert await remind(ACCEPTED + timedelta(days=22, hours=23)) == 0  # 7 days and an hour left
    assert await remind(ACCEPTED + timedelta(days=23, hours=1)) == 1
    assert await remind(ACCEPTED + timedelta(days=25)) == 0  # told once
    assert await remind(ACCEPTED + timedelta(days=29, hours=1)) == 1
    assert await remind(ACCEPTED + timedelta(days=29, hours=5)) == 0
    notes = await inbox_items(client, "leader1")
    assert [(n["kind"], n["title"][:8], n["urgency"]) for n in notes] == [
        ("case_deadline_leader", "调解期限还剩1天", "high"),
        ("case_deadline_leader", "调解期限还剩7天", "normal"),
    ]
    assert all(n["case_id"] == case["id"] and "2026-12-02 10:00" in n["body"] for n in notes)
    assert [n for n in await inbox_items(client, "mediator1") if n["kind"] == "case_deadline_leader"] == []


async def test_a_case_already_reminded_costs_no_lookup_on_the_next_runs(client, monkeypatch):
    # The job runs every few minutes over every case due within 7 days (hundreds in a county): one
    # already told at this stage must not send it looking for its team leaders again.
    from backend.notify import recipients

    case = await accepted_case(client)
    at = ACCEPTED + timedelta(days=23, hours=1)
    with clock.frozen(at):
        assert len(await leader_reminders()) == 1
    looked_up: list[int | None] = []
    real = recipients.team_leaders

    async def counting(team_id):
        looked_up.append(team_id)
        return await real(team_id)

    monkeypatch.setattr(recipients, "team_leaders", counting)
    with clock.frozen(at + timedelta(hours=2)):
        assert await leader_reminders() == []
    assert looked_up == []
    with clock.frozen(ACCEPTED + timedelta(days=29, hours=1)):  # the 1-day stage is new: looked up, told
        assert len(await leader_reminders()) == 1
    assert looked_up == [case["owner_team"]["id"]]
