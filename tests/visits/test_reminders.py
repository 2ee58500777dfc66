"""The reminder job: due today → assignee; 1 day late → assignee again; 3 days late → team leader and
township supervisor; exactly once per visit and stage, however often and however many run it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from backend.core import clock
from backend.notify.tables import Notification
from backend.visits import jobs
from backend.visits.tables import Visit
from tests.factories import act, make_case
from tests.notify.support import close_case_at, inbox_items

SHANGHAI = clock.LOCAL_TZ


async def run_at(at: datetime) -> jobs.RemindResult:
    with clock.frozen(at):
        return await jobs.remind()


async def told(client, username: str, visit_id: str) -> list[str]:
    """The kinds of everything in the user's inbox, all of which must be about the visit."""
    items = await inbox_items(client, username)
    assert [n["visit_id"] for n in items] == [visit_id] * len(items), items
    return sorted(n["kind"] for n in items)


async def test_each_stage_reaches_the_right_people_once(client):
    case = await close_case_at(client, datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI))
    vid = case["visits"][0]["id"]
    assert case["visits"][0]["due_date"] == "2027-03-08"

    await run_at(datetime(2027, 3, 8, 8, 29, tzinfo=SHANGHAI))
    assert await told(client, "mediator1", vid) == []
    await run_at(datetime(2027, 3, 8, 8, 30, tzinfo=SHANGHAI))
    await run_at(datetime(2027, 3, 8, 9, 0, tzinfo=SHANGHAI))
    assert await told(client, "mediator1", vid) == ["visit_due"]
    [due] = await inbox_items(client, "mediator1")
    assert due["urgency"] == "normal" and due["url"] == f"/visits/{vid}" and "2027-03-08" in due["body"]

    await run_at(datetime(2027, 3, 9, 8, 30, tzinfo=SHANGHAI))
    assert await told(client, "mediator1", vid) == ["visit_due", "visit_overdue"]
    overdue, _due = await inbox_items(client, "mediator1")  # newest first
    assert overdue["kind"] == "visit_overdue"
    assert overdue["urgency"] == "high"
    assert await told(client, "leader1", vid) == [] and await told(client, "tianyuan", vid) == []

    await run_at(datetime(2027, 3, 11, 8, 29, tzinfo=SHANGHAI))
    assert await told(client, "leader1", vid) == []
    await run_at(datetime(2027, 3, 11, 8, 30, tzinfo=SHANGHAI))
    await run_at(datetime(2027, 3, 20, 8, 30, tzinfo=SHANGHAI))
    assert await told(client, "leader1", vid) == ["visit_escalated"]
    assert await told(client, "tianyuan", vid) == ["visit_escalated"]
    assert await told(client, "mediator1", vid) == ["visit_due", "visit_overdue"]
    row = (
        await Visit.select(Visit.reminder_stage, Visit.next_reminder_at).where(Visit.id == vid).first().run()
    )
    assert row == {"reminder_stage": 3, "next_reminder_at": None}


async def test_a_job_that_was_down_sends_the_latest_stage_not_every_stage(client):
    case = await close_case_at(client, datetime(2027, 3, 2, 10, 0, tzinfo=SHANGHAI))
    vid = case["visits"][0]["id"]
    await run_at(datetime(2027, 3, 12, 9, 0, tzinfo=SHANGHAI))  # due on the 9th, three days late
    assert await told(client, "mediator1", vid) == ["visit_overdue"]
    assert await told(client, "leader1", vid) == ["visit_escalated"]


async def test_two_workers_at_once_create_each_reminder_once(client):
    cases = [await close_case_at(client, datetime(2027, 3, 3, 10, 0, tzinfo=SHANGHAI)) for _ in range(3)]
    ids = [c["visits"][0]["id"] for c in cases]
    with clock.frozen(datetime(2027, 3, 10, 8, 30, tzinfo=SHANGHAI)):
        results = await asyncio.gather(jobs.remind(batch=1), jobs.remind(batch=1), jobs.remind())
    rows = await Notification.select(Notification.visit_id).run()
    assert sorted(str(r["visit_id"]) for r in rows) == sorted(ids)
    written = [n for r in results for n in r.notifications]
    assert len(written) == len(set(written))


async def test_a_recorded_visit_is_not_reminded(client):
    case = await close_case_at(client, datetime(2027, 3, 4, 10, 0, tzinfo=SHANGHAI))
    vid = case["visits"][0]["id"]
    from tests.factories import auth

    done = await client.post(
        f"/api/visits/{vid}/record",
        json={"method": "phone", "satisfaction": "satisfied"},
        headers=await auth(client, "mediator1"),
    )
    assert done.status_code == 200
    await run_at(datetime(2027, 3, 20, 9, 0, tzinfo=SHANGHAI))
    assert await told(client, "mediator1", vid) == [] and await told(client, "leader1", vid) == []


async def test_mediation_deadline_in_three_days_is_told_once(client):
    accepted_at = datetime(2027, 4, 1, 10, 0, tzinfo=SHANGHAI)
    with clock.frozen(accepted_at):
        case = await make_case(client, "mediator1")
        assert (await act(client, "leader1", case["id"], "accept")).json()["state"] == "mediating"

    await run_at(accepted_at + timedelta(days=26, hours=23))
    assert await inbox_items(client, "mediator1") == []
    await run_at(accepted_at + timedelta(days=27, hours=1))
    await run_at(accepted_at + timedelta(days=28))
    [note] = await inbox_items(client, "mediator1")
    assert (note["kind"], note["case_id"]) == ("case_deadline", case["id"])
    assert "2027-05-01" in note["body"]
