"""督办 in the app: the township supervisor issues an order from the case; the team leader's phone signs
for it with no signal (the outbox sends it later) and reports; the supervisor finds it under 待验收 and
accepts it. Screenshots go to test-artifacts/supervision-*.png."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from backend.core import clock
from tests.e2e.conftest import screenshot_path
from tests.e2e.test_field_journey import READ_OUTBOX, wait_controlled
from tests.e2e.test_roles_journeys import DESKTOP, new_case, server_case, sign_in, until_sent
from tests.factories import act, auth

pytestmark = [pytest.mark.e2e, pytest.mark.server, pytest.mark.slow]


@pytest.fixture
async def api(live_server):
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        yield client


@pytest.fixture
async def desktop(browser, live_server):
    context = await browser.new_context(
        viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai", base_url=live_server
    )
    page = await context.new_page()
    yield page
    await context.close()


async def test_issue_acknowledge_offline_report_accept(phone, desktop, api):
    case = await new_case(api, "mediator1", title="果园灌溉用水纠纷")
    assert (await act(api, "leader1", case["id"], "accept")).status_code == 200
    due = (clock.local_now().date() + timedelta(days=5)).isoformat()

    # The supervisor issues the order from the case.
    await sign_in(desktop, "tianyuan", synced=False)
    await desktop.goto(f"/cases/{case['id']}")
    await desktop.get_by_test_id("act-supervise").click()
    await desktop.get_by_test_id("sv-instruction").fill("三日内组织双方现场协商，回复调解方案")
    await desktop.get_by_test_id("sv-due").fill(due)
    await desktop.screenshot(path=screenshot_path("supervision-01-issue"))
    await desktop.get_by_test_id("act-submit").click()
    await desktop.get_by_test_id("case-supervision").wait_for()
    await until_sent(desktop)
    assert (await server_case(api, case["id"]))["supervision"] == "issued"

    # The team leader's phone has it after its sync; it signs with no signal.
    page = phone
    await sign_in(page, "leader1")
    await wait_controlled(page)
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_test_id("supervision-status").filter(has_text="待签收").wait_for(timeout=30_000)
    await page.context.set_offline(True)
    await page.get_by_test_id("act-acknowledge_supervision").click()
    assert "三日内组织双方现场协商" in await page.get_by_test_id("sv-order").inner_text()
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("supervision-unsent").wait_for()
    await page.screenshot(path=screenshot_path("supervision-02-acknowledged-offline"), full_page=True)
    outbox = await page.evaluate(READ_OUTBOX)
    assert [(row[0], row[1]) for row in outbox if row[1] != "done"] == [("case.action", "waiting")]
    assert (await server_case(api, case["id"]))["supervision"] == "issued"  # nothing sent yet

    await page.context.set_offline(False)
    await until_sent(page)
    assert (await server_case(api, case["id"]))["supervision"] == "acknowledged"
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_test_id("act-report_supervision").click()
    await page.get_by_test_id("sv-report").fill("已组织双方到果园现场协商，约定轮流灌溉")
    await page.get_by_test_id("act-submit").click()
    await page.get_by_test_id("case-detail").wait_for()
    await until_sent(page)

    # The supervisor finds it waiting for acceptance and accepts it.
    await desktop.goto("/supervision")
    await desktop.get_by_test_id("sv-tab-awaiting").click()
    item = desktop.get_by_test_id("sv-item").filter(has_text="果园灌溉用水纠纷")
    await item.wait_for()
    assert "约定轮流灌溉" in await item.inner_text()
    await desktop.screenshot(path=screenshot_path("supervision-03-awaiting"))
    await item.click()
    await desktop.get_by_test_id("act-accept_supervision").click()
    await desktop.get_by_test_id("act-submit").click()
    await desktop.get_by_test_id("case-detail").wait_for()
    await until_sent(desktop)
    done = await server_case(api, case["id"])
    assert done["supervision"] is None
    [order] = done["supervision_orders"]
    assert order["status"] == "accepted" and order["report"] == "已组织双方到果园现场协商，约定轮流灌溉"
    await desktop.goto(f"/cases/{case['id']}")
    await desktop.get_by_test_id("supervision-status").filter(has_text="已验收").wait_for(timeout=30_000)
    await desktop.screenshot(path=screenshot_path("supervision-04-accepted"), full_page=True)


async def test_the_map_risk_layer(desktop, api):
    from tests.e2e.test_supervisor_journey import map_ready, shown_count, shown_ids
    from tests.factories import TIANYUAN_POINT

    calm = await new_case(api, "mediator1", TIANYUAN_POINT, title="邻里占道", parties=[])
    away = (TIANYUAN_POINT[0] + 0.004, TIANYUAN_POINT[1] + 0.003)
    threat = await new_case(api, "mediator1", away, category="labour", title="工地讨薪扬言上访", parties=[])
    assert (calm["risk"], threat["risk"]) == ("green", "red")

    await sign_in(desktop, "tianyuan", synced=False)
    await desktop.goto("/map")
    await map_ready(desktop)
    assert await shown_ids(desktop) == {calm["id"], threat["id"]}
    await desktop.get_by_test_id("filter-risk-red").click()
    await desktop.wait_for_function(
        "() => +document.querySelector('[data-testid=map-count]').dataset.count === 1"
    )
    assert await shown_ids(desktop) == {threat["id"]} and await shown_count(desktop) == 1
    await desktop.screenshot(path=screenshot_path("supervision-05-map-risk-red"))
    # The case shows its colour and why.
    await desktop.goto(f"/cases/{threat['id']}")
    assert await desktop.get_by_test_id("case-risk").inner_text() == "红色风险"
    await desktop.screenshot(path=screenshot_path("supervision-06-case-risk"))


async def test_the_map_counts_deadlines_down(desktop, api):
    """An overdue case's marker is red with the days it is late, one near its deadline amber with the
    days left; the cell's list says the same."""
    from backend.cases.tables import Case
    from tests.e2e.test_supervisor_journey import map_ready
    from tests.factories import TIANYUAN_POINT

    late = await new_case(api, "mediator1", title="逾期未结的纠纷", parties=[])
    near = await new_case(
        api, "mediator1", (TIANYUAN_POINT[0] + 0.004, TIANYUAN_POINT[1] + 0.003), title="将到期", parties=[]
    )
    for case in (late, near):
        assert (await act(api, "leader1", case["id"], "accept")).status_code == 200
    # The 30 days have run (the server's clock is real: move the deadlines instead).
    now = clock.now()
    await Case.update({Case.deadline: now - timedelta(days=2, hours=1)}).where(Case.id == late["id"]).run()
    await Case.update({Case.deadline: now + timedelta(days=3, hours=1)}).where(Case.id == near["id"]).run()

    await sign_in(desktop, "tianyuan", synced=False)
    await desktop.goto("/map")
    await map_ready(desktop)
    marker = desktop.locator(f'.leaflet-marker-icon[title^="{late["number"]}"]')
    badge = marker.locator("[data-deadline]")
    assert await badge.get_attribute("data-deadline") == "red"
    assert await badge.inner_text() == "逾期 2 天"
    assert "逾期 2 天" in await marker.get_attribute("title")
    colour = await badge.evaluate("e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(198, 40, 40)"  # red
    near_badge = desktop.locator(f'.leaflet-marker-icon[title^="{near["number"]}"] [data-deadline]')
    assert (await near_badge.get_attribute("data-deadline"), await near_badge.inner_text()) == (
        "yellow",
        "剩 3 天",
    )
    await desktop.screenshot(path=screenshot_path("supervision-08-map-countdown"))


async def test_the_county_edits_the_risk_rules_in_the_console(desktop, api):
    await sign_in(desktop, "county", synced=False)
    await desktop.goto("/admin/risk-rules")
    rows = desktop.get_by_test_id("risk-row")
    await rows.first.wait_for()
    before = await rows.count()
    await desktop.get_by_test_id("risk-add-keywords").click()
    await rows.nth(before).get_by_test_id("risk-text").fill("讨薪，欠薪")
    await rows.nth(before).get_by_test_id("risk-colour").select_option("red")
    # 劳动仲裁 with more than 30,000 yuan in dispute: yellow. A bad threshold is caught before saving.
    await desktop.get_by_test_id("risk-add-amount").click()
    await rows.nth(before + 1).get_by_test_id("risk-amount-cats").select_option(["labour"])
    await rows.nth(before + 1).get_by_test_id("risk-amount").fill("三万")
    await desktop.get_by_test_id("risk-save").click()
    assert "金额门槛应为大于 0 的元数" in await desktop.get_by_test_id("risk-error").inner_text()
    await rows.nth(before + 1).get_by_test_id("risk-amount").fill("30000")
    await desktop.get_by_test_id("risk-save").click()
    await desktop.get_by_test_id("risk-notice").wait_for()
    await desktop.screenshot(path=screenshot_path("supervision-07-risk-rules"), full_page=True)
    saved = (await api.get("/api/risk-rules", headers=await auth(api, "county"))).json()["rules"]
    assert saved[-2] == {"kind": "keywords", "words": ["讨薪", "欠薪"], "risk": "red"}
    assert saved[-1] == {"kind": "amount", "categories": ["labour"], "over_yuan": 30000.0, "risk": "yellow"}
    case = await new_case(api, "mediator1", title="工地欠薪", category="labour", parties=[])
    assert (case["risk"], case["risk_reason"]) == ("red", "含“欠薪”")
    wages = await new_case(api, "mediator1", title="工程款", category="labour", amount_yuan=45000, parties=[])
    assert wages["risk"] == "yellow" and "涉及金额超过30,000元" in wages["risk_reason"]
