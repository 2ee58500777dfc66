"""Closing a case schedules its return visits by the policy, in Asia/Shanghai dates, in scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backend.core import clock
from backend.visits import jobs
from tests.factories import auth
from tests.notify.support import close_case_at, inbox_items

SHANGHAI = clock.LOCAL_TZ


async def test_small_case_gets_one_visit_a_week_after_closing_assigned_to_its_mediator(client):
    case = await close_case_at(client, datetime(2027, 1, 5, 10, 0, tzinfo=SHANGHAI))
    [visit] = case["visits"]
    assert visit["due_date"] == "2027-01-12" and visit["offset_days"] == 7
    assert (visit["seq"], visit["of_total"], visit["round"]) == (1, 1, 1)
    assert visit["assignee"]["name"] == "王德明"  # mediator1, who closed it
    with clock.frozen(datetime(2027, 1, 6, tzinfo=UTC)):
        mine = await client.get("/api/visits", params={"mine": 1}, headers=await auth(client, "mediator1"))
    assert visit["id"] in [v["id"] for v in mine.json()["items"]]
    [listed] = mine.json()["items"]
    assert listed["status"] == "scheduled" and listed["case_number"] == case["number"]


async def test_hard_and_big_cases_get_more_visits(client):
    closed_at = datetime(2027, 1, 6, 9, 0, tzinfo=SHANGHAI)
    hard = await close_case_at(client, closed_at, level="hard")
    big = await close_case_at(client, closed_at, level="big")
    assert [v["due_date"] for v in hard["visits"]] == ["2027-01-13", "2027-02-05"]
    assert [v["due_date"] for v in big["visits"]] == ["2027-01-13", "2027-02-05", "2027-04-06"]
    assert [v["seq"] for v in big["visits"]] == [1, 2, 3] and {v["of_total"] for v in big["visits"]} == {3}


async def test_due_dates_are_shanghai_dates(client):
    # 17:30 UTC on 7 January is 01:30 on 8 January in Changning: the visit counts from the 8th.
    case = await close_case_at(client, datetime(2027, 1, 7, 17, 30, tzinfo=UTC))
    assert case["visits"][0]["due_date"] == "2027-01-15"


async def test_a_visit_due_on_1_december_is_due_from_midnight_in_shanghai_not_utc(client):
    case = await close_case_at(client, datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))
    [visit] = case["visits"]
    assert visit["due_date"] == "2026-12-01"
    assert datetime.fromisoformat(visit["due_from"]) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    headers = await auth(client, "mediator1")

    async def seen(at: datetime, **params) -> dict | None:
        with clock.frozen(at):
            page = await client.get("/api/visits", params={"mine": 1, **params}, headers=headers)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        assert [v["id"] for v in items] in ([], [visit["id"]])  # the test's one visit, or nothing
        return items[0] if items else None

    before = datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)
    at_midnight = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert (await seen(before))["status"] == "scheduled"
    assert await seen(before, status="due") is None
    assert (await seen(at_midnight))["status"] == "due"
    assert (await seen(at_midnight, status="due"))["status_label"] == "今日到期"
    # due_before counts Shanghai days, whether given as a time or a date.
    assert await seen(before, due_before="2026-11-30T15:59:59Z") is None
    assert await seen(before, due_before="2026-11-30T16:00:00Z") is not None
    assert await seen(before, due_before="2026-11-30") is None
    assert await seen(before, due_before="2026-12-01") is not None
    assert (await seen(datetime(2026, 12, 1, 16, 0, tzinfo=UTC)))["status"] == "overdue"

    # The reminder fires at 08:30 local on the due date (00:30 UTC), not at UTC midnight + 08:30.
    async def reminded_at(at: datetime) -> list[dict]:
        with clock.frozen(at):
            await jobs.remind()
        return await inbox_items(client, "mediator1")

    assert await reminded_at(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == []
    assert await reminded_at(datetime(2026, 12, 1, 0, 29, tzinfo=UTC)) == []
    [reminder] = await reminded_at(datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert reminder["kind"] == "visit_due" and case["number"] in reminder["title"]
    assert reminder["visit_id"] == visit["id"]


async def test_policy_per_level_and_category(client):
    admin = await auth(client, "county")
    response = await client.put(
        "/api/visit-policies",
        json={"level": "small", "category": "neighbour", "offsets_days": [3, 15]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    rules = {(r["level"], r["category"]): r for r in response.json()}
    assert rules[("small", "neighbour")]["offsets_days"] == [3, 15]
    assert rules[("small", None)] == {
        "level": "small",
        "category": None,
        "offsets_days": [7],
        "source": "default",
    }
    refused = await client.put(
        "/api/visit-policies",
        json={"level": "small", "offsets_days": [3]},
        headers=await auth(client, "tianyuan"),
    )
    assert refused.status_code == 403
    bad = await client.put(
        "/api/visit-policies", json={"level": "small", "offsets_days": [30, 7]}, headers=admin
    )
    assert bad.status_code == 400 and bad.json()["code"] == "visit.invalid_policy"

    at = datetime(2027, 1, 9, 10, 0, tzinfo=SHANGHAI)
    neighbour = await close_case_at(client, at, category="neighbour")
    other = await close_case_at(client, at, category="agriculture")
    assert [v["offset_days"] for v in neighbour["visits"]] == [3, 15]
    assert [v["offset_days"] for v in other["visits"]] == [7]
    # The rule can be removed again.
    removed = await client.request(
        "DELETE", "/api/visit-policies", json={"level": "small", "category": "neighbour"}, headers=admin
    )
    assert removed.status_code == 200, removed.text
    listed = await client.get("/api/visit-policies", headers=admin)
    assert ("small", "neighbour") not in {(r["level"], r["category"]) for r in listed.json()}


async def test_visits_are_scoped_like_their_cases(client):
    case = await close_case_at(client, datetime(2027, 1, 10, 10, 0, tzinfo=SHANGHAI))
    visit_id = case["visits"][0]["id"]
    for username, visible in (
        ("mediator1", True),
        ("leader1", True),
        ("tianyuan", True),
        ("county", True),
        ("kasi", False),  # another township's supervisor
        ("mediator2", False),  # another team
    ):
        headers = await auth(client, username)
        one = await client.get(f"/api/visits/{visit_id}", headers=headers)
        assert one.status_code == (200 if visible else 404), (username, one.text)
        page = await client.get("/api/visits", params={"case": case["id"], "status": "all"}, headers=headers)
        assert (visit_id in [v["id"] for v in page.json()["items"]]) is visible, username
        assert [v["id"] for v in page.json()["items"]] == ([visit_id] if visible else []), username


async def test_paging_and_filters(client):
    at = datetime(2027, 1, 11, 10, 0, tzinfo=SHANGHAI)
    for _ in range(3):
        await close_case_at(client, at)
    headers = await auth(client, "mediator1")
    seen: list[str] = []
    cursor = None
    with clock.frozen(at + timedelta(days=1)):
        while True:
            params = {"mine": 1, "limit": 2, "due_before": "2027-01-18"}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/visits", params=params, headers=headers)).json()
            seen += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        dues = [
            date.fromisoformat(v["due_date"])
            for v in (
                await client.get("/api/visits", params={"mine": 1, "limit": 500}, headers=headers)
            ).json()["items"]
        ]
    assert len(seen) == len(set(seen)) == 3
    assert dues == sorted(dues)
    bad = await client.get("/api/visits", params={"status": "someday"}, headers=headers)
    assert bad.status_code == 400
