"""月排查 lists the month's 督办 orders as they stood then: those issued in the month and those still
open at its end, with the status at the month's end (not now), in the reader's scope."""

from __future__ import annotations

from datetime import datetime

from backend.core import clock
from tests.factories import act, auth
from tests.supervision.test_orders import mediating_case as _mediating_case
from tests.supervision.test_orders import supervise

SHANGHAI = clock.LOCAL_TZ


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SHANGHAI)


async def mediating_case(client, title: str) -> dict:
    return await _mediating_case(client, title=title, occurred_at="2026-09-01T09:00:00+08:00")


async def step(client, when: datetime, username: str, case_id: str, action: str, **body) -> None:
    with clock.frozen(when):
        done = await act(client, username, case_id, action, **body)
        assert done.status_code == 200, done.text


async def monthly(client, username: str, day: str) -> dict[str, dict]:
    with clock.frozen(at(12, 1)):
        response = await client.get(
            "/api/reports/monthly", params={"date": day}, headers=await auth(client, username)
        )
    assert response.status_code == 200, response.text
    [section] = [s for s in response.json()["sections"] if s["key"] == "supervision"]
    return {r["title"]: r for r in section["rows"]}


async def test_each_month_lists_its_orders_as_they_stood_at_its_end(client):
    # Issued in September, accepted in October: in neither month's list (not issued, not open at the end).
    with clock.frozen(at(9, 28)):
        done_early = await mediating_case(client, title="九月督办十月验收")
        await supervise(client, done_early["id"], due="2026-10-03")
    await step(client, at(9, 29), "leader1", done_early["id"], "acknowledge_supervision")
    await step(client, at(10, 2), "leader1", done_early["id"], "report_supervision", text="已办")
    await step(client, at(10, 5), "tianyuan", done_early["id"], "accept_supervision")
    # Issued in October, acknowledged, past its due date at the month's end; reported and accepted in
    # November.
    with clock.frozen(at(10, 20)):
        late = await mediating_case(client, title="十月督办跨月")
        await supervise(client, late["id"], due="2026-10-28")
    await step(client, at(10, 21), "leader1", late["id"], "acknowledge_supervision")
    await step(client, at(10, 30), "leader1", late["id"], "report_supervision", text="第一次回复")
    await step(client, at(10, 31, 10), "tianyuan", late["id"], "return_supervision", reason="须当面调解")
    await step(client, at(11, 5), "leader1", late["id"], "report_supervision", text="第二次回复")
    await step(client, at(11, 6), "tianyuan", late["id"], "accept_supervision")
    # Issued and accepted in November.
    with clock.frozen(at(11, 3)):
        quick = await mediating_case(client, title="十一月督办已验收")
        await supervise(client, quick["id"], due="2026-11-20", username="county")
    await step(client, at(11, 3, 15), "leader1", quick["id"], "acknowledge_supervision")
    await step(client, at(11, 10), "leader1", quick["id"], "report_supervision", text="已调解")
    await step(client, at(11, 12), "county", quick["id"], "accept_supervision")
    # Issued in November and never acknowledged.
    with clock.frozen(at(11, 25)):
        silent = await mediating_case(client, title="十一月督办未签收")
        await supervise(client, silent["id"], due="2026-12-20")

    october = await monthly(client, "tianyuan", "2026-10-15")
    assert sorted(october) == ["十月督办跨月"]
    row = october["十月督办跨月"]
    # At 31 Oct it had been sent back (so in work again) and was past its due date: red, though it
    # was accepted since.
    assert (row["status"], row["red"], row["issued_at"], row["due_date"]) == (
        "办理中",
        "已超办理期限",
        "2026-10-20",
        "2026-10-28",
    )
    assert row["issued_by"] == "李春华" and row["township"] == "田园镇"

    november = await monthly(client, "tianyuan", "2026-11-15")
    assert sorted(november) == ["十一月督办已验收", "十一月督办未签收"]
    assert (november["十一月督办已验收"]["status"], november["十一月督办已验收"]["red"]) == ("已验收", "")
    assert november["十一月督办已验收"]["issued_by"] == "段志明"
    assert (november["十一月督办未签收"]["status"], november["十一月督办未签收"]["red"]) == (
        "待签收",
        "超24小时未签收",
    )
    # Red first.
    assert list(november)[0] == "十一月督办未签收"

    # The current month (December, generated on the 1st): only what is still open now.
    december = await monthly(client, "tianyuan", "2026-12-01")
    assert sorted(december) == ["十一月督办未签收"]


async def test_another_township_s_orders_are_not_in_the_list(client):
    with clock.frozen(at(11, 3)):
        case = await mediating_case(client, title="田园镇的督办")
        await supervise(client, case["id"])
    assert sorted(await monthly(client, "tianyuan", "2026-11-15")) == ["田园镇的督办"]
    assert sorted(await monthly(client, "county", "2026-11-15")) == ["田园镇的督办"]
    assert await monthly(client, "kasi", "2026-11-15") == {}
    # The county asking for another township's report does not get this one either.
    with clock.frozen(at(12, 1)):
        other = await client.get(
            "/api/reports/monthly",
            params={"date": "2026-11-15", "township": "530524104000"},
            headers=await auth(client, "county"),
        )
    [section] = [s for s in other.json()["sections"] if s["key"] == "supervision"]
    assert section["rows"] == []
